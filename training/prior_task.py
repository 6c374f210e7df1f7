"""Training one prior of a pipeline on a `CodeStore`, through the core `Prior.loss` contract only
(``prior.loss(codes, conditioning, mask=None)``: the prior draws its own training masks)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from specinpaint.core.codemaps import Codemaps
from specinpaint.core.conditioning import Conditioning
from specinpaint.core.config import TrainingConfig
from specinpaint.core.errors import ConfigError, DataError
from specinpaint.core.pipeline import Pipeline
from specinpaint.data.code_store import CodeStore, collate_codes

from .distributed import DistContext, setup_distributed
from .engine import train
from .quantizer_task import finish_run
from .result import TrainResult
from .signature import pipeline_signature, signature_defaults
from .task import TrainingTask

log = logging.getLogger(__name__)

#: codes, labels, and each example's window start in the prior's level columns (None: all 0)
PriorBatch = tuple[Codemaps, Conditioning, torch.Tensor | None]


def random_windows(codes: Codemaps, shapes: Mapping[str, tuple[int, int]]) -> tuple[Codemaps, torch.Tensor]:
    """One window per example, starting at a random coarsest column of maps of longer notes (the
    global torch generator: seeded and checkpointed by the engine) → (windows, starts ``[B]`` in
    coarsest columns)."""
    levels = list(shapes)
    first = levels[0]
    width = shapes[first][1]
    columns = codes[first].shape[-1]
    batch = codes.batch_size
    starts = torch.randint(0, columns - width + 1, (batch,))
    out = {}
    for lvl in codes.levels:
        ratio = shapes[lvl][1] // width
        index = (starts * ratio)[:, None] + torch.arange(shapes[lvl][1])[None]  # [B, T]
        value = codes[lvl]
        index = index.to(value.device)[:, None, :].expand(batch, value.shape[1], -1)
        out[lvl] = value.gather(-1, index)
    return Codemaps(out), starts


def _store(store: CodeStore | str | Path) -> CodeStore:
    return store if isinstance(store, CodeStore) else CodeStore(store)


def store_columns(store: CodeStore, shapes: Mapping[str, tuple[int, int]], num_codes: Mapping[str, int]) -> int:
    """Coarsest columns of every map of a store of longer notes (random crops): each level has the
    window's rows and codes, and as many window-level columns per coarsest column as one window."""
    levels = list(shapes)
    first = levels[0]
    columns = store.shapes.get(first, (0, 0))[1] if first in store.shapes else 0
    ratio = {lvl: shapes[lvl][1] // shapes[first][1] for lvl in levels}
    wide = {lvl: (shapes[lvl][0], columns * ratio[lvl]) for lvl in levels}
    if columns < shapes[first][1]:
        raise DataError(f"{store.root}: '{first}' maps have {columns} columns, fewer than one window "
                        f"({shapes[first][1]})")
    store.check_compatible(wide, num_codes)
    return columns


class PriorTask(TrainingTask):
    """Minimise ``pipeline.priors[level].loss`` over a code store; ``random_crop``: over windows
    cropped at random columns of a store of longer notes, each with its start as ``time_offset``."""


    def __init__(self, pipeline: Pipeline, level: str, train_store: CodeStore, valid_store: CodeStore | None,
                 random_crop: bool = False) -> None:
        if level not in pipeline.priors:
            known = ", ".join(pipeline.priors) or "none"
            raise ConfigError(f"priors.{level}: the pipeline has no prior for level '{level}' (priors: {known})")
        shapes, num_codes = pipeline.codemap_shapes, pipeline.quantizer.num_codes
        self.window_shapes = {lvl: tuple(shapes[lvl]) for lvl in pipeline.quantizer.levels}
        self.random_crop = random_crop
        for store in (train_store, valid_store):
            if store is None:
                continue
            if random_crop:
                columns = store_columns(store, self.window_shapes, num_codes)
                if columns == self.window_shapes[pipeline.quantizer.levels[0]][1]:
                    log.warning("%s: random_crop on maps of one window: every crop starts at column 0", store.root)
            else:
                store.check_compatible(shapes, num_codes)
        self.pipeline = pipeline
        self.level = level
        self.name = f"prior_{level}"
        self.module = pipeline.priors[level]
        # DDP: a prior whose loss leaves some parameters unused (e.g. sampling-only heads) says so
        # with a class attribute ``find_unused_parameters = True``; the built-in priors use them all
        self.find_unused_parameters = bool(getattr(self.module, "find_unused_parameters", False))
        self.train_store = train_store
        self.train_set = train_store.dataset()
        self.valid_set = valid_store.dataset() if valid_store is not None else None
        self.collate = collate_codes

    def _signed(self) -> tuple[str, ...]:
        return ("representation", "normalizer", "quantizer", f"priors.{self.level}")

    def signature(self) -> dict[str, Any]:
        codes_file = self.train_store.index["files"].get(f"codes_{self.level}.npy", {})
        return {**pipeline_signature(self.pipeline, *self._signed()), "train_codes_sha256": codes_file.get("sha256")}

    def signature_defaults(self) -> dict[str, Any]:
        return signature_defaults(self.pipeline, *self._signed())

    def items_in(self, batch: PriorBatch) -> int:
        return batch[0].batch_size

    def prepare(self, batch: tuple[Codemaps, Conditioning], device: torch.device) -> PriorBatch:
        codes, conditioning = batch
        offsets = None
        if self.random_crop:
            codes, offsets = random_windows(codes, self.window_shapes)
            if self.module.max_time_offset > 0:
                ratio = self.window_shapes[self.level][1] // next(iter(self.window_shapes.values()))[1]
                offsets = (offsets * ratio).to(device)
            else:  # a prior without a time table: windows from anywhere, no offset
                offsets = None
        return codes.to(device), conditioning.to(device), offsets

    def compute_loss(self, module: nn.Module, batch: PriorBatch):
        codes, conditioning, offsets = batch
        out = module.loss(codes, conditioning) if offsets is None else module.loss(codes, conditioning, time_offset=offsets)
        return out.loss, dict(out.metrics)


def train_prior(
    pipeline: Pipeline,
    level: str,
    config: TrainingConfig | None = None,
    train_store: CodeStore | str | Path | None = None,
    valid_store: CodeStore | str | Path | None = None,
    out_dir: str | Path = "runs/prior",
    *,
    resume: bool = True,
    progress: bool = True,
    stop_after: int | None = None,
    bundle_weights: Literal["best", "last"] = "best",
    bundle_dir: str | Path | None = None,
    ctx: DistContext | None = None,
) -> TrainResult:
    """Train ``pipeline.priors[level]`` on the codes of ``train_store`` (a `CodeStore` or its path).

    ``config`` defaults to ``pipeline.config.training.priors[level]``. Metrics, checkpoints and
    (for a finished run) the pipeline bundle go under ``out_dir`` (bundle: ``bundle_dir`` or
    ``OUT_DIR/bundle``); ``extras['trained']['prior_<level>']`` records the run.
    """
    if train_store is None:
        raise ConfigError(f"train_prior({level!r}): a training code store is required (run extract-codes first)")
    if config is None:
        config = pipeline.config.training.prior(level)
    train_codes = _store(train_store)
    valid_codes = _store(valid_store) if valid_store is not None else None
    out = Path(out_dir)
    own_ctx = ctx is None
    ctx = ctx or setup_distributed(config.device)
    try:
        task = PriorTask(pipeline, level, train_codes, valid_codes, random_crop=config.random_crop)
        outcome = train(task, config, out, resume=resume, progress=progress, stop_after=stop_after, ctx=ctx)
        bundle = finish_run(task, outcome, out, ctx, task.name, bundle_weights, bundle_dir=bundle_dir,
                            extra={"train_codes": str(train_codes.root)})
    finally:
        if own_ctx:
            ctx.close()
    return TrainResult(pipeline, outcome, out, bundle if ctx.is_main else None)
