"""The wheel holds every room under the `specinpaint` namespace and imports on its own."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


# what a fresh clone does not have: a build/ left by an earlier build still holds modules that were
# moved or deleted since, and setuptools would pack them again
NOT_IN_A_CLONE = (".git", ".venv", "build", "dist", "outputs", "*.egg-info", "__pycache__", ".pytest_cache",
                  ".ruff_cache", ".benchmarks")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    source = tmp_path_factory.mktemp("source") / "specinpaint"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_IN_A_CLONE))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True, capture_output=True,
    )
    (path,) = out.glob("specinpaint-*.whl")
    return path


def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in (
        "specinpaint/__init__.py", "specinpaint/core/__init__.py", "specinpaint/core/registry.py",
        "specinpaint/representations/__init__.py", "specinpaint/quantizers/__init__.py",
        "specinpaint/priors/__init__.py", "specinpaint/app/cli.py", "specinpaint/configs/tiny.yaml",
        "specinpaint/configs/paper.yaml",
    ):
        assert module in names, module
    assert not any(n.startswith(("core/", "tests/", "benchmarks/")) for n in names), "global module names leaked"
    dist_info = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    entry_points = zipfile.ZipFile(wheel).read(dist_info).decode()
    assert "[specinpaint.representations]" in entry_points
    assert "specinpaint = specinpaint.app.cli:main" in entry_points


def test_wheel_holds_no_fake_synthetic_or_test_helper_module(wheel):
    """Test doubles live in tests/fakes (shared with benchmarks/), never in the installed package."""
    modules = [n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".py")]
    assert modules, "no modules in the wheel"
    test_only = ("fake", "synthetic", "_fakes", "conftest", "test_", "bench_")
    leaked = [n for n in modules if any(word in n.rsplit("/", 1)[-1] for word in test_only)]
    assert leaked == []
    assert not any("/tests/" in n or "/fakes/" in n for n in modules)


def test_wheel_imports_without_the_source_tree(wheel, tmp_path):
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path / 'site')!r})\n"
        "import specinpaint.core, specinpaint.app.cli\n"
        "print(specinpaint.core.__file__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip().startswith(str(tmp_path / "site"))


def test_docstrings_hold_no_measurement_tables():
    """Measurements live in docs/results/ (a docstring points there in one line)."""
    import ast
    import re

    rooms = ("core", "editing", "app", "training", "studies", "data", "representations", "quantizers", "priors",
             "metrics", "benchmarks")
    measured = re.compile(r"^\s*Measured\b|\b\d+(\.\d+)?\s*(tokens/s|notes/s|ms per)\b", re.M)
    found = []
    for room in rooms:
        for path in sorted((ROOT / room).rglob("*.py")):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    doc = ast.get_docstring(node) or ""
                    rows = [line for line in doc.splitlines() if line.strip().startswith("|") and line.count("|") >= 3]
                    if measured.search(doc) or (rows and path.name != "gm_programs.py"):  # that table is data
                        found.append(f"{path.relative_to(ROOT)}:{getattr(node, 'name', '<module>')}")
    assert found == []
    assert (ROOT / "docs/results/measurements-from-docstrings.md").is_file()


def test_every_module_level_function_and_constant_is_used():
    """Dead code stays out: a module-level function, class or constant of the package that nothing
    else names (code, configs, docs, the web page) is dead (decorated ones are reached through
    their decorator: routes, validators)."""
    import ast
    import re
    from collections import Counter

    rooms = ("core", "editing", "app", "training", "studies", "data", "representations", "quantizers", "priors",
             "metrics", "toolkit")
    texts = [p.read_text(errors="ignore") for p in ROOT.rglob("*")
             if p.suffix in (".py", ".md", ".toml", ".js", ".html", ".yaml", ".sh")
             and not {".venv", "build", ".git"} & set(p.relative_to(ROOT).parts)]
    counts = Counter(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", "\n".join(texts)))
    unused = []
    for room in rooms:
        for path in sorted((ROOT / room).rglob("*.py")):
            for node in ast.parse(path.read_text()).body:
                names = []
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.decorator_list:
                    names = [node.name]
                elif isinstance(node, ast.Assign):
                    names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                unused += [f"{path.relative_to(ROOT)}:{name}" for name in names
                           if not name.startswith("__") and counts[name] <= 1]
    assert unused == []
