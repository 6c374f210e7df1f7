"""Reusable scratch buffers for the no-gradient CPU fast paths.

Why: on CPU these transforms are memory-bound, and a fresh ~1.5–3 MB temporary per step and chunk is
often handed back to the OS by the allocator and page-faulted in (zero-filled by the kernel) again on
the next chunk; on a busy or virtualised machine the faults cost as much as the arithmetic. Buffers
here live as long as their owner and are reused by every chunk and call. They are per thread, so
concurrent calls on one module never share scratch memory; results returned to callers are always
fresh tensors, never these buffers.
"""

from __future__ import annotations

import threading

import torch


class Workspace:
    """``get(name, shape, dtype, device)``: an uninitialised buffer, the same one on every call with the
    same name, shape, dtype and device from the same thread."""

    def __init__(self) -> None:
        self._local = threading.local()

    def get(self, name: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        buffers: dict[str, torch.Tensor] = self._local.__dict__.setdefault("buffers", {})
        buffer = buffers.get(name)
        if buffer is None or buffer.shape != shape or buffer.dtype != dtype or buffer.device != device:
            buffer = buffers[name] = torch.empty(shape, dtype=dtype, device=device)
        return buffer

    def __getstate__(self) -> dict:
        return {}  # buffers are scratch: copies and pickles start empty

    def __setstate__(self, state: dict) -> None:
        self._local = threading.local()

    def clear(self) -> None:
        """Drop this thread's buffers (e.g. after a one-off large batch)."""
        self._local.__dict__.pop("buffers", None)
