"""`specinpaint run` ends with a quick evaluation of the real tiny pipeline (a few training steps on
a tiny SoundFont render) that writes every report field and is summarised in report.html;
`specinpaint evaluate` re-measures a bundle with other settings."""

from __future__ import annotations

import json

import pytest

from specinpaint.app.cli import main
from specinpaint.core.yaml_config import CONFIG_DIR

STEPS = {"steps": 3, "batch_size": 4, "eval_every": 3, "checkpoint_every": 3, "log_every": 1, "device": "cpu",
         "eval_batches": 1}
EVAL = ["seeds=1", "pitches_per_family=1", "reconstruction_notes=4", "inpainting_notes=2", "prior_notes=4",
        "classifier.epochs=1", "classifier.max_train_notes=16", "classifier.width=4"]
SECTION_FIELDS = {
    "reconstruction": {"sc", "lsd_db", "mrstft", "level_error_db_mean", "level_error_db_std", "pitch_accuracy",
                       "raw_pitch_accuracy", "family_accuracy", "raw_family_accuracy", "top_perplexity",
                       "bottom_dead_fraction", "bottom_silent_entropy_bits", "top_cell_entropy_bits"},
    "generation": {"pitch_accuracy", "octave_error_rate", "unvoiced_rate", "family_accuracy",
                   "classifier_heldout_accuracy", "family_accuracy_ratio"},
    "inpainting": {"codes_outside_unchanged", "outside_lsd_db", "inside_lsd_db", "pitch_accuracy"},
    "priors": {"top_nll", "top_accuracy", "top_nll_region", "bottom_nll", "bottom_accuracy", "top_perplexity",
               "bottom_dead_fraction", "top_pitch_gain", "top_label_gain", "bottom_pitch_gain", "bottom_label_gain"},
}


# tiny.yaml's data at CI size: one built-in-SoundFont instrument per family, every 12th pitch
CI_RENDER = {"instruments_per_family": 1, "pitch_step": 12, "unseen_instruments_per_family": 0, "soundfont": None}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The default job on the tiny config: 3 steps per stage on the tiny render (every family)."""
    root = tmp_path_factory.mktemp("job")
    config = root / "tiny-ci.yaml"
    config.write_text(json.dumps({
        "extends": str(CONFIG_DIR / "tiny.yaml"), "data": {"render": CI_RENDER},
        "training": {"quantizer": STEPS, "priors": {"top": STEPS, "bottom": STEPS}},
    }))
    out = root / "out"
    args = ["run", "--config", str(config), "-o", str(out), "--no-progress"]
    assert main([*args, *[f"--eval-set={e}" for e in EVAL]]) == 0
    return out


def test_run_writes_a_complete_evaluation_and_links_it(trained, capsys):
    report = json.loads((trained / "evaluation" / "evaluation.json").read_text())
    for section, fields in SECTION_FIELDS.items():
        metrics = report["sections"][section]["metrics"]
        assert fields <= set(metrics), (section, fields - set(metrics))
    inpainting = report["sections"]["inpainting"]
    assert inpainting["metrics"]["codes_outside_unchanged"] == 1.0
    assert set(inpainting["per_region"]) == {"time", "frequency", "box"}
    generation = report["sections"]["generation"]
    assert generation["metrics"]["notes"] == len(generation["details"]["notes"]) == 11  # 11 families x 1 x 1
    assert set(generation["per_family"]) and set(generation["per_register"]) <= {"low", "middle", "high"}
    assert {"classifier", "reconstruction", "generation", "inpainting", "priors", "train_quantizer"} <= set(
        report["timings"])
    assert report["info"]["spec"]["seeds"] == 1 and report["info"]["split"] == "valid"
    markdown = (trained / "evaluation" / "evaluation.md").read_text()
    assert "generated pitch accuracy" in markdown and "## Inpainting per region" in markdown
    plots = {p.name for p in (trained / "evaluation" / "plots").glob("*.png")}
    assert {"generation_per_family.png", "generation_per_register.png", "reconstruction_level.png"} <= plots
    html = (trained / "report.html").read_text()
    assert "Evaluation (quick)" in html and 'href="evaluation/evaluation.md"' in html

    stamp = (trained / "evaluation" / "evaluation.json").stat().st_mtime_ns
    args = ["run", "--config", str(trained.parent / "tiny-ci.yaml"), "-o", str(trained), "--no-progress"]
    assert main([*args, *[f"--eval-set={e}" for e in EVAL]]) == 0
    assert (trained / "evaluation" / "evaluation.json").stat().st_mtime_ns == stamp  # same bundle: reused
    assert "generated pitch accuracy" in capsys.readouterr().out


def test_evaluate_command_measures_chosen_sections(trained, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", str(trained / "bundle"), "--quick", "--out", str(out),
                 "--sections", "reconstruction,priors", *EVAL]) == 0
    printed = capsys.readouterr().out
    assert "reconstruction SC" in printed and "top prior NLL" in printed and "generated" not in printed
    report = json.loads((out / "evaluation.json").read_text())
    assert set(report["sections"]) == {"reconstruction", "priors"}
    assert report["info"]["classifier"]["cached"] is True  # trained by the run, reused here


def test_evaluate_rejects_unknown_settings(trained, capsys):
    assert main(["evaluate", str(trained / "bundle"), "sedes=3"]) == 2
    assert "evaluation setting sedes: unknown setting" in capsys.readouterr().err
