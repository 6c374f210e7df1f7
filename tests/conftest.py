"""Shared fixtures. Fakes (the ``fakes`` package beside this file) are registered in-process only for
the tests that ask."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def fake_plugins():
    """Register the test fakes for one test, then remove them again (registry isolation)."""
    from fakes import register
    from fakes.spine import FAKES

    with register(FAKES):
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


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a whole module, restored afterwards: tiny models (small convolutions,
    token-by-token sampling) only lose with more threads contending on a shared CPU. Modules use it
    with ``pytestmark = pytest.mark.usefixtures("one_thread")``; fixtures ask for it by name."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture
def synthetic_one_thread(one_thread):
    """The training engine's synthetic plugins registered, on one intra-op thread."""
    from fakes.training import synthetic_plugins

    with synthetic_plugins():
        yield
