"""The training stages of a pipeline in one run directory (what ``specinpaint train`` runs): ``vqvae``,
then ``prior-<level>`` for every quantizer level with a prior, coarsest first (``stages_for``).

Layout of ``RUN_DIR``::

    bundle/                 the pipeline bundle, re-saved after every stage (what `serve` loads)
    quantizer/              metrics.jsonl, checkpoints/{last,best}.pt, samples/
    codes/<split>/          code stores extracted with the trained quantizer
    prior_<level>/          metrics and checkpoints of each prior (prior_top/, prior_bottom/, …)

A stage that already finished is not trained again (its checkpoint says so); codes are re-extracted
only when the quantizer changed since they were written.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from specinpaint.core.config import PipelineConfig
from specinpaint.core.errors import ConfigError, DataError
from specinpaint.core.pipeline import Pipeline
from specinpaint.core.registry import registry
from specinpaint.data.code_store import CodeStore

from .checkpoint import LAST, first_difference
from .data import build_dataset
from .distributed import DistContext, setup_distributed
from .engine import CHECKPOINT_DIR
from .extract import extract_codes
from .prior_task import train_prior
from .quantizer_task import configured_fit_batches, train_quantizer
from .result import BUNDLE_DIR, TrainResult
from .rng import seed_everything

log = logging.getLogger(__name__)

QUANTIZER_STAGE = "vqvae"
PRIOR_STAGE_PREFIX = "prior-"
CODES_DIR = "codes"
FROZEN_SECTIONS = ("num_samples", "representation", "normalizer", "quantizer")


def prior_stage(level: str) -> str:
    """The stage name that trains ``level``'s prior (``prior-top``)."""
    return f"{PRIOR_STAGE_PREFIX}{level}"


def stage_level(stage: str) -> str | None:
    """The level a prior stage trains (``prior-top`` → ``top``); None for the quantizer stage."""
    return stage[len(PRIOR_STAGE_PREFIX):] if stage.startswith(PRIOR_STAGE_PREFIX) else None


def prior_levels(config: PipelineConfig) -> tuple[str, ...]:
    """The levels with a prior in training order: the quantizer's levels, coarsest first (read from
    the quantizer built on the meta device, so no weights are allocated); a prior on a level the
    quantizer lacks comes last (building the pipeline refuses it)."""
    try:
        with torch.device("meta"):
            levels = tuple(registry("quantizers").build(config.quantizer.name, config.quantizer.params).levels)
    except Exception:  # a quantizer that cannot be built on meta: the config's order
        levels = tuple(config.priors)
    return tuple(lvl for lvl in levels if lvl in config.priors) + tuple(lvl for lvl in config.priors if lvl not in levels)


def stages_for(config: PipelineConfig) -> tuple[str, ...]:
    """``vqvae``, then one ``prior-<level>`` stage per level with a prior, coarsest first."""
    return (QUANTIZER_STAGE, *(prior_stage(level) for level in prior_levels(config)))


def stage_dir(run_dir: str | Path, stage: str) -> Path:
    level = stage_level(stage)
    return Path(run_dir) / ("quantizer" if level is None else f"prior_{level}")


def _check_fresh(run_dir: Path, stage: str, resume: bool) -> None:
    last = stage_dir(run_dir, stage) / CHECKPOINT_DIR / LAST
    if last.exists() and not resume:
        raise ConfigError(
            f"{last.parent.parent}: a '{stage}' run already exists here; pass --resume to continue it "
            "or choose another --out"
        )


def _optional_dataset(config: PipelineConfig, split: str, root: str | None = None):
    try:
        return build_dataset(config, split, root)
    except DataError as exc:
        log.warning("no validation data (%s): training without evaluation", exc)
        return None


def adopt_config(trained: Pipeline, config: PipelineConfig, source: str = "config") -> Pipeline:
    """A pipeline for ``config`` holding ``trained``'s weights. The representation, normaliser and
    quantizer sections must equal the trained ones; priors whose spec changed start untrained."""
    old, new = trained.config.model_dump(mode="json"), config.model_dump(mode="json")
    for section in FROZEN_SECTIONS:
        diff = first_difference(new[section], old[section], section)
        if diff:
            raise ConfigError(f"{source}: differs from the trained bundle's {diff.replace('checkpoint', 'bundle')}")
    if old == new:
        return trained
    pipeline = Pipeline(config, extras=dict(trained.extras))
    state = trained.state_dict()
    keep = {}
    trained_records = dict(pipeline.extras.get("trained", {}))
    for key, value in state.items():
        if key.startswith("priors."):
            level = key.split(".")[1]
            if old["priors"].get(level) != new["priors"].get(level):
                trained_records.pop(f"prior_{level}", None)
                continue
        keep[key] = value
    pipeline.load_state_dict(keep, strict=False)
    pipeline.extras["trained"] = trained_records
    return pipeline


def ensure_codes(pipeline: Pipeline, config: PipelineConfig, codes_dir: Path, split: str,
                 *, progress: bool = True, dataset_root: str | None = None,
                 ctx: DistContext | None = None, optional: bool = False) -> CodeStore | None:
    """The code store of ``split``, extracted now unless a store from this quantizer exists.

    With a distributed ``ctx`` every rank calls this: rank 0 decides whether the store is current,
    and the extraction is sharded over the ranks (`extract_codes`). ``optional``: a split without
    data gives None (and a warning) instead of a `DataError`."""
    target = codes_dir / split
    current = _current_store(pipeline, target) if ctx is None or ctx.is_main else None
    reuse = current is not None
    if ctx is not None:
        reuse = bool(ctx.broadcast_object(reuse))
    if reuse:
        return current or CodeStore(target, verify=False)
    try:
        dataset = build_dataset(config, split, dataset_root)
    except DataError as exc:
        if not optional:
            raise
        if ctx is None or ctx.is_main:
            log.warning("no %s codes (%s): training without evaluation", split, exc)
        return None
    return extract_codes(pipeline, dataset, target, split, batch_size=config.training.quantizer.batch_size,
                         device=config.training.quantizer.device, progress=progress, ctx=ctx)


def _current_store(pipeline: Pipeline, target: Path) -> CodeStore | None:
    """The store at ``target`` when it is intact and was extracted with this pipeline's quantizer."""
    stamp = pipeline.extras.get("trained", {}).get("quantizer", {}).get("date")
    if not (target / "index.json").exists():
        return None
    try:
        store = CodeStore(target)
    except DataError as exc:
        log.warning("re-extracting codes: %s", exc)
        return None
    return store if stamp is not None and store.meta.get("quantizer_date") == stamp else None


def train_stage(
    stage: str,
    config: PipelineConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    bundle: str | Path | None = None,
    codes_dir: str | Path | None = None,
    stop_after: int | None = None,
    fine_tune: bool = False,
) -> TrainResult:
    """Run one stage (``vqvae`` or ``prior-<level>``, see `stages_for`) in ``run_dir``.

    Prior stages start from ``bundle`` (default ``RUN_DIR/bundle``, written by the vqvae stage) and
    train on ``codes_dir`` (default ``RUN_DIR/codes``), extracting codes first when needed. A prior
    the bundle already holds trained starts again from fresh weights unless ``fine_tune`` (see
    `_restart_trained_prior`); ``resume`` continues from the stage's own checkpoint either way. The
    bundle at ``RUN_DIR/bundle`` is updated at the end of every finished stage. The vqvae stage
    stores the dataset's label encoders and split description in the bundle's extras
    (``labels``, ``data``); the prior stages keep them.
    """
    stages = stages_for(config)
    if stage not in stages:
        raise ConfigError(f"unknown training stage '{stage}' (stages of this config: {', '.join(stages)})")
    run = Path(run_dir)
    _check_fresh(run, stage, resume)
    out = stage_dir(run, stage)
    if stage == QUANTIZER_STAGE:
        seed_everything(config.training.quantizer.seed)
        pipeline = Pipeline(config)
        train_set = build_dataset(config, config.data.train_split)
        valid_set = _optional_dataset(config, config.data.valid_split)
        previous = run / BUNDLE_DIR
        return train_quantizer(pipeline, config.training.quantizer, train_set, valid_set, out, resume=resume,
                               progress=progress, stop_after=stop_after, bundle_dir=previous,
                               fit_batches=configured_fit_batches(config.training.quantizer))

    level = stage_level(stage)
    bundle_path = Path(bundle) if bundle is not None else run / BUNDLE_DIR
    if not bundle_path.exists():
        raise ConfigError(f"{bundle_path}: no trained pipeline bundle; run `specinpaint train vqvae` first")
    trained = Pipeline.load(bundle_path)
    if "quantizer" not in trained.extras.get("trained", {}):
        raise ConfigError(f"{bundle_path}: the bundle's quantizer was never trained")
    pipeline = adopt_config(trained, config, "config")
    codes = Path(codes_dir) if codes_dir is not None else run / CODES_DIR
    training = config.training.prior(level)
    ctx = setup_distributed(training.device)
    try:
        stores = _extract_splits(pipeline, config, codes, progress, ctx)  # sharded over the ranks
        seed_everything(training.seed)
        if not (resume and (out / CHECKPOINT_DIR / LAST).exists()):  # a resumed stage loads its own weights
            _restart_trained_prior(pipeline, config, level, fine_tune, report=ctx.is_main)
        return train_prior(pipeline, level, training, stores[config.data.train_split],
                           stores[config.data.valid_split], out, resume=resume, progress=progress,
                           stop_after=stop_after, bundle_dir=run / BUNDLE_DIR, ctx=ctx)
    finally:
        ctx.close()


def _restart_trained_prior(pipeline: Pipeline, config: PipelineConfig, level: str, fine_tune: bool,
                           report: bool = True) -> None:
    """Give ``level``'s prior fresh weights when the bundle's was trained already.

    Why: a prior stage started on a finished run's bundle (another ``--out`` with ``--bundle``, or a
    copy of the bundle in a new run folder) would otherwise silently continue from the trained
    prior, and its step count would not say how much training the result had. ``fine_tune`` keeps
    the weights on purpose. A bundle straight from the vqvae stage holds an untrained prior and is
    left as it is, so the default run's initialisation does not change. The fresh weights come from
    the stage's seed (``training.priors.LEVEL.seed``), not from the vqvae stage's draw, so such a run
    is reproducible but not bit-identical to the same prior trained by ``train all``. ``report``:
    this process logs (rank 0 under torchrun)."""
    trained = f"prior_{level}" in pipeline.extras.get("trained", {})
    if fine_tune:
        if not trained and report:
            log.warning("prior-%s: --fine-tune, but the bundle holds no trained %s prior of this spec "
                        "(never trained, or its spec differs from the bundle's): training from its weights as they are",
                        level, level)
        return
    if trained:
        spec = config.priors[level]
        fresh = registry("priors").build(spec.name, spec.params)
        pipeline.priors[level].load_state_dict(fresh.state_dict())
        if report:
            log.info("prior-%s: the bundle's trained %s prior is replaced by fresh weights "
                     "(--fine-tune continues from it)", level, level)


def _extract_splits(pipeline: Pipeline, config: PipelineConfig, codes: Path, progress: bool,
                    ctx: DistContext) -> dict[str, CodeStore | None]:
    train, valid = config.data.train_split, config.data.valid_split
    return {
        train: ensure_codes(pipeline, config, codes, train, progress=progress, ctx=ctx),
        valid: ensure_codes(pipeline, config, codes, valid, progress=progress, ctx=ctx, optional=True),
    }


def train_all(
    config: PipelineConfig,
    run_dir: str | Path,
    *,
    stages: Sequence[str] | None = None,
    resume: bool = True,
    progress: bool = True,
) -> Pipeline:
    """Every stage in order (default `stages_for(config)`; finished ones are reused); returns the
    trained pipeline."""
    result = None
    for stage in stages_for(config) if stages is None else stages:
        level = stage_level(stage)
        if level is not None and level not in config.priors:
            log.info("skipping %s: the config has no prior for that level", stage)
            continue
        result = train_stage(stage, config, run_dir, resume=resume, progress=progress)
    if result is None:
        raise ConfigError("nothing to train")
    return Pipeline.load(Path(run_dir) / BUNDLE_DIR)
