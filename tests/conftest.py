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


@pytest.fixture
def synthetic_one_thread():
    """The training engine's synthetic plugins registered, on one intra-op thread (tiny
    convolutions only lose with more threads on a busy CPU)."""
    import torch

    from specinpaint.training.synthetic import synthetic_plugins

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with synthetic_plugins():
            yield
    finally:
        torch.set_num_threads(threads)
