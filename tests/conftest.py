"""Shared fixtures. Fakes (tests/_fakes.py) are registered in-process only for the tests that ask."""

from __future__ import annotations

import contextlib
import os

import pytest

from specinpaint.core.registry import registry


@pytest.fixture
def fake_plugins():
    """Register the test fakes for one test, then remove them again (registry isolation)."""
    from _fakes import FAKES

    with contextlib.ExitStack() as stack:
        for kind, plugins in FAKES.items():
            for name, cls in plugins.items():
                stack.enter_context(registry(kind).register(name, cls))
        yield FAKES


@pytest.fixture(autouse=True, scope="session")
def _private_render_cache(tmp_path_factory):
    """Renders made by tests go to a per-session folder, never into the user's ~/.cache."""
    if os.environ.get("SPECINPAINT_CACHE_DIR"):
        yield
        return
    patch = pytest.MonkeyPatch()
    patch.setenv("SPECINPAINT_CACHE_DIR", str(tmp_path_factory.mktemp("specinpaint-cache")))
    yield
    patch.undo()
