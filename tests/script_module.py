"""Load one of the repository's tool scripts (``scripts/*.py``, ``benchmarks/compare.py``) as a
module, so tests can call its functions (they are tools, not part of the installed package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_script(name: str, folder: str = "scripts") -> ModuleType:
    """``<folder>/<name>.py`` of the repository as a fresh module named ``name`` (registered in
    ``sys.modules`` first: dataclasses resolve their annotations through it)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / folder / f"{name}.py")
    assert spec is not None and spec.loader is not None, name
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
