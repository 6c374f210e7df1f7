"""The quantizer's training spectrograms, computed once and kept in memory.

The representation (STFT, mel projection, instantaneous frequency) is fixed, so every epoch of
quantizer training recomputes the same spectrograms; at the CPU sizes that is about a third of a
training step (docs/results/quality-cpu.md, section 20.1). With
``training.quantizer.cache_spectrograms`` the task computes each training note's normalised
spectrogram once, after the normaliser is fitted and only when training steps remain, and each
batch reads them from here. The stored tensors are exactly those a batch would compute (the same
function on the same audio), so a cached run learns what an uncached one learns, up to the batch
composition of floating-point sums. Memory: notes × channels × rows × frames × 4 bytes per process
(1.35 GiB for tiny.yaml's 5 536 notes); a cache that would take more than half of the memory this
machine (or its container) has, counting every process of this node, is not built: training then
computes each batch's spectrograms, as without the setting, and says so in the log.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from .batches import eval_batches

log = logging.getLogger(__name__)

#: Notes per batch while the cache is filled.
FILL_BATCH_SIZE = 16
#: The largest share of the machine's (or its container's) memory this node's caches may take.
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


def available_memory_bytes() -> int | None:
    """The machine's physical memory, or its container's limit when lower (cgroup v2 or v1); None
    where the platform says neither."""
    sizes = []
    try:
        sizes.append(int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES")))
    except (AttributeError, ValueError, OSError):
        pass
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            sizes.append(int(text))
    return min(sizes) if sizes else None


def cache_bytes(notes: int, shape: Sequence[int]) -> int:
    """Bytes of a float32 cache of ``notes`` spectrograms of ``shape``."""
    return notes * 4 * math.prod(int(n) for n in shape)


def cache_fits(size: int, *, memory: int | None = None, processes: int | None = None) -> bool:
    """Whether ``processes`` caches of ``size`` bytes (default: this node's torchrun processes,
    ``LOCAL_WORLD_SIZE``) take at most `MAX_MEMORY_SHARE` of ``memory`` (default: this machine's);
    True when the memory is unknown."""
    memory = available_memory_bytes() if memory is None else memory
    processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1")) if processes is None else processes
    return memory is None or size * max(processes, 1) <= MAX_MEMORY_SHARE * memory


def cache_spectrograms(
    dataset: Dataset,
    collate: Callable[[Any], Any],
    spectrogram: Callable[[torch.Tensor], torch.Tensor],
    device: torch.device,
) -> CachedSpectrograms | None:
    """Every note of ``dataset`` (collated by ``collate`` into batches with an ``audio`` field)
    through ``spectrogram`` on ``device``, kept on the CPU in float32; None (logged) when such a
    cache would not fit in memory (`cache_fits`, checked after the first batch gives the shape)."""
    notes = len(dataset)  # type: ignore[arg-type]
    batches = eval_batches(dataset, collate, batch_size=FILL_BATCH_SIZE, max_batches=-(-notes // FILL_BATCH_SIZE),
                           rank=0, world_size=1)
    store: torch.Tensor | None = None
    filled = 0
    with torch.no_grad():
        for batch in batches:
            spec = spectrogram(batch.audio.to(device)).float().cpu()
            if store is None:
                size = cache_bytes(notes, spec.shape[1:])
                if not cache_fits(size):
                    log.warning("training.quantizer.cache_spectrograms: %d spectrograms of %s need %.1f GiB per "
                                "process, more than %d %% of this machine's memory; each batch computes its "
                                "spectrograms instead", notes, list(spec.shape[1:]), size / 2**30,
                                round(100 * MAX_MEMORY_SHARE))
                    return None
                store = torch.empty((notes, *spec.shape[1:]), dtype=torch.float32)
            store[filled:filled + len(spec)] = spec
            filled += len(spec)
    if store is None or filled != notes:
        raise ValueError(f"the spectrogram cache holds {filled} of {notes} notes")
    log.info("spectrogram cache: %d notes, %.2f GiB", notes, store.numel() * 4 / 2**30)
    return CachedSpectrograms(dataset, store)
