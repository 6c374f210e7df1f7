"""Run a batched CPU transform on slices of the batch.

Why: on CPU these transforms are memory-bound. A batch of 64 notes makes every intermediate complex
spectrogram ~67 MB; slices of ~4 notes keep them near the caches and let the allocator reuse blocks
(measured: docs/results/measurements-from-docstrings.md).
On GPUs the whole batch is processed at once.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

CPU_CHUNK_ELEMENTS = 1 << 19  # complex STFT values per slice (~4 notes of 1025 × 128)


def notes_per_chunk(values_per_note: int) -> int:
    return max(1, CPU_CHUNK_ELEMENTS // max(1, values_per_note))


def in_chunks(
    fn: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor], batch: torch.Tensor, values_per_note: int
) -> torch.Tensor:
    """``fn(batch, None)``, computed slice by slice along dim 0 on CPU when the batch is large.

    ``fn(part, out)`` gets the slice of the result it computes (``None`` for the first slice, whose
    result fixes the shape): writing into it saves a fresh temporary and a copy per slice; whatever it
    returns instead is copied there."""
    size = notes_per_chunk(values_per_note)
    if batch.device.type != "cpu" or batch.shape[0] <= size:
        return fn(batch, None).contiguous()  # ``fn`` may return a permuted view
    out = None
    start = 0
    for part in batch.split(size):
        stop = start + part.shape[0]
        target = None if out is None else out[start:stop]
        result = fn(part, target)
        if out is None:
            out = result.new_empty((batch.shape[0], *result.shape[1:]))
            target = out[start:stop]
        if result is not target:
            target.copy_(result)
        start = stop
    return out
