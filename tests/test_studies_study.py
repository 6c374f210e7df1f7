"""Study YAML parsing, grid expansion and the resumable runner (fake train/eval functions)."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from _fakes import fake_config
from specinpaint.core.errors import ConfigError
from specinpaint.core.yaml_config import CONFIG_DIR
from specinpaint.studies.study import (
    RESULT_FILE,
    config_differences,
    expand_study,
    load_study,
    run_study,
    variant_dir,
)
from specinpaint.studies.study_run import evaluation_notes

THRESHOLD = math.log(2e-6)


def write(path, data):
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def fake_study(tmp_path, fake_plugins):
    """A two-variant study over the fake framing representation."""
    write(tmp_path / "base.yaml", fake_config())
    study = {
        "name": "fake",
        "base": "base.yaml",
        "overrides": {"training.quantizer.seed": 7},
        "variants": {
            "rows8": {"label": "8 rows", "overrides": {"representation.params.rows": 8}},
            "rows16": {"overrides": ["representation.params.rows=16"]},
        },
        "budgets": {
            "quick": {"overrides": {"training.quantizer.steps": 3}, "evaluation": {"max_notes": 2}},
            "long": {"overrides": {"training.quantizer.steps": 50}},
        },
        "budget": "quick",
    }
    return write(tmp_path / "study.yaml", study)


# -- the shipped study files -------------------------------------------------------------------

def test_representation_study_expands_to_the_four_variants():
    study = load_study("ablations/representation")
    variants = expand_study(study)
    assert [v.name for v in variants] == ["gansynth", "threshold", "compressed", "paper"]
    expected = {"gansynth": (700.0, None), "threshold": (700.0, THRESHOLD),
                "compressed": (275.0, None), "paper": (275.0, THRESHOLD)}
    dumped = [v.config.model_dump(mode="json") for v in variants]
    for v in variants:
        params = v.config.representation.params
        assert v.config.representation.name == "mel-if"
        brk, thr = expected[v.name]
        assert params["mel_break_frequency_hz"] == brk
        assert (params["phase_threshold"] is None) == (thr is None)
        if thr is not None:
            assert params["phase_threshold"] == pytest.approx(thr, abs=1e-9)
        assert v.budget == "cpu" and v.evaluation.max_notes == 32
    # controlled: only the representation (and the name) differ between variants
    for other in dumped[1:]:
        diffs = config_differences(dumped[0], other)
        assert diffs and all(d == "name" or d.startswith("representation.") for d in diffs), diffs
    assert len({v.fingerprint for v in variants}) == 4


def test_representation_study_budgets_and_paper_study():
    ci = expand_study(load_study("ablations/representation"), "ci")
    cpu = expand_study(load_study("ablations/representation"), "cpu")
    assert ci[0].config.training.quantizer.steps < cpu[0].config.training.quantizer.steps
    assert ci[0].evaluation.max_notes <= 8
    paper = load_study(CONFIG_DIR / "ablations" / "paper_representation.yaml")
    assert paper.spec.budget == "paper" and paper.spec.base == "../paper.yaml"
    assert list(paper.spec.variants) == ["gansynth", "threshold", "compressed", "paper"]
    variants = expand_study(paper)
    assert variants[0].config.representation.params["n_mels"] == 1024
    assert variants[0].config.num_samples == 64000


# -- grid mechanics on fakes -------------------------------------------------------------------

def test_override_order_and_evaluation(fake_study):
    study = load_study(fake_study)
    v8, v16 = expand_study(study, overrides=["training.quantizer.lr=0.01", "evaluation.silence_db=-50"])
    assert v8.config.representation.params["rows"] == 8
    assert v16.config.representation.params["rows"] == 16
    assert v8.config.training.quantizer.seed == v16.config.training.quantizer.seed == 7
    assert v8.config.training.quantizer.steps == 3  # budget "quick" (the study default)
    assert v8.config.training.quantizer.lr == 0.01  # command line applies to every variant
    assert v8.evaluation.max_notes == 2 and v8.evaluation.silence_db == -50
    assert v8.label == "8 rows" and v16.label == "rows16"
    assert v8.config.name == "fake-rows8"
    long = expand_study(study, "long")
    assert long[0].config.training.quantizer.steps == 50 and long[0].evaluation.max_notes == 32
    # the command line is applied last, over the variants' own overrides
    forced = expand_study(study, overrides=["representation.params.rows=4"])
    assert {v.config.representation.params["rows"] for v in forced} == {4}


def test_only_and_bad_names(fake_study):
    study = load_study(fake_study)
    assert [v.name for v in expand_study(study, only=["rows16"])] == ["rows16"]
    with pytest.raises(ConfigError, match="--only: unknown variant 'rows32'"):
        expand_study(study, only=["rows32"])
    with pytest.raises(ConfigError, match="--budget: unknown budget 'huge'.*quick, long"):
        expand_study(study, "huge")
    with pytest.raises(ConfigError, match=r"training\.quantizer\.stepz: unknown key"):
        expand_study(study, overrides=["training.quantizer.stepz=3"])
    with pytest.raises(ConfigError, match=r"evaluation\.max_notes"):
        expand_study(study, overrides=["evaluation.max_notes=zero"])


def test_variant_outside_varies_is_refused(tmp_path, fake_plugins):
    write(tmp_path / "base.yaml", fake_config())
    path = write(tmp_path / "s.yaml", {
        "name": "s", "base": "base.yaml",
        "variants": {"a": {"overrides": {"training.quantizer.steps": 5}}},
    })
    with pytest.raises(ConfigError, match="variants.a.overrides: 'training.quantizer.steps' is outside"):
        expand_study(load_study(path))


def test_study_file_errors(tmp_path, fake_plugins):
    write(tmp_path / "base.yaml", fake_config())
    bad = write(tmp_path / "bad.yaml", {"name": "s", "base": "base.yaml", "variants": {}})
    with pytest.raises(ConfigError, match=r"bad\.yaml: variants"):
        load_study(bad)
    typo = write(tmp_path / "typo.yaml", {"name": "s", "base": "base.yaml", "variantz": {}})
    with pytest.raises(ConfigError, match=r"typo\.yaml: (variants: missing required field|variantz: unknown key)"):
        load_study(typo)
    nobase = write(tmp_path / "nobase.yaml", {"name": "s", "base": "nope.yaml", "variants": {"a": {}}})
    with pytest.raises(ConfigError, match="base: no such pipeline config 'nope.yaml'"):
        expand_study(load_study(nobase))
    badbudget = write(tmp_path / "bb.yaml", {"name": "s", "base": "base.yaml", "variants": {"a": {}}, "budget": "x"})
    with pytest.raises(ConfigError, match="budget: 'x' is not one of the budgets"):
        load_study(badbudget)


def test_study_extends_another(tmp_path, fake_study):
    child = write(tmp_path / "child.yaml", {"extends": "study.yaml", "name": "child", "budget": "long"})
    variants = expand_study(load_study(child))
    assert [v.name for v in variants] == ["rows8", "rows16"]
    assert variants[0].config.training.quantizer.steps == 50
    assert variants[0].config.name == "child-rows8"


# -- runner: resumable, refuses mixing configs ---------------------------------------------------

def test_run_study_resumes_and_refuses_mismatch(tmp_path, fake_study):
    calls = []

    def trainer(variant, vdir):
        calls.append(variant.name)
        return variant.config.representation.params["rows"]

    def evaluator(rows, variant):
        if variant.name == "rows16" and boom["on"]:
            raise RuntimeError("interrupted")
        return {"sc_vs_raw": 1.0 / rows, "top_perplexity": float(rows)}

    boom = {"on": True}
    out = tmp_path / "out"
    study = load_study(fake_study)
    with pytest.raises(RuntimeError, match="interrupted"):
        run_study(study, out, trainer=trainer, evaluator=evaluator)
    assert (variant_dir(out, "rows8") / RESULT_FILE).is_file()
    assert not (variant_dir(out, "rows16") / RESULT_FILE).exists()
    boom["on"] = False
    results = run_study(study, out, trainer=trainer, evaluator=evaluator)
    assert calls == ["rows8", "rows16", "rows16"]  # rows8 was not trained again
    assert [r.metrics["sc_vs_raw"] for r in results] == [1 / 8, 1 / 16]
    assert (out / "results.csv").read_text().splitlines()[0].startswith("variant,label,sc_vs_raw")
    saved = json.loads((variant_dir(out, "rows16") / RESULT_FILE).read_text())
    assert saved["metrics"]["top_perplexity"] == 16.0 and saved["info"]["budget"] == "quick"
    # a second run does nothing; another config for the same out dir is refused unless --rerun
    run_study(study, out, trainer=trainer, evaluator=evaluator)
    assert len(calls) == 3
    with pytest.raises(ConfigError, match="trained with a different config.*--rerun"):
        run_study(study, out, trainer=trainer, evaluator=evaluator, budget="long")
    # another evaluation setting only re-evaluates (the real trainer reuses the saved bundle)
    (variant_dir(out, "rows8") / "marker").write_text("kept")
    again = run_study(study, out, trainer=trainer, evaluator=evaluator, overrides=["evaluation.silence_db=-40"])
    assert len(again) == 2 and (variant_dir(out, "rows8") / "marker").exists()
    # --rerun starts the variants again from an empty folder
    run_study(study, out, trainer=trainer, evaluator=evaluator, budget="long", rerun=True)
    assert len(calls) == 7 and not (variant_dir(out, "rows8") / "marker").exists()
    assert "steps: 50" in (variant_dir(out, "rows8") / "config.yaml").read_text()


def test_cli_list_shows_the_grid(capsys):
    from specinpaint.app.cli import main

    assert main(["ablate", "ablations/representation", "--list", "--budget", "ci"]) == 0
    out = capsys.readouterr().out
    assert "study representation: 4 variants, budget ci" in out
    assert "20 steps" in out
    for name in ("gansynth", "threshold", "compressed", "paper"):
        assert f"  {name} " in out
    assert "'mel_break_frequency_hz': 275.0" in out
    assert main(["ablate", "ablations/representation", "--list", "--budget", "nope"]) == 2
    assert "unknown budget 'nope'" in capsys.readouterr().err
    # options and overrides in any order, after or before the study
    assert main(["ablate", "--budget", "ci", "ablations/representation", "training.quantizer.steps=7",
                 "--list", "evaluation.max_notes=2"]) == 0
    assert "7 steps" in capsys.readouterr().out


def test_evaluation_notes_spread_over_the_split():
    assert evaluation_notes(3, 5) == [0, 1, 2]
    assert evaluation_notes(177, 8) == [0, 25, 50, 75, 101, 126, 151, 176]
    assert evaluation_notes(10, 1) == [0]


def test_cpu_budget_keeps_the_documented_training_budget():
    """docs/results/representation-ablation-cpu.md was measured with 300 quantizer steps at lr 1e-3; the
    cpu budget pins them, so the table stays reproducible whatever tiny.yaml's own budget becomes."""
    study = load_study(CONFIG_DIR / "ablations" / "representation.yaml")
    for variant in expand_study(study, budget="cpu"):
        assert variant.config.training.quantizer.steps == 300
        assert variant.config.training.quantizer.lr == 1.0e-3
