"""Code extraction: run a trained pipeline's quantizer over a dataset split, in order, and write the
codemaps and labels to a `CodeStore` (what the priors train on).

Under torchrun the notes are sharded over the ranks: the single-process batches (``batch_size``
notes in dataset order) are dealt to the ranks in contiguous blocks, rank 0 first, so every rank
encodes exactly the batches one process would; each rank writes its block as a checksummed part
store next to the target, and rank 0 merges the parts in rank order into the final store (then
deletes them). The result is the store a single process writes, in the same order. Every rank
must see the output folder (one machine, or a filesystem shared by the nodes).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from specinpaint.core.errors import DataError
from specinpaint.core.pipeline import Pipeline
from specinpaint.data.code_store import CodeStore, CodeStoreWriter

from .data import AudioCollate
from .distributed import DistContext, resolve_device

log = logging.getLogger(__name__)

#: Codemaps copied per read when rank 0 merges the part stores (bounds its memory).
MERGE_CHUNK = 4096


def shard_range(count: int, batch_size: int, rank: int, world_size: int) -> range:
    """Dataset indices this rank encodes: whole single-process batches, in contiguous blocks."""
    batches = -(-count // batch_size)
    first, last = batches * rank // world_size, batches * (rank + 1) // world_size
    return range(min(first * batch_size, count), min(last * batch_size, count))


def part_dir(out_dir: str | Path, rank: int, world_size: int) -> Path:
    """Where ``rank`` writes its part of the store at ``out_dir`` before rank 0 merges it."""
    out = Path(out_dir)
    return out.with_name(f".{out.name}.part-{rank}-of-{world_size}")


@torch.no_grad()
def extract_codes(
    pipeline: Pipeline,
    dataset: Dataset,
    out_dir: str | Path,
    split: str | None = None,
    *,
    batch_size: int = 32,
    device: str = "auto",
    num_workers: int = 0,
    progress: bool = True,
    meta: dict[str, Any] | None = None,
    ctx: DistContext | None = None,
) -> CodeStore:
    """Encode every item of ``dataset`` (in dataset order) and write the store at ``out_dir``.

    The quantizer runs in eval mode (deterministic nearest codes, codebooks untouched). The store's
    ``meta`` records the pipeline name, what was trained and the split; an existing store at
    ``out_dir`` is replaced only once the new one is complete. With a distributed ``ctx`` every rank
    must call this; the notes are sharded (see the module docstring) and ``ctx.device`` replaces
    ``device``.
    """
    count = len(dataset)  # type: ignore[arg-type]
    if count < 1:
        raise DataError(f"extract-codes: split '{split}' has no notes")
    target = ctx.device if ctx is not None else resolve_device(device)
    info = {
        "pipeline": pipeline.config.name,
        "quantizer": pipeline.config.quantizer.model_dump(mode="json"),
        "quantizer_steps": pipeline.extras.get("trained", {}).get("quantizer", {}).get("steps"),
        "quantizer_date": pipeline.extras.get("trained", {}).get("quantizer", {}).get("date"),
        **(meta or {}),
    }
    show = progress and (ctx is None or ctx.is_main)
    if ctx is None or not ctx.distributed:
        _encode(pipeline, dataset, out_dir, split, info, target, batch_size, num_workers, show)
    else:
        shard = shard_range(count, batch_size, ctx.rank, ctx.world_size)
        if len(shard):
            _encode(pipeline, Subset(dataset, shard), part_dir(out_dir, ctx.rank, ctx.world_size), split,
                    {**info, "shard": [shard.start, shard.stop]}, target, batch_size, num_workers, show)
        ctx.barrier()
        if ctx.is_main:
            _merge_parts(pipeline, out_dir, split, info, count, batch_size, ctx.world_size)
        ctx.barrier()
    store = CodeStore(out_dir, verify=False)
    if ctx is None or ctx.is_main:
        log.info("extracted %d codemaps (%s) to %s", len(store), split or "?", out_dir)
    return store


def _encode(pipeline: Pipeline, dataset: Dataset, out_dir: str | Path, split: str | None, info: dict,
            target: torch.device, batch_size: int, num_workers: int, progress: bool) -> None:
    """One process: encode ``dataset`` in order into a store at ``out_dir``."""
    count = len(dataset)  # type: ignore[arg-type]
    was_training = pipeline.training
    pipeline.to(target).eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        collate_fn=AudioCollate(pipeline.config.num_samples))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=count, desc=f"extract {split or ''}".strip(), unit="note", leave=False)
    try:
        with CodeStoreWriter(out_dir, pipeline.codemap_shapes, pipeline.quantizer.num_codes, count, split=split,
                             meta=info) as writer:
            for batch in loader:
                codes = pipeline.encode(batch.audio.to(target))
                writer.append(codes, batch.pitch, batch.family, batch.names)
                if bar is not None:
                    bar.update(len(batch))
    finally:
        if bar is not None:
            bar.close()
        pipeline.train(was_training)


def _merge_parts(pipeline: Pipeline, out_dir: str | Path, split: str | None, info: Mapping[str, Any],
                 count: int, batch_size: int, world_size: int) -> None:
    """Rank 0: the ranks' part stores, checked and concatenated in rank order, become ``out_dir``."""
    parts: list[tuple[Path, CodeStore]] = []
    for rank in range(world_size):
        shard = shard_range(count, batch_size, rank, world_size)
        if not len(shard):
            continue
        path = part_dir(out_dir, rank, world_size)
        store = CodeStore(path)  # checksums: a part damaged on the way is refused, never merged
        if store.meta.get("shard") != [shard.start, shard.stop]:
            raise DataError(f"{path}: part of rank {rank} holds notes {store.meta.get('shard')}, "
                            f"expected [{shard.start}, {shard.stop}]")
        parts.append((path, store))
    with CodeStoreWriter(out_dir, pipeline.codemap_shapes, pipeline.quantizer.num_codes, count, split=split,
                         meta=dict(info)) as writer:
        for _, store in parts:
            for start in range(0, len(store), MERGE_CHUNK):
                rows = slice(start, min(start + MERGE_CHUNK, len(store)))
                writer.append({level: np.array(store.codes(level)[rows]) for level in store.levels},
                              np.array(store.pitch[rows]), np.array(store.family[rows]),
                              store.names[rows] if store.names is not None else None)
    for path, _ in parts:
        shutil.rmtree(path, ignore_errors=True)
