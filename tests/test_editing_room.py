"""The editing room's boundaries: `Pipeline` composes and encodes/decodes only (no mixin, no
editing methods), the editing room imports nothing of the project but `core`, and `core` never
imports it."""

from __future__ import annotations

import ast
from pathlib import Path

from torch import nn

from specinpaint.core.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent


def _project_imports(folder: str) -> dict[str, set[str]]:
    """File → the ``specinpaint.*`` modules it imports (relative imports resolved to the room)."""
    out = {}
    for path in sorted((ROOT / folder).glob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    names.add(f"specinpaint.{folder}")
                elif node.module:
                    names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        out[path.name] = {n for n in names if n.startswith("specinpaint")}
    return out


def test_pipeline_has_no_editing_code_and_no_mixin():
    assert Pipeline.__mro__ == (Pipeline, nn.Module, object)
    for name in ("generate", "inpaint", "attenuate", "sample_pack", "encode_long", "decode_long", "region_masks",
                 "check_codes", "window_seconds", "level_ratios", "bin_frequencies"):
        assert not hasattr(Pipeline, name), name
    text = (ROOT / "core" / "pipeline.py").read_text()
    assert "type: ignore" not in text and "Region" not in text


def test_editing_imports_only_core_and_core_never_imports_editing():
    for name, modules in _project_imports("editing").items():
        outside = {m for m in modules if not m.startswith(("specinpaint.core", "specinpaint.editing"))}
        assert not outside, f"editing/{name} imports {sorted(outside)}"
    for name, modules in _project_imports("core").items():
        assert not {m for m in modules if not m.startswith("specinpaint.core")}, f"core/{name} imports {modules}"
