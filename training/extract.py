"""Code extraction: run a trained pipeline's quantizer over a dataset split, in order, and write the
codemaps and labels to a `CodeStore` (what the priors train on)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from specinpaint.core.pipeline import Pipeline
from specinpaint.data.code_store import CodeStore, CodeStoreWriter

from .data import AudioCollate
from .distributed import resolve_device

log = logging.getLogger(__name__)


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
) -> CodeStore:
    """Encode every item of ``dataset`` (in dataset order) and write the store at ``out_dir``.

    The quantizer runs in eval mode (deterministic nearest codes, codebooks untouched). The store's
    ``meta`` records the pipeline name, what was trained and the split; an existing store at
    ``out_dir`` is replaced only once the new one is complete.
    """
    count = len(dataset)  # type: ignore[arg-type]
    target = resolve_device(device)
    was_training = pipeline.training
    pipeline.to(target).eval()
    shapes = pipeline.codemap_shapes
    info = {
        "pipeline": pipeline.config.name,
        "quantizer": pipeline.config.quantizer.model_dump(mode="json"),
        "quantizer_steps": pipeline.extras.get("trained", {}).get("quantizer", {}).get("steps"),
        "quantizer_date": pipeline.extras.get("trained", {}).get("quantizer", {}).get("date"),
        **(meta or {}),
    }
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        collate_fn=AudioCollate(pipeline.config.num_samples))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=count, desc=f"extract {split or ''}".strip(), unit="note", leave=False)
    try:
        with CodeStoreWriter(out_dir, shapes, pipeline.quantizer.num_codes, count, split=split, meta=info) as writer:
            for batch in loader:
                codes = pipeline.encode(batch.audio.to(target))
                writer.append(codes, batch.pitch, batch.family, batch.names)
                if bar is not None:
                    bar.update(len(batch))
    finally:
        if bar is not None:
            bar.close()
        pipeline.train(was_training)
    store = CodeStore(out_dir, verify=False)
    log.info("extracted %d codemaps (%s) to %s", len(store), split or "?", out_dir)
    return store
