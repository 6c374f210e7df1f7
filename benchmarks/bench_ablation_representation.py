"""The representation ablation as a pytest-benchmark suite (timings + metrics in ``extra_info``).

One benchmark per variant times its training + evaluation and stores every metric of the ablation
table in ``extra_info`` (with ``study`` and ``variant``), so::

    pytest benchmarks/bench_ablation_representation.py --benchmark-json out.json
    python benchmarks/compare.py out.json [other.json]

gives the same table as ``specinpaint ablate``. Budget: ``ci`` under ``--benchmark-disable`` and for
a default timing run, the study's ``cpu`` budget with ``SPECINPAINT_BENCH_FULL=1``, or any budget
named by ``SPECINPAINT_ABLATION_BUDGET``. ``SPECINPAINT_ABLATION_OUT=DIR`` keeps the trained
variants and the report (results.md, plots/) there instead of a temporary folder; finished variants
in it are reused (then their timing is only the reuse).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from specinpaint.studies.study import load_study
from specinpaint.studies.study_report import METRIC_DOCS

STUDY = "ablations/representation"
VARIANTS = list(load_study(STUDY).spec.variants)
SPECTRAL = [k for k in METRIC_DOCS if k.startswith(("sc_", "lsd_", "mrstft_", "roundtrip_"))]
PER_LEVEL = ("perplexity", "dead_fraction", "silent_entropy_bits", "silent_distinct_codes", "silent_fraction")


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

    from specinpaint.metrics.pitch import estimate_midi
    from specinpaint.studies.study import expand_study
    from specinpaint.training.data import build_dataset

    config = expand_study(study, budget)[0].config
    build_dataset(config, config.data.train_split)
    build_dataset(config, config.data.valid_split)
    estimate_midi(torch.sin(torch.arange(8000) * 0.1)[None], 16000, start_seconds=0.0, max_seconds=0.5)


def expected_columns(levels=("top", "bottom")) -> list[str]:
    return [*SPECTRAL, "pitch_accuracy", "raw_pitch_accuracy", *(f"{lv}_{m}" for lv in levels for m in PER_LEVEL)]


@pytest.mark.parametrize("variant", VARIANTS)
def test_ablation_representation(benchmark, ablation, variant):
    from specinpaint.studies.study_run import run_default_study

    study, budget, out_dir = ablation
    benchmark.group = f"ablation-{study.name}"
    results = benchmark.pedantic(
        run_default_study, args=(study, out_dir),
        kwargs={"budget": budget, "only": [variant], "report": False, "progress": False},
        rounds=1, iterations=1,
    )
    (result,) = results
    benchmark.extra_info.update({"study": study.name, "variant": variant, "budget": budget, "label": result.label})
    benchmark.extra_info.update(result.metrics)
    benchmark.extra_info.update(result.timings)

    missing = [c for c in expected_columns() if c not in result.metrics]
    assert not missing, f"metric columns missing: {missing}"
    bad = {k: v for k, v in result.metrics.items() if not math.isfinite(v)}
    assert not bad, f"non-finite metrics: {bad}"
    assert result.metrics["notes"] >= 1
    for level in ("top", "bottom"):
        assert 1.0 <= result.metrics[f"{level}_perplexity"]
        assert 0.0 <= result.metrics[f"{level}_dead_fraction"] <= 1.0
        assert 0.0 < result.metrics[f"{level}_silent_fraction"] <= 1.0


def test_ablation_representation_report(ablation):
    """The table and plots of the whole grid (variants finished above are reused, not retrained)."""
    from specinpaint.studies.study_run import run_default_study

    study, budget, out_dir = ablation
    results = run_default_study(study, out_dir, budget=budget, progress=False)
    assert [r.name for r in results] == VARIANTS
    table = (out_dir / "results.md").read_text()
    assert all(f"| {name} |" in table for name in VARIANTS)
    assert (out_dir / "results.csv").read_text().count("\n") == len(VARIANTS) + 1
    for plot in ("spectral", "codebook", "silence", "pitch"):
        assert (out_dir / "plots" / f"{plot}.png").stat().st_size > 5000
