"""The import rules of docs/architecture.md, checked on every module of the package (``ast``: lazy
imports inside functions count too).

* ``core`` imports no other room.
* Plugin rooms (``representations``, ``quantizers``, ``priors``, ``metrics``, ``data``) import only
  ``core``, the neutral shared room (every plugin, a third party's too, is written against it).
* ``editing`` imports only ``core`` (it edits any pipeline, whatever its plugins).
* ``training`` imports ``core`` and the plugin rooms; ``studies`` those and ``editing``/``training``;
  ``app`` may import every room. Nothing imports a room above it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NEUTRAL = {"core"}
PLUGIN_ROOMS = ("representations", "quantizers", "priors", "metrics", "data")
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    **{room: NEUTRAL for room in PLUGIN_ROOMS},
    "editing": NEUTRAL,
    "training": NEUTRAL | set(PLUGIN_ROOMS),
    "studies": NEUTRAL | set(PLUGIN_ROOMS) | {"editing", "training"},
    "app": NEUTRAL | set(PLUGIN_ROOMS) | {"editing", "training", "studies"},
}
ROOMS = set(ALLOWED)
#: Justified exceptions, "room/file.py -> room": none today.
EXCEPTIONS: set[str] = set()


def project_imports(path: Path, room: str, root: Path = ROOT) -> set[str]:
    """The rooms a module imports (``specinpaint.<room>``, ``from specinpaint import <room>`` and
    relative imports that climb out of its own room)."""
    depth = len(path.relative_to(root / room).parts)  # 1 for room/x.py, 2 for room/sub/x.py
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
                modules = [f"{base}.{alias.name}" for alias in node.names] if base == "specinpaint" else [base]
            elif node.level > depth:  # from ..other import x: leaves this room
                modules = [f"specinpaint.{node.module or node.names[0].name}"]
        for module in modules:
            parts = module.split(".")
            if parts[0] == "specinpaint" and len(parts) > 1 and parts[1] in ROOMS and parts[1] != room:
                found.add(parts[1])
    return found


def violations(room: str) -> list[str]:
    out = []
    for path in sorted((ROOT / room).rglob("*.py")):
        for other in sorted(project_imports(path, room) - ALLOWED[room]):
            edge = f"{path.relative_to(ROOT).as_posix()} -> {other}"
            if edge not in EXCEPTIONS:
                out.append(edge)
    return out


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_room_imports_only_what_the_rules_allow(room):
    assert violations(room) == []


def test_every_room_of_the_package_has_a_rule():
    """A new room must be placed in the rules (and in docs/architecture.md)."""
    import re

    text = (ROOT / "pyproject.toml").read_text()
    rooms = set(re.findall(r'^"specinpaint\.(\w+)" = ', text, re.M)) - {"configs"}
    assert rooms == ROOMS
    assert all(f"`{room}/`" in (ROOT / "docs" / "architecture.md").read_text() for room in ROOMS)


def test_the_checker_sees_every_import_form(tmp_path):
    room = tmp_path / "metrics"
    (room / "sub").mkdir(parents=True)
    (room / "a.py").write_text("from specinpaint.training import engine\n")
    (room / "b.py").write_text("def f():\n    import specinpaint.priors.base\n")
    (room / "c.py").write_text("from specinpaint import editing\nfrom .pitch import x\n")
    (room / "sub" / "d.py").write_text("from ...app import cli\nfrom .. import spectral\n")
    got = {p.name: project_imports(p, "metrics", tmp_path) for p in sorted(room.rglob("*.py"))}
    assert got == {"a.py": {"training"}, "b.py": {"priors"}, "c.py": {"editing"}, "d.py": {"app"}}
