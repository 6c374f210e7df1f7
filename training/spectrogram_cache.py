"""The quantizer's training spectrograms, computed once and kept in memory.

The representation (STFT, mel projection, instantaneous frequency) is fixed, so every epoch of
quantizer training recomputes the same spectrograms; at the CPU sizes that is a quarter to a
third of a training step (docs/results/quality-cpu.md, section 20). With
``training.quantizer.cache_spectrograms`` the task computes each training note's normalised
spectrogram once, after the normaliser is fitted, and each batch reads them from here. The
stored tensors are exactly those a batch would compute (the same function on the same audio), so
a cached run learns what an uncached one learns, up to the batch composition of floating-point
sums. Memory: notes × channels × rows × frames × 4 bytes (1.45 GB for tiny.yaml's 5 536 notes);
a cache over half the machine's memory is refused before anything is computed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch.utils.data import Dataset

from specinpaint.core.errors import ConfigError

from .batches import eval_batches

log = logging.getLogger(__name__)

#: Notes per batch while the cache is filled.
FILL_BATCH_SIZE = 16
#: The largest share of the machine's physical memory a cache may take.
MAX_MEMORY_SHARE = 0.5


class CachedSpectrograms(Dataset):
    """A training set whose items also carry their spectrogram (key ``spectrogram``); other
    attributes (``families``, ``pitches`` …) are those of the wrapped set."""

    def __init__(self, dataset: Dataset, spectrograms: torch.Tensor) -> None:
        if len(spectrograms) != len(dataset):  # type: ignore[arg-type]
            raise ValueError(f"{len(spectrograms)} spectrograms for {len(dataset)} notes")  # type: ignore[arg-type]
        self.dataset, self.spectrograms = dataset, spectrograms

    def __len__(self) -> int:
        return len(self.spectrograms)

    def __getitem__(self, index: int) -> Mapping[str, Any]:
        item = dict(self.dataset[index])
        item["spectrogram"] = self.spectrograms[index]
        return item

    def __getattr__(self, name: str) -> Any:
        if name in ("dataset", "spectrograms"):  # not set yet (e.g. while unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.dataset, name)


def physical_memory_bytes() -> int | None:
    """The machine's physical memory, or None where the platform does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def check_cache_fits(notes: int, shape: Sequence[int], *, memory: int | None = None) -> int:
    """The cache's size in bytes; a `ConfigError` naming the setting when it would take more than
    `MAX_MEMORY_SHARE` of the machine's memory (``memory``: bytes, default the machine's)."""
    size = notes * 4
    for n in shape:
        size *= int(n)
    memory = physical_memory_bytes() if memory is None else memory
    if memory is not None and size > MAX_MEMORY_SHARE * memory:
        raise ConfigError(
            f"training.quantizer.cache_spectrograms: {notes} spectrograms of {list(shape)} need "
            f"{size / 2**30:.1f} GiB, more than {MAX_MEMORY_SHARE:.0%} of this machine's {memory / 2**30:.1f} GiB; "
            "set it to false (each batch then computes its spectrograms)"
        )
    return size


def cache_spectrograms(
    dataset: Dataset,
    collate: Callable[[Any], Any],
    spectrogram: Callable[[torch.Tensor], torch.Tensor],
    device: torch.device,
) -> CachedSpectrograms:
    """Every note of ``dataset`` (collated by ``collate`` into batches with an ``audio`` field)
    through ``spectrogram`` on ``device``, kept on the CPU in float32."""
    notes = len(dataset)  # type: ignore[arg-type]
    batches = eval_batches(dataset, collate, batch_size=FILL_BATCH_SIZE, max_batches=-(-notes // FILL_BATCH_SIZE),
                           rank=0, world_size=1)
    store: torch.Tensor | None = None
    filled = 0
    with torch.no_grad():
        for batch in batches:
            spec = spectrogram(batch.audio.to(device)).float().cpu()
            if store is None:
                check_cache_fits(notes, spec.shape[1:])
                store = torch.empty((notes, *spec.shape[1:]), dtype=torch.float32)
            store[filled:filled + len(spec)] = spec
            filled += len(spec)
    if store is None or filled != notes:
        raise ValueError(f"the spectrogram cache holds {filled} of {notes} notes")
    log.info("spectrogram cache: %d notes, %.2f GiB", notes, store.numel() * 4 / 2**30)
    return CachedSpectrograms(dataset, store)
