"""Studies whose variants are whole pipeline configs (a variant's own ``base``), and the shipped
``ablations/paper_vs_specinpaint`` study: paper.yaml against specinpaint.yaml at equal budget."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from fakes.spine import fake_config
from specinpaint.core import load_config
from specinpaint.core.errors import ConfigError
from specinpaint.studies.study import config_differences, expand_study, load_study

STUDY = "ablations/paper_vs_specinpaint"


def write(path, data):
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _budget_strings(budget: str) -> list[str]:
    overrides = load_study(STUDY).spec.budgets[budget].overrides
    return [f"{key}={json.dumps(value)}" for key, value in overrides.items()]


@pytest.mark.parametrize("budget", ["ci", "cpu"])
def test_each_variant_is_its_own_config_plus_the_shared_budget(budget):
    variants = {v.name: v for v in expand_study(load_study(STUDY), budget)}
    assert list(variants) == ["paper", "specinpaint"]
    for name, variant in variants.items():
        expected = load_config(name, _budget_strings(budget)).model_dump(mode="json")
        got = variant.config.model_dump(mode="json")
        differs = [d for d in config_differences(expected, got) if not d.endswith(".seed")]  # study seeds
        assert differs == ["name"], name
    paper, ours = (variants[n].config for n in ("paper", "specinpaint"))
    assert paper.representation.params["layout"] == "notono" and ours.representation.params["layout"] == "magenta"
    assert paper.priors["top"].params["norm"] == "post" and ours.priors["top"].params["norm"] == "pre"


def _at(data, dotted):
    for key in dotted.split("."):
        data = data[key]
    return data


@pytest.mark.parametrize("budget", ["ci", "cpu"])
def test_both_variants_get_the_same_budget_sizes_and_data(budget):
    runs = expand_study(load_study(STUDY), budget)
    paper, ours = (next(v.config.model_dump(mode="json") for v in runs if v.name == n) for n in ("paper", "specinpaint"))
    differs = config_differences(paper, ours)
    budget_keys = set(load_study(STUDY).spec.budgets[budget].overrides)
    assert not [d for d in differs if d in budget_keys or d.startswith("data.") or d == "num_samples"]
    for part in ("quantizer", "priors.top", "priors.bottom"):
        for key in ("steps", "batch_size", "lr", "eval_every", "seed"):
            assert _at(paper["training"], part)[key] == _at(ours["training"], part)[key], (part, key)
    # what the comparison is about does differ
    for key in ("representation.params.layout", "normalizer.params.mode", "quantizer.params.recon_after_clean",
                "priors.top.params.loss_positions", "priors.bottom.params.cross_attention",
                "training.quantizer.schedule", "training.priors.top.schedule"):
        assert key in differs


def test_ci_budget_is_small_and_the_cpu_budget_larger():
    ci, cpu = (expand_study(load_study(STUDY), b)[0] for b in ("ci", "cpu"))
    assert ci.config.training.quantizer.steps <= 20 and ci.evaluation.reconstruction_notes <= 4 and ci.evaluation.sections == ["reconstruction"]
    assert ci.config.representation.params["n_mels"] == 64 and ci.config.data.render["max_notes"] <= 24
    assert cpu.config.training.quantizer.steps > 10 * ci.config.training.quantizer.steps
    assert load_study(STUDY).spec.budget == "cpu"


def test_a_variant_may_name_its_own_base_config(tmp_path, fake_plugins):
    write(tmp_path / "a.yaml", fake_config())
    write(tmp_path / "b.yaml", fake_config(representation={"name": "test-frames", "params": {"rows": 16}}))
    path = write(tmp_path / "s.yaml", {
        "name": "s", "base": "a.yaml", "varies": ["*"],
        "overrides": {"training.quantizer.seed": 3},
        "variants": {"a": {}, "b": {"base": "b.yaml", "overrides": {"training.quantizer.lr": 0.01}}},
        "budgets": {"quick": {"overrides": {"training.quantizer.steps": 4}}}, "budget": "quick",
    })
    a, b = expand_study(load_study(path))
    assert a.config.representation.params["rows"] == 8 and b.config.representation.params["rows"] == 16
    for v in (a, b):  # shared and budget overrides reach both
        assert v.config.training.quantizer.seed == 3 and v.config.training.quantizer.steps == 4
    assert b.config.training.quantizer.lr == 0.01 and a.base is None and b.base == "b.yaml"


def test_a_variant_base_needs_varies_anything_and_an_existing_file(tmp_path, fake_plugins):
    write(tmp_path / "a.yaml", fake_config())
    guarded = write(tmp_path / "g.yaml", {"name": "g", "base": "a.yaml", "variants": {"x": {"base": "a.yaml"}}})
    with pytest.raises(ConfigError) as err:
        load_study(guarded)
    assert "\n" not in str(err.value) and "variants.x.base" in str(err.value) and "varies: ['*']" in str(err.value)
    missing = write(tmp_path / "m.yaml", {"name": "m", "base": "a.yaml", "varies": ["*"],
                                          "variants": {"x": {"base": "nope.yaml"}}})
    with pytest.raises(ConfigError, match="variants.x.base: no such pipeline config 'nope.yaml'"):
        expand_study(load_study(missing))


def test_the_paper_variant_trains_and_evaluates_at_the_ci_budget(tmp_path):
    """The real quantizer training and evaluation (what `specinpaint ablate --budget ci` runs) on the
    paper variant: fitted normaliser, notono layout, loss on the masked output, constant lr."""
    from specinpaint.studies.study_run import run_default_study

    shorter = [f"training.quantizer.{key}=4" for key in ("steps", "eval_every", "checkpoint_every")]
    results = run_default_study(load_study(STUDY), tmp_path, progress=False, budget="ci", only=["paper"],
                                overrides=[*shorter, "evaluation.reconstruction_notes=2"],
                                report=False)
    (result,) = results
    assert result.name == "paper" and result.info["base"] == "../paper.yaml"
    assert math.isfinite(result.metrics["reconstruction.sc"]) and result.metrics["reconstruction.notes"] == 2
    from specinpaint.core import Pipeline

    bundle = Pipeline.load(tmp_path / "variants" / "paper" / "seed-0" / "bundle")
    assert not bundle.normalizer.needs_fit and bundle.representation.p.layout == "notono"
    assert bundle.extras["trained"]["quantizer"]["steps"] == 4
