"""Running a study: every run of the grid trained, evaluated with `evaluate_pipeline` (the one
evaluation behind `specinpaint evaluate`) and recorded, resumably.

Layout of the output folder::

    results.md, results.csv, results.json, plots/*.png      the table (studies/study_report.py)
    variants/NAME/seed-K/ (variants/NAME/ for a study without seeds), one folder per run:
        config.yaml       the run's resolved pipeline config
        quantizer/, prior_<level>/, codes/      training (training/stages.py layout)
        bundle/           the trained pipeline (usable with every other command)
        evaluation/       the run's full evaluation report (evaluation.json, evaluation.md, plots/)
        result.json       the table row: the report's flat metrics + train_s, eval_s (written last)

Training: the whole pipeline (``train_all``) when the config has priors and the evaluation
measures something that needs them (generation, inpainting, priors); else only the quantizer, so
a reconstruction-only study stays cheap.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from specinpaint.core.atomic import atomic_write_text
from specinpaint.core.bundle import METADATA_FILE
from specinpaint.core.errors import ConfigError
from specinpaint.core.pipeline import Pipeline

from .study import Study, Variant, config_differences, describe_evaluation, expand_study, seed_keys
from .study_results import RESULT_FILE, RunResult, read_result

log = logging.getLogger(__name__)

CONFIG_FILE = "config.yaml"
EVALUATION_DIR = "evaluation"
PRIOR_SECTIONS = frozenset({"generation", "inpainting", "priors"})

Trainer = Callable[[Variant, Path], Any]
"""``trainer(run, run_dir) → trained Pipeline`` (resuming from ``run_dir`` if it can)."""
Evaluator = Callable[[Any, Variant, Path], dict[str, float]]
"""``evaluator(pipeline, run, run_dir) → {column: value}``."""


def run_dir(out_dir: str | Path, run: Variant | str) -> Path:
    """The folder of one run (``variants/NAME/seed-K``, or ``variants/NAME`` for a study without
    seeds); a run that an earlier version saved in ``variants/NAME`` stays there (see
    :func:`former_run_dir`)."""
    if isinstance(run, Variant):
        former = former_run_dir(out_dir, run)
        return former if former is not None else Path(out_dir) / "variants" / run.folder
    return Path(out_dir) / "variants" / run


def former_run_dir(out_dir: str | Path, run: Variant) -> Path | None:
    """``variants/NAME`` when it holds this very run: earlier versions saved a one-seed
    invocation's run there instead of in ``NAME/seed-K``. Its saved config (which carries the
    seed) must equal the run's, so a study resumed or extended with more seeds reuses it instead
    of training it again."""
    if run.seed is None:
        return None
    folder = Path(out_dir) / "variants" / run.name
    config_file = folder / CONFIG_FILE
    try:
        same = config_file.is_file() and run.same_config(config_file.read_text())
    except OSError:
        return None
    return folder if same else None


def trained_stages(run: Variant) -> tuple[str, ...]:
    """``("vqvae",)`` for a reconstruction-only study, every stage when priors are measured."""
    from specinpaint.training.stages import stages_for

    if run.config.priors and PRIOR_SECTIONS & set(run.evaluation.sections):
        return stages_for(run.config)
    return ("vqvae",)


def _complete_bundle(bundle: Path, run: Variant, stages: Sequence[str]) -> Pipeline | None:
    """The run's saved pipeline when every stage it needs is trained in it, else None."""
    if not (bundle / METADATA_FILE).exists():
        return None
    try:
        pipeline = Pipeline.load(bundle)
    except Exception as exc:  # an incomplete bundle is re-made from the checkpoints
        log.warning("%s: cannot reuse %s (%s); training again", run.folder, bundle, exc)
        return None
    trained = pipeline.extras.get("trained", {})
    from specinpaint.training.stages import stage_level

    levels = [stage_level(s) for s in stages]
    needed = ["quantizer"] + [f"prior_{level}" for level in levels if level is not None and level in run.config.priors]
    return pipeline if all(key in trained for key in needed) else None


def train_run(run: Variant, directory: Path, progress: bool = True) -> Pipeline:
    """Train (or resume, or reuse) what the run's evaluation needs; returns the trained pipeline."""
    from specinpaint.training.result import BUNDLE_DIR
    from specinpaint.training.stages import train_all

    stages = trained_stages(run)
    reused = _complete_bundle(Path(directory) / BUNDLE_DIR, run, stages)
    if reused is not None:
        return reused
    return train_all(run.config, directory, stages=stages, resume=True, progress=progress)


def evaluate_run(pipeline: Pipeline, run: Variant, directory: Path) -> dict[str, float]:
    """`evaluate_pipeline` on the config's held-out split (the family classifier learns from the
    training split); writes the full report to ``DIR/evaluation``; returns ``report.flat()``."""
    from specinpaint.training.result import BUNDLE_DIR

    from .data_source import evaluation_datasets, optional_split
    from .evaluate import evaluate_pipeline
    from .report import write_report

    spec = run.evaluation
    heldout, train, description = evaluation_datasets(pipeline, None, spec.split, spec.train_split)
    unseen = optional_split(pipeline, spec.unseen_split) if "reconstruction" in spec.sections else None
    info = {"study_run": run.folder, "seed": run.seed, "bundle": str(Path(directory) / BUNDLE_DIR), **description}
    report = evaluate_pipeline(pipeline, heldout, spec, train_dataset=train, unseen_dataset=unseen, info=info)
    write_report(report, Path(directory) / EVALUATION_DIR)
    return report.flat()


def _clear_run_dir(directory: Path) -> None:
    """``--rerun``: remove what the run wrote, keeping the ``seed-*`` folders of other runs."""
    for entry in directory.iterdir():
        if entry.is_dir() and entry.name.startswith("seed-") and not directory.name.startswith("seed-"):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def run_study(
    study: Study,
    out_dir: str | Path,
    *,
    trainer: Trainer,
    evaluator: Evaluator,
    budget: str | None = None,
    overrides: Sequence[str] = (),
    only: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    rerun: bool = False,
    report: bool = True,
) -> list[RunResult]:
    """Train and evaluate every run not already finished in ``out_dir``, then write the report.

    * finished (``result.json`` with the same fingerprint = config + evaluation): skipped;
    * trained with another pipeline config (its ``config.yaml`` differs): an error unless
      ``rerun``, so a table never silently mixes configs; ``rerun`` empties the run's folder and
      starts it again;
    * same config, other evaluation settings: re-evaluated (the trainer reuses the bundle);
    * otherwise trained, resuming from the run's checkpoints when the trainer can.

    ``result.json`` is written atomically and last, so an interrupted study resumes at the run
    it was working on. Returns this call's runs (finished earlier or now), in grid order."""
    out = Path(out_dir)
    runs = expand_study(study, budget, overrides, only, seeds=seeds)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for run in runs:
        directory = run_dir(out, run)
        done = read_result(directory / RESULT_FILE)
        config_file = directory / CONFIG_FILE
        saved = config_file.read_text() if config_file.is_file() else None
        if done is not None and run.finished_by(saved, done.fingerprint) and not rerun:
            log.info("%s: already finished in %s, skipping", run.folder, directory)
            results.append(done)
            continue
        if rerun and directory.exists():
            _clear_run_dir(directory)
        elif saved is not None and not run.same_config(saved):
            raise ConfigError(
                f"{directory}: variant '{run.name}' was trained with a different config; "
                "pass --rerun to replace it or choose another --out"
            )
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(config_file, run.config_yaml)
        log.info("%s: training (%s)", run.folder, run.label)
        t0 = time.perf_counter()
        pipeline = trainer(run, directory)
        t1 = time.perf_counter()
        log.info("%s: evaluating", run.folder)
        metrics = evaluator(pipeline, run, directory)
        t2 = time.perf_counter()
        result = RunResult(
            run.name, run.label, dict(metrics), run.fingerprint, {"train_s": t1 - t0, "eval_s": t2 - t1},
            {"budget": run.budget, "overrides": run.overrides, "folder": run.folder,
             **({"base": run.base} if run.base is not None else {})}, run.seed,
        )
        atomic_write_text(directory / RESULT_FILE, json.dumps(result.to_json(), indent=1, sort_keys=True))
        results.append(result)
    if report:
        table = finished_results(study, out, budget, overrides, seeds) if only else results
        _write_table(study, out, table, runs)
    return results


def report_finished(study: Study, out_dir: str | Path, budget: str | None = None, overrides: Sequence[str] = (),
                    seeds: Sequence[int] | None = None, only: Sequence[str] | None = None) -> list[RunResult]:
    """``ablate --report-only``: the table of the runs finished so far in ``out_dir`` (what an
    interrupted or still running study has measured), training nothing. An error when none is."""
    results = finished_results(study, out_dir, budget, overrides, seeds, only)
    if not results:
        raise ConfigError(f"{out_dir}: no finished run of study '{study.name}' with this budget and these "
                          "overrides (result.json of the same config and evaluation)")
    _write_table(study, Path(out_dir), results, expand_study(study, budget, overrides, only, seeds=seeds))
    return results


def _write_table(study: Study, out: Path, results: Sequence[RunResult], runs: Sequence[Variant]) -> None:
    from .study_report import write_report

    write_report(out, results, title=study.spec.description or study.name, meta=study_meta(study, runs))


def finished_results(study: Study, out_dir: str | Path, budget: str | None = None,
                     overrides: Sequence[str] = (), seeds: Sequence[int] | None = None,
                     only: Sequence[str] | None = None) -> list[RunResult]:
    """Results of every run finished in ``out_dir`` with the current config (in grid order), so a
    study restricted with ``only`` still writes the whole table so far."""
    found = []
    for run in expand_study(study, budget, overrides, only, seeds=seeds):
        directory = run_dir(out_dir, run)
        done = read_result(directory / RESULT_FILE)
        config_file = directory / CONFIG_FILE
        saved = config_file.read_text() if config_file.is_file() else None
        if done is not None and run.finished_by(saved, done.fingerprint):
            found.append(done)
    return found


def run_default_study(study: Study, out_dir: str | Path, *, progress: bool = True, **kwargs: Any) -> list[RunResult]:
    """:func:`run_study` with the project's training stages and `evaluate_pipeline`."""

    def trainer(run: Variant, directory: Path) -> Pipeline:
        return train_run(run, directory, progress=progress)

    return run_study(study, out_dir, trainer=trainer, evaluator=evaluate_run, **kwargs)


def study_meta(study: Study, variants: Sequence[Variant]) -> dict[str, Any]:
    """What the report header says about the run (budget, seeds, training, what differs)."""
    meta: dict[str, Any] = {"study": study.name, "source": str(study.source) if study.source else None}
    if variants:
        first = variants[0]
        meta["budget"] = first.budget
        seeds = sorted({v.seed for v in variants if v.seed is not None})
        meta["seeds"] = seeds or "the config's own"
        stages = trained_stages(first)
        parts = []
        from specinpaint.training.stages import stage_level

        for stage in stages:
            level = stage_level(stage)
            if level is not None and level not in first.config.priors:
                continue
            key = "quantizer" if level is None else f"prior_{level}"
            t = first.config.training.quantizer if level is None else first.config.training.prior(level)
            parts.append(f"{key} {t.steps} steps (batch {t.batch_size}, lr {t.lr})")
        meta["training"] = "; ".join(parts)
        meta["evaluation"] = describe_evaluation(first.evaluation)
        dumped = [v.config.model_dump(mode="json") for v in variants]
        seeds_set = {key for d in dumped for key in seed_keys(d)}
        differs = sorted({k for d in dumped[1:] for k in config_differences(dumped[0], d)} - {"name"} - seeds_set)
        meta["differs"] = differs
    return meta
