"""A study of the real tiny pipeline, whole (quantizer and both priors), through `specinpaint
ablate`'s default trainer and `evaluate_pipeline`: the run trains every stage with the study's seed,
its evaluation measures generation and the priors, and a later evaluation-only change
reuses the trained bundle. Shrunk to CI size (the ci budget's quantizer, two steps per stage, one
seed, no inpainting section; several seeds are covered on fakes in test_studies_study.py)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from specinpaint.core.pipeline import Pipeline
from specinpaint.core.yaml_config import CONFIG_DIR
from specinpaint.studies.study import expand_study, load_study
from specinpaint.studies.study_run import run_default_study, run_dir

STEPS = {"steps": 2, "batch_size": 2, "eval_every": 2, "checkpoint_every": 2, "log_every": 1, "eval_batches": 1}
STAGES = ("quantizer", "prior_top", "prior_bottom")


def _tiny_priors(config) -> dict:
    """Small transformer priors whose code map shapes match the shrunk quantizer."""
    pipeline = Pipeline(config)
    codes = pipeline.encode(torch.zeros(1, config.num_samples))
    top, bottom = list(codes["top"].shape[1:]), list(codes["bottom"].shape[1:])
    num = pipeline.quantizer.num_codes
    small = {"d_model": 16, "num_heads": 2, "num_encoder_layers": 1, "num_decoder_layers": 1, "ffn_dim": 32,
             "dropout": 0.0}
    return {
        "top": {"name": "top-transformer", "params": {"codemap_shape": top, "num_codes": num["top"], **small}},
        "bottom": {"name": "bottom-transformer", "params": {"codemap_shape": bottom, "top_shape": top,
                                                            "num_codes": num["bottom"], "top_num_codes": num["top"],
                                                            **small}},
    }


@pytest.fixture
def whole_study():
    shipped = load_study("ablations/representation")
    ci = shipped.spec.budgets["ci"].overrides
    shrunk = {key: value for key, value in ci.items() if key != "priors" and not key.startswith("training.")}
    quantizer_only = expand_study(shipped, "ci", only=["paper"])[0].config
    overrides = {**shrunk, "representation.name": "mel-if", "priors": _tiny_priors(quantizer_only)}
    for section in ("quantizer", "priors.top", "priors.bottom"):
        overrides.update({f"training.{section}.{key}": value for key, value in STEPS.items()})
    overrides["training.quantizer.fit_batches"] = 1
    return load_study({
        "name": "whole",
        "base": str(CONFIG_DIR / "tiny.yaml"),
        "overrides": overrides,
        "variants": {"paper": {"overrides": shipped.spec.variants["paper"].overrides}},
        "seeds": [3],
        "evaluation": {"sections": ["reconstruction", "generation", "priors"], "reconstruction_notes": 2,
                       "roundtrip": False, "pitches_per_family": 1, "seeds": 1,
                       "prior_notes": 2, "batch_size": 16,
                       "classifier": {"epochs": 1, "max_train_notes": 16}},
    })


def _lines(directory) -> dict[str, int]:
    return {stage: len((directory / stage / "metrics.jsonl").read_text().splitlines()) for stage in STAGES}


@pytest.mark.slow
def test_study_of_the_whole_pipeline_trains_every_stage_and_measures_generation(tmp_path, whole_study):
    out = tmp_path / "out"
    (result,) = run_default_study(whole_study, out, progress=False)
    directory = run_dir(out, "paper/seed-3")  # every seeded run in its seed folder
    assert result.seed == 3 and (directory / "config.yaml").read_text().count("seed: 3") == 3
    trained = json.loads((directory / "bundle" / "extras.json").read_text())["trained"]
    assert set(STAGES) <= set(trained)
    report = json.loads((directory / "evaluation" / "evaluation.json").read_text())
    assert set(report["sections"]) == {"reconstruction", "generation", "priors"}  # ci data: nothing held out
    assert (directory / "evaluation" / "evaluation.md").is_file()
    m = result.metrics
    for section, content in report["sections"].items():  # the row is the report's flat() ...
        for key, value in content["metrics"].items():
            assert m[f"{section}.{key}"] == pytest.approx(math.nan if value is None else value, nan_ok=True)
    assert set(result.timings) == {"train_s", "eval_s"}  # ... plus the run's timings
    assert m["generation.notes"] == report["sections"]["generation"]["metrics"]["notes"] >= 1
    assert 0.0 <= m["generation.pitch_accuracy"] <= 1.0 and 0.0 <= m["generation.family_accuracy"] <= 1.0
    assert math.isfinite(m["priors.top_nll"]) and m["priors.top_nll"] > 0
    assert m["timing.train_prior_bottom"] > 0 and result.timings["eval_s"] > 0
    md = (out / "results.md").read_text()
    assert "## Generation" in md and "## Priors" in md and "one run per variant" in md
    assert (out / "plots" / "priors.png").is_file() and (out / "plots" / "family.png").is_file()

    # an evaluation-only change re-evaluates with the trained bundle: nothing is trained again
    lines, weights = _lines(directory), (directory / "bundle" / "weights.safetensors").read_bytes()
    (again,) = run_default_study(whole_study, out, progress=False, report=False,
                                 overrides=["evaluation.sections=[reconstruction]"])
    assert _lines(directory) == lines and (directory / "bundle" / "weights.safetensors").read_bytes() == weights
    assert not any(k.startswith(("generation.", "priors.")) for k in again.metrics)
    assert again.metrics["reconstruction.notes"] == 2
