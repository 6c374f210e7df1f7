"""Test doubles shared by ``tests/`` and ``benchmarks/`` (never installed: not in the wheel).

* :mod:`fakes.spine`: one-level plugins for the registry, config and bundle tests (``FAKES``, ``fake_config``);
* :mod:`fakes.editing`: deterministic two-level plugins for the editing, server and web-app tests;
* :mod:`fakes.training`: small plugins and a tiny VQ-VAE-2 config for the training engine;
* :mod:`fakes.nsynth`: a tiny NSynth-format dataset written to disk (harmonic tones);
* :mod:`fakes.notes`: deterministic instrument-like notes as tensors;
* :mod:`fakes.priors`: tiny prior configurations, random codes, labels and masks.

``register(plugins)`` is the one way to put fakes in the registries for the length of a block.
``tests/conftest.py`` puts ``tests/`` on ``sys.path`` by pytest's rootdir rule; ``benchmarks/conftest.py``
adds it explicitly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from specinpaint.core.registry import registry


@contextlib.contextmanager
def register(plugins: Mapping[str, Mapping[str, type]]) -> Iterator[None]:
    """Register ``{kind: {name: class}}`` in-process for the block, then remove them again. Names
    already registered (an enclosing block) are left as they are."""
    with contextlib.ExitStack() as stack:
        for kind, named in plugins.items():
            for name, cls in named.items():
                if name not in registry(kind):
                    stack.enter_context(registry(kind).register(name, cls))
        yield
