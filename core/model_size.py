"""Refuse absurd model sizes before any memory is allocated.

Why: a typo such as ``quantizer.params.num_codes=100000000000`` otherwise ends in an allocator
traceback, or, for sizes the kernel lets through lazily, in the process being killed for memory
half-way through initialisation. The plugin is first built on PyTorch's ``meta`` device (shapes
only, no storage) and its parameters and buffers are counted. A plugin that cannot be built on
``meta`` is not estimated; its real build still turns an allocation failure into one line.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

from .errors import ConfigError

#: Parameters + buffers one plugin may hold (2**32 elements = 16 GiB as float32).
DEFAULT_MAX_ELEMENTS = 2**32
LIMIT_ENV = "SPECINPAINT_MAX_MODEL_ELEMENTS"

M = TypeVar("M", bound=nn.Module)


def max_model_elements() -> int:
    """The limit: ``$SPECINPAINT_MAX_MODEL_ELEMENTS`` when set, else `DEFAULT_MAX_ELEMENTS`."""
    raw = os.environ.get(LIMIT_ENV)
    if raw is None:
        return DEFAULT_MAX_ELEMENTS
    try:
        return int(float(raw))
    except ValueError:
        raise ConfigError(f"{LIMIT_ENV}={raw!r}: expected a number of elements") from None


def count_elements(module: nn.Module) -> int:
    return sum(t.numel() for t in (*module.parameters(), *module.buffers()))


def _is_allocation_error(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and ("alloc" in str(exc).lower() or "out of memory" in str(exc).lower())
    )


def build_checked(build: Callable[[], M], where: str) -> M:
    """``build()``, after checking on the meta device that the module stays under the limit.
    ``where`` names the config section (and file) in the one-line `ConfigError`."""
    limit = max_model_elements()
    try:
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            estimate = count_elements(build())
    except Exception:  # not buildable on meta (e.g. copies data out of a tensor): not estimated
        estimate = None
    if estimate is not None and estimate > limit:
        raise ConfigError(
            f"{where}: the model would hold {estimate:.3g} parameters and buffers "
            f"({estimate * 4 / 2**30:.3g} GiB as float32); the limit is {limit:.3g} (set {LIMIT_ENV} to change it)"
        )
    try:
        return build()
    except (MemoryError, RuntimeError) as exc:
        if not _is_allocation_error(exc):
            raise
        raise ConfigError(f"{where}: not enough memory to build the model ({type(exc).__name__})") from None
