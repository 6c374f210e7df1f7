"""The representation ablation as a pytest-benchmark suite (timings + metrics in ``extra_info``).

One benchmark per variant times its training + evaluation (`specinpaint ablate`'s runner, hence
`evaluate_pipeline`) and stores every column of the ablation table in ``extra_info`` (with
``study`` and ``variant``; the mean over the budget's seeds), so::

    pytest benchmarks/bench_ablation_representation.py --benchmark-json out.json
    python benchmarks/compare.py out.json [other.json]

gives the same columns as ``specinpaint ablate``. Budget: ``ci`` under ``--benchmark-disable`` and
for a default timing run (quantizer only, reconstruction, one seed), the study's ``cpu`` budget with
``SPECINPAINT_BENCH_FULL=1``, or any budget named by ``SPECINPAINT_ABLATION_BUDGET``. ``SPECINPAINT_ABLATION_OUT=DIR`` keeps the trained
variants and the report (results.md, plots/) there instead of a temporary folder; finished variants
in it are reused (then their timing is only the reuse).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from specinpaint.studies.columns import RECONSTRUCTION, RECONSTRUCTION_LEVEL
from specinpaint.studies.study import load_study
from specinpaint.studies.study_results import summarize

STUDY = "ablations/representation"
VARIANTS = list(load_study(STUDY).spec.variants)


@pytest.fixture(scope="module")
def ablation(bench_scale, tmp_path_factory):
    """(study, budget, out dir) shared by the variants of this run."""
    budget = os.environ.get("SPECINPAINT_ABLATION_BUDGET") or ("cpu" if bench_scale == "full" else "ci")
    out = os.environ.get("SPECINPAINT_ABLATION_OUT")
    out_dir = Path(out) if out else tmp_path_factory.mktemp("ablation")
    study = load_study(STUDY)
    _warm_up(study, budget)
    return study, budget, out_dir


def _warm_up(study, budget) -> None:
    """Render the data and compile pYIN's kernels before the first timing, so the variants are
    timed alike (the first one would otherwise pay for both)."""
    import torch

    from specinpaint.core.registry import registry
    from specinpaint.studies.study import expand_study
    from specinpaint.training.data import build_dataset

    config = expand_study(study, budget)[0].config
    build_dataset(config, config.data.train_split)
    build_dataset(config, config.data.valid_split)
    pitch = registry("metrics").build("pitch-accuracy", {"sample_rate": 16000, "start_seconds": 0.0, "max_seconds": 0.5})
    pitch.estimate(torch.sin(torch.arange(8000) * 0.1)[None])


def expected_columns(sections, levels=("top", "bottom")) -> list[str]:
    """The reconstruction columns every run must have (family ones when a classifier is trained)."""
    if "reconstruction" not in sections:
        return []
    return [f"reconstruction.{m}" for m in RECONSTRUCTION] + [
        f"reconstruction.{lv}_{m}" for lv in levels for m in RECONSTRUCTION_LEVEL]


@pytest.mark.parametrize("variant", VARIANTS)
def test_ablation_representation(benchmark, ablation, variant):
    from specinpaint.studies.study import expand_study
    from specinpaint.studies.study_run import run_default_study, run_dir, trained_stages

    study, budget, out_dir = ablation
    benchmark.group = f"ablation-{study.name}"
    results = benchmark.pedantic(
        run_default_study, args=(study, out_dir),
        kwargs={"budget": budget, "only": [variant], "report": False, "progress": False},
        rounds=1, iterations=1,
    )
    (summary,) = summarize(results)
    runs = expand_study(study, budget, only=[variant])
    benchmark.extra_info.update({"study": study.name, "variant": variant, "budget": budget, "label": summary.label,
                                 "seeds": len(summary.runs)})
    benchmark.extra_info.update(summary.mean)

    assert [r.seed for r in results] == [r.seed for r in runs]
    for result, run in zip(results, runs, strict=True):
        sections = run.evaluation.sections
        missing = [c for c in expected_columns(sections) if c not in result.metrics]
        assert not missing, f"metric columns missing: {missing}"
        bad = {k: v for k, v in result.values.items() if not math.isfinite(v) and "silent_entropy" not in k}
        assert not bad, f"non-finite metrics: {bad}"
        directory = run_dir(out_dir, run)
        assert (directory / "evaluation" / "evaluation.json").is_file()  # the run's full report
        # a reconstruction-only budget trains the quantizer alone
        assert (directory / "prior_top").exists() == ("prior-top" in trained_stages(run))
        if "reconstruction" in sections:
            m = result.metrics
            assert m["reconstruction.notes"] >= 1
            assert 0.0 <= m["reconstruction.pitch_accuracy"] <= 1.0
            for level in ("top", "bottom"):
                assert 1.0 <= m[f"reconstruction.{level}_perplexity"]
                assert 0.0 <= m[f"reconstruction.{level}_dead_fraction"] <= 1.0
                assert 0.0 < m[f"reconstruction.{level}_silent_fraction"] <= 1.0
        if "generation" in sections and "prior-top" in trained_stages(run):
            assert 0.0 <= result.metrics["generation.pitch_accuracy"] <= 1.0


def test_ablation_representation_report(ablation):
    """The table and plots of the whole grid (runs finished above are reused, not retrained)."""
    from specinpaint.studies.study_run import run_default_study

    study, budget, out_dir = ablation
    stamps = {p: p.stat().st_mtime_ns for p in out_dir.glob("variants/**/result.json")}
    results = run_default_study(study, out_dir, budget=budget, progress=False)
    assert [s.name for s in summarize(results)] == VARIANTS
    assert len(stamps) == len(results)
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # finished runs reused, not run again
    table = (out_dir / "results.md").read_text()
    assert all(f"| {name}" in table.splitlines()[next(i for i, line in enumerate(table.splitlines())
                                                       if line.startswith("| measure"))] for name in VARIANTS)
    assert (out_dir / "results.csv").read_text().count("\n") == len(results) + 1 + (
        2 * len(VARIANTS) if len(results) > len(VARIANTS) else 0)
    for plot in ("spectral", "codebook", "silence", "pitch", "timing"):
        assert (out_dir / "plots" / f"{plot}.png").stat().st_size > 5000
