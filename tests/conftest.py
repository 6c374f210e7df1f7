"""Shared fixtures. Fakes (tests/_fakes.py) are registered in-process only for the tests that ask."""

from __future__ import annotations

import contextlib

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
