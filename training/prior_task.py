"""Training one prior of a pipeline on a `CodeStore`, through the core `Prior.loss` contract only
(``prior.loss(codes, conditioning, mask=None)``: the prior draws its own training masks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from specinpaint.core.codemaps import Codemaps
from specinpaint.core.conditioning import Conditioning
from specinpaint.core.config import TrainingConfig
from specinpaint.core.errors import ConfigError
from specinpaint.core.pipeline import Pipeline
from specinpaint.data.code_store import CodeStore, collate_codes

from .distributed import DistContext, setup_distributed
from .engine import train
from .quantizer_task import finish_run, pipeline_signature
from .result import TrainResult
from .task import TrainingTask


def _store(store: CodeStore | str | Path) -> CodeStore:
    return store if isinstance(store, CodeStore) else CodeStore(store)


class PriorTask(TrainingTask):
    """Minimise ``pipeline.priors[level].loss`` over a code store."""


    def __init__(self, pipeline: Pipeline, level: str, train_store: CodeStore, valid_store: CodeStore | None) -> None:
        if level not in pipeline.priors:
            known = ", ".join(pipeline.priors) or "none"
            raise ConfigError(f"priors.{level}: the pipeline has no prior for level '{level}' (priors: {known})")
        shapes, num_codes = pipeline.codemap_shapes, pipeline.quantizer.num_codes
        for store in (train_store, valid_store):
            if store is not None:
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

    def signature(self) -> dict[str, Any]:
        codes_file = self.train_store.index["files"].get(f"codes_{self.level}.npy", {})
        return {
            **pipeline_signature(self.pipeline, "representation", "normalizer", "quantizer", f"priors.{self.level}"),
            "train_codes_sha256": codes_file.get("sha256"),
        }

    def items_in(self, batch: tuple[Codemaps, Conditioning]) -> int:
        return batch[0].batch_size

    def prepare(self, batch: tuple[Codemaps, Conditioning], device: torch.device) -> tuple[Codemaps, Conditioning]:
        codes, conditioning = batch
        return codes.to(device), conditioning.to(device)

    def compute_loss(self, module: nn.Module, batch: tuple[Codemaps, Conditioning]):
        codes, conditioning = batch
        out = module.loss(codes, conditioning)
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
        task = PriorTask(pipeline, level, train_codes, valid_codes)
        outcome = train(task, config, out, resume=resume, progress=progress, stop_after=stop_after, ctx=ctx)
        bundle = finish_run(task, outcome, out, ctx, task.name, bundle_weights, bundle_dir=bundle_dir,
                            extra={"train_codes": str(train_codes.root)})
    finally:
        if own_ctx:
            ctx.close()
    return TrainResult(pipeline, outcome, out, bundle if ctx.is_main else None)
