"""Study YAML parsing, grid expansion with seeds and the resumable runner (fake train/eval functions)."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from fakes.spine import fake_config
from specinpaint.core.errors import ConfigError
from specinpaint.core.yaml_config import CONFIG_DIR
from specinpaint.studies.study import config_differences, expand_study, load_study
from specinpaint.studies.study_results import RESULT_FILE
from specinpaint.studies.study_run import run_dir, run_study, trained_stages

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
            "quick": {"overrides": {"training.quantizer.steps": 3}, "evaluation": {"reconstruction_notes": 2}},
            "long": {"overrides": {"training.quantizer.steps": 50}},
        },
        "budget": "quick",
    }
    return write(tmp_path / "study.yaml", study)


# -- the shipped study files -------------------------------------------------------------------

def test_representation_study_expands_to_four_variants_times_three_seeds():
    study = load_study("ablations/representation")
    runs = expand_study(study)
    assert [r.name for r in runs[::3]] == ["gansynth", "threshold", "compressed", "paper"]
    assert [r.folder for r in runs[:3]] == ["gansynth/seed-0", "gansynth/seed-1", "gansynth/seed-2"]
    expected = {"gansynth": (700.0, None), "threshold": (700.0, THRESHOLD),
                "compressed": (275.0, None), "paper": (275.0, THRESHOLD)}
    for r in runs:
        params = r.config.representation.params
        assert r.config.representation.name == "mel-if"
        brk, thr = expected[r.name]
        assert params["mel_break_frequency_hz"] == brk
        assert (params["phase_threshold"] is None) == (thr is None)
        if thr is not None:
            assert params["phase_threshold"] == pytest.approx(thr, abs=1e-9)
        assert r.budget == "cpu"
        # the run's seed drives every training stage and the evaluation's sampling
        training = r.config.training
        assert training.quantizer.seed == training.prior("top").seed == training.prior("bottom").seed == r.seed
        assert r.evaluation.seed == r.seed
    # controlled: within one seed only the representation (and the name) differ between variants
    seed0 = [r.config.model_dump(mode="json") for r in runs if r.seed == 0]
    for other in seed0[1:]:
        diffs = config_differences(seed0[0], other)
        assert diffs and all(d == "name" or d.startswith("representation.") for d in diffs), diffs
    assert len({r.fingerprint for r in runs}) == 12


def test_representation_study_budgets_and_paper_study():
    study = load_study("ablations/representation")
    ci, cpu = expand_study(study, "ci"), expand_study(study, "cpu")
    # ci: one seed (in its seed folder, like every seeded run), reconstruction only, the quantizer alone (cheap)
    assert [r.folder for r in ci] == [f"{name}/seed-0" for name in ("gansynth", "threshold", "compressed", "paper")]
    assert ci[0].config.training.quantizer.steps < cpu[0].config.training.quantizer.steps
    assert ci[0].evaluation.sections == ["reconstruction"] and ci[0].evaluation.reconstruction_notes <= 8
    assert ci[0].evaluation.classifier.epochs == 1 and trained_stages(ci[0]) == ("vqvae",)
    # cpu: the whole pipeline, so generated pitch and family accuracy are measured
    assert trained_stages(cpu[0]) == ("vqvae", "prior-top", "prior-bottom")
    assert {"generation", "inpainting", "priors"} <= set(cpu[0].evaluation.sections)
    assert sorted({r.seed for r in cpu}) == [0, 1, 2]
    paper = load_study(CONFIG_DIR / "ablations" / "paper_representation.yaml")
    assert paper.spec.budget == "paper" and paper.spec.base == "../paper.yaml"
    assert list(paper.spec.variants) == ["gansynth", "threshold", "compressed", "paper"]
    runs = expand_study(paper)
    assert runs[0].config.representation.params["n_mels"] == 1024
    assert runs[0].config.num_samples == 64000
    assert len(runs) == 4 and trained_stages(runs[0]) == ("vqvae",)


def test_cpu_budget_follows_the_base_recipe():
    """The cpu budget overrides no training setting: each run trains with the base config's
    (tiny.yaml's) recipe, whatever it becomes; only the seeds differ."""
    from specinpaint.core.yaml_config import load_config

    tiny_config = load_config(CONFIG_DIR / "tiny.yaml")
    tiny, tiny_quantizer = tiny_config.training.model_dump(), tiny_config.quantizer.model_dump()
    for run in expand_study(load_study("ablations/representation"), "cpu"):
        training = run.config.training.model_dump()
        assert set(training["priors"]) == set(tiny["priors"]) == {"top", "bottom"}
        pairs = [(training["quantizer"], tiny["quantizer"])]
        pairs += [(training["priors"][level], tiny["priors"][level]) for level in tiny["priors"]]
        for settings, expected in pairs:
            assert {k: v for k, v in settings.items() if k != "seed"} == {k: v for k, v in expected.items() if k != "seed"}
        assert set(run.config.priors) == {"top", "bottom"}
        assert run.config.quantizer.model_dump() == tiny_quantizer  # the decoder that takes the labels too


def test_before_clean_loss_budget_keeps_the_second_tables_recipe():
    """The 2026-12-02 tables were measured before tiny.yaml's quantizer loss saw the cleaned output:
    that budget pins it off and differs from the cpu budget in no other quantizer setting."""
    study = load_study("ablations/representation")
    current = {r.name: r.config for r in expand_study(study, "cpu")}
    for run in expand_study(study, "cpu-before-clean-loss"):
        assert run.config.quantizer.params["recon_after_clean"] is False
        assert current[run.name].quantizer.params["recon_after_clean"] is True  # tiny.yaml's recipe now
        params = dict(run.config.quantizer.params, recon_after_clean=True)
        assert params == current[run.name].quantizer.params
        then, now = run.config.sampling, current[run.name].sampling  # the sampling of its tables
        assert (then.guidance_scale, then.guidance_drop) == (2.0, "both")
        assert (now.guidance_scale, now.guidance_drop) == (4.0, "family")  # tiny.yaml's since
        assert run.config.training.quantizer.cache_spectrograms is False  # a field added since: its default
        now_training = current[run.name].training.quantizer  # (the last seed's run of the variant)
        training = run.config.training.quantizer.model_copy(update={"cache_spectrograms": True, "seed": now_training.seed})
        assert training == now_training  # nothing else of the training differs
        assert run.config.representation.params["harmonic_inverse"] is False  # the inversion of its tables
        assert current[run.name].representation.params["harmonic_inverse"] is True  # tiny.yaml's since
        representation = dict(run.config.representation.params, harmonic_inverse=True)
        assert representation == current[run.name].representation.params  # the variant's own settings kept


def test_pre_comb_budget_keeps_the_first_tables_recipe():
    """The first table was measured before the decoder took the notes' labels: its budget pins
    that decoder off (and the then priors' steps and guidance), so the table stays reproducible."""
    for run in expand_study(load_study("ablations/representation"), "cpu-pre-comb"):
        params = run.config.quantizer.params
        assert params["decoder_label_channels"] == 0 and params["decoder_harmonic_gain"] is False
        assert run.config.training.prior("bottom").steps == 2000 and run.config.sampling.guidance_scale == 3.0
        assert run.config.sampling.guidance_drop == "both"
        assert run.config.representation.params["harmonic_inverse"] is False
        assert all(run.config.training.prior(level).lr == 1e-3 for level in ("top", "bottom"))


def test_before_clean_loss_budget_keeps_its_tables_prior_training():
    """Its tables were measured with 2000 prior steps at lr 1e-3 (tiny.yaml's priors have trained
    1200 steps at 5e-3 since): the budget pins them, so the tables stay reproducible."""
    for run in expand_study(load_study("ablations/representation"), "cpu-before-clean-loss"):
        for level in ("top", "bottom"):
            stage = run.config.training.prior(level)
            assert (stage.steps, stage.lr, stage.eval_every) == (2000, 1e-3, 500)


# -- grid mechanics on fakes -------------------------------------------------------------------

def test_override_order_and_evaluation(fake_study):
    study = load_study(fake_study)
    v8, v16 = expand_study(study, overrides=["training.quantizer.lr=0.01", "evaluation.silence_db=-50"])
    assert v8.config.representation.params["rows"] == 8
    assert v16.config.representation.params["rows"] == 16
    assert v8.config.training.quantizer.seed == v16.config.training.quantizer.seed == 7
    assert v8.config.training.quantizer.steps == 3  # budget "quick" (the study default)
    assert v8.config.training.quantizer.lr == 0.01  # command line applies to every variant
    assert v8.evaluation.reconstruction_notes == 2 and v8.evaluation.silence_db == -50
    assert v8.label == "8 rows" and v16.label == "rows16"
    assert v8.config.name == "fake-rows8"
    long = expand_study(study, "long")
    assert long[0].config.training.quantizer.steps == 50 and long[0].evaluation.reconstruction_notes == 64
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
    with pytest.raises(ConfigError, match=r"evaluation\.reconstruction_notes: Input should be a valid integer"):
        expand_study(study, overrides=["evaluation.reconstruction_notes=zero"])
    with pytest.raises(ConfigError, match=r"evaluation\.max_notes: unknown key \(use reconstruction_notes"):
        expand_study(study, overrides=["evaluation.max_notes=4"])


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
    # the former study-only evaluation keys are refused with what replaced them
    old = write(tmp_path / "old.yaml", {"name": "s", "base": "base.yaml", "variants": {"a": {}},
                                        "evaluation": {"max_notes": 8, "pitch": True}})
    with pytest.raises(ConfigError, match=r"old\.yaml: evaluation\.max_notes: unknown key \(use reconstruction_notes"):
        load_study(old)
    sections = write(tmp_path / "sec.yaml", {"name": "s", "base": "base.yaml", "variants": {"a": {}},
                                             "evaluation": {"sections": ["reconstruction", "vibes"]}})
    with pytest.raises(ConfigError, match=r"sec\.yaml: evaluation\.sections\.1: Input should be"):
        load_study(sections)
    budget_eval = write(tmp_path / "be.yaml", {"name": "s", "base": "base.yaml", "variants": {"a": {}},
                                               "budgets": {"ci": {"evaluation": {"classifier": {"epoch": 1}}}}})
    with pytest.raises(ConfigError, match=r"be\.yaml: budgets\.ci\.evaluation\.classifier\.epoch: unknown key"):
        load_study(budget_eval)
    for bad, why in (([], "at least one seed"), ([1, 1], "distinct"), ([0, -1], ">= 0")):
        path = write(tmp_path / "seeds.yaml", {"name": "s", "base": "base.yaml", "variants": {"a": {}}, "seeds": bad})
        with pytest.raises(ConfigError, match=rf"seeds\.yaml: seeds: .*{why}"):
            load_study(path)


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

    def evaluator(rows, run, directory):
        assert directory == run_dir(out, run)
        if run.name == "rows16" and boom["on"]:
            raise RuntimeError("interrupted")
        return {"reconstruction.sc": 1.0 / rows, "reconstruction.top_perplexity": float(rows)}

    boom = {"on": True}
    out = tmp_path / "out"
    study = load_study(fake_study)
    with pytest.raises(RuntimeError, match="interrupted"):
        run_study(study, out, trainer=trainer, evaluator=evaluator)
    assert (run_dir(out, "rows8") / RESULT_FILE).is_file()
    assert not (run_dir(out, "rows16") / RESULT_FILE).exists()
    boom["on"] = False
    results = run_study(study, out, trainer=trainer, evaluator=evaluator)
    assert calls == ["rows8", "rows16", "rows16"]  # rows8 was not trained again
    assert [r.metrics["reconstruction.sc"] for r in results] == [1 / 8, 1 / 16]
    assert (out / "results.csv").read_text().splitlines()[0].startswith("variant,label,seed,reconstruction.sc,")
    saved = json.loads((run_dir(out, "rows16") / RESULT_FILE).read_text())
    assert saved["metrics"]["reconstruction.top_perplexity"] == 16.0 and saved["info"]["budget"] == "quick"
    assert saved["seed"] is None and set(saved["timings"]) == {"train_s", "eval_s"}
    # a second run does nothing; another config for the same out dir is refused unless --rerun
    run_study(study, out, trainer=trainer, evaluator=evaluator)
    assert len(calls) == 3
    with pytest.raises(ConfigError, match="trained with a different config.*--rerun"):
        run_study(study, out, trainer=trainer, evaluator=evaluator, budget="long")
    # another evaluation setting only re-evaluates (the real trainer reuses the saved bundle)
    (run_dir(out, "rows8") / "marker").write_text("kept")
    again = run_study(study, out, trainer=trainer, evaluator=evaluator, overrides=["evaluation.silence_db=-40"])
    assert len(again) == 2 and (run_dir(out, "rows8") / "marker").exists()
    # --rerun starts the variants again from an empty folder
    run_study(study, out, trainer=trainer, evaluator=evaluator, budget="long", rerun=True)
    assert len(calls) == 7 and not (run_dir(out, "rows8") / "marker").exists()
    assert "steps: 50" in (run_dir(out, "rows8") / "config.yaml").read_text()


def test_seeds_run_every_variant_once_per_seed(tmp_path, fake_study):
    calls = []

    def trainer(run, directory):
        calls.append(run.folder)
        return run.config

    def evaluator(config, run, directory):
        # a measure that moves with the seed (noise) and one that moves with the variant
        rows = config.representation.params["rows"]
        return {"reconstruction.sc": 1.0 / rows + 0.01 * run.seed, "generation.pitch_accuracy": 0.5}

    study = load_study(fake_study)
    out = tmp_path / "out"
    results = run_study(study, out, trainer=trainer, evaluator=evaluator, seeds=[0, 1, 2])
    assert calls == [f"rows{r}/seed-{k}" for r in (8, 16) for k in (0, 1, 2)]
    assert [r.seed for r in results] == [0, 1, 2, 0, 1, 2]
    saved = (run_dir(out, "rows8/seed-1") / "config.yaml").read_text()
    assert saved.count("seed: 1") == 2  # training.quantizer and training.priors.top (the fake's one level)
    assert json.loads((run_dir(out, "rows8/seed-2") / RESULT_FILE).read_text())["seed"] == 2
    md = (out / "results.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| `sc` |"))
    # mean ± std over the seeds; rows16 beats rows8 by more than the noise, so it is bold
    assert row == "| `sc` | ↓ | 0.135 ± 0.01 | **0.0725 ± 0.01** |"
    pitch = next(line for line in md.splitlines() if line.startswith("| `pitch_accuracy` |"))
    assert "| 0.5 ± 0 |" in pitch and "**" not in pitch  # a tie is never marked best
    assert "rows8 (n=3)" in md and "seeds 0, 1, 2" in md
    csv_rows = (out / "results.csv").read_text().splitlines()
    assert csv_rows[0] == "variant,label,seed,reconstruction.sc,generation.pitch_accuracy,train_s,eval_s"
    assert [r.split(",")[2] for r in csv_rows[1:]] == ["0", "1", "2", "mean", "std"] * 2
    payload = json.loads((out / "results.json").read_text())
    first = payload["variants"][0]
    assert first["seeds"] == [0, 1, 2] and first["mean"]["reconstruction.sc"] == pytest.approx(0.135)
    assert [r["values"]["reconstruction.sc"] for r in first["runs"]] == pytest.approx([0.125, 0.135, 0.145])
    # finished seeds are skipped; a new seed only runs that seed
    run_study(study, out, trainer=trainer, evaluator=evaluator, seeds=[0, 1, 2, 3])
    assert calls[6:] == ["rows8/seed-3", "rows16/seed-3"]
    # a one-seed invocation has the same layout; --rerun of it keeps the other seeds' folders
    run_study(study, out, trainer=trainer, evaluator=evaluator, seeds=[5], only=["rows8"])
    assert (run_dir(out, "rows8/seed-5") / RESULT_FILE).is_file()
    run_study(study, out, trainer=trainer, evaluator=evaluator, seeds=[5], only=["rows8"], rerun=True)
    assert calls[8:] == ["rows8/seed-5", "rows8/seed-5"]
    assert (run_dir(out, "rows8/seed-2") / RESULT_FILE).is_file()
    md = (out / "results.md").read_text()
    assert "±" not in md and "one run per variant" in md  # --only: the table of the current grid


def test_a_study_run_a_few_seeds_at_a_time_adds_up_to_one_table(tmp_path, fake_study):
    """--seeds 0, then --seeds 1 (each a one-seed invocation), then the table of both without
    training: one run per seed, none trained twice, and a run that an earlier version saved in
    variants/NAME (its one-seed layout) is reused where it is."""
    from specinpaint.studies.study_run import report_finished

    calls = []

    def trainer(run, directory):
        calls.append(run.folder)
        return run.config

    def evaluator(config, run, directory):
        return {"reconstruction.sc": 1.0 / config.representation.params["rows"] + 0.01 * run.seed}

    study = load_study(fake_study)
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="no finished run of study 'fake'"):
        report_finished(study, out, seeds=[0, 1])
    run_study(study, out, trainer=trainer, evaluator=evaluator, seeds=[0])
    # rows16 seed 0 as an earlier version left it: in variants/rows16 itself
    legacy = out / "variants" / "rows16"
    for entry in list((legacy / "seed-0").iterdir()):
        entry.rename(legacy / entry.name)
    (legacy / "seed-0").rmdir()
    run_study(study, out, trainer=trainer, evaluator=evaluator, seeds=[1])
    assert calls == ["rows8/seed-0", "rows16/seed-0", "rows8/seed-1", "rows16/seed-1"]
    results = report_finished(study, out, seeds=[0, 1])
    assert [(r.name, r.seed) for r in results] == [("rows8", 0), ("rows8", 1), ("rows16", 0), ("rows16", 1)]
    assert len(calls) == 4  # the report trained nothing
    row = next(line for line in (out / "results.md").read_text().splitlines() if line.startswith("| `sc` |"))
    assert row == "| `sc` | ↓ | 0.13 ± 0.0071 | **0.0675 ± 0.0071** |"
    # asking for every seed again trains only what is missing (here: nothing)
    run_study(study, out, trainer=trainer, evaluator=evaluator, seeds=[0, 1])
    assert len(calls) == 4
    only = report_finished(study, out, seeds=[0, 1], only=["rows16"])
    assert {r.name for r in only} == {"rows16"} and "rows8" not in (out / "results.md").read_text()


def test_cli_list_shows_the_grid(capsys):
    from specinpaint.app.cli import main

    assert main(["ablate", "ablations/representation", "--list", "--budget", "ci"]) == 0
    out = capsys.readouterr().out
    assert "study representation: 4 variants × 1 seed(s) = 4 runs, budget ci" in out
    assert "20 steps" in out and "trains quantizer only" in out
    assert "evaluation: reconstruction; 4 reconstruction notes" in out
    for name in ("gansynth", "threshold", "compressed", "paper"):
        assert f"  {name} " in out
    assert "'mel_break_frequency_hz': 275.0" in out
    assert main(["ablate", "ablations/representation", "--list", "--budget", "nope"]) == 2
    assert "unknown budget 'nope'" in capsys.readouterr().err
    # options and overrides in any order, after or before the study
    assert main(["ablate", "--budget", "ci", "ablations/representation", "training.quantizer.steps=7",
                 "--list", "evaluation.reconstruction_notes=2", "--seeds", "3,4"]) == 0
    out = capsys.readouterr().out
    assert "7 steps" in out and "= 8 runs" in out and "seeds: 3, 4" in out
    assert main(["ablate", "ablations/representation", "--list"]) == 0
    out = capsys.readouterr().out
    assert "4 variants × 3 seed(s) = 12 runs, budget cpu" in out and "trains quantizer + priors" in out
    assert main(["ablate", "ablations/representation", "--list", "--seeds", "1,x"]) == 2
    assert "--seeds: expected comma-separated integers, got '1,x'" in capsys.readouterr().err
    assert main(["ablate", "ablations/representation", "--list", "--seeds", "1,1"]) == 2
    assert "--seeds: seeds must be distinct" in capsys.readouterr().err


def test_notes_spread_over_the_split():
    """The evaluation's notes (studies/notes.py) are spread evenly, the same for every run."""
    from specinpaint.studies.notes import spread

    assert spread(3, 5) == [0, 1, 2]
    assert spread(177, 8) == [0, 25, 50, 75, 101, 126, 151, 176]
    assert spread(10, 1) == [0]


def test_cli_report_only_writes_the_table_of_finished_runs_and_trains_nothing(tmp_path, fake_study, capsys):
    from specinpaint.app.cli import main

    out = tmp_path / "out"
    assert main(["ablate", str(fake_study), "--out", str(out), "--report-only"]) == 2
    assert "no finished run of study 'fake'" in capsys.readouterr().err
    study = load_study(fake_study)
    run_study(study, out, trainer=lambda run, d: run.config, evaluator=lambda c, run, d: {"reconstruction.sc": 0.5},
              only=["rows8"])
    (out / "results.md").unlink()
    assert main(["ablate", str(fake_study), "--out", str(out), "--report-only"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("1 finished runs ->") and "| `sc` |" in printed
    assert (out / "results.md").is_file() and not (out / "variants" / "rows16").exists()


def test_a_run_saved_before_a_new_config_field_is_still_finished(tmp_path, fake_study):
    """A version that adds a config field (with a default) changes every run's config text and
    fingerprint; runs saved by the older version are still recognised, not trained again."""
    calls = []

    def trainer(variant, vdir):
        calls.append(variant.name)
        return variant.config.representation.params["rows"]

    def evaluator(rows, run, directory):
        return {"reconstruction.sc": 1.0 / rows}

    out = tmp_path / "out"
    study = load_study(fake_study)
    run_study(study, out, trainer=trainer, evaluator=evaluator)
    assert calls == ["rows8", "rows16"]
    runs = {run.name: run for run in expand_study(study, None)}
    for name, run in runs.items():  # rewrite both runs as the older version saved them
        config_file, result_file = run_dir(out, name) / "config.yaml", run_dir(out, name) / RESULT_FILE
        older = yaml.safe_load(config_file.read_text())
        assert older["training"]["quantizer"].pop("weight_decay") == 0.0
        older_yaml = yaml.safe_dump(older, sort_keys=False)
        config_file.write_text(older_yaml)
        result = json.loads(result_file.read_text())
        result["fingerprint"] = run.fingerprint_of(older_yaml)
        result_file.write_text(json.dumps(result))
        assert result["fingerprint"] != run.fingerprint and run.same_config(older_yaml)
    results = run_study(study, out, trainer=trainer, evaluator=evaluator)
    assert calls == ["rows8", "rows16"] and [r.metrics["reconstruction.sc"] for r in results] == [1 / 8, 1 / 16]
    # a saved value that differs from the default is another run, not an older version of this one
    config_file = run_dir(out, "rows8") / "config.yaml"
    other = yaml.safe_load(config_file.read_text())
    other["training"]["quantizer"]["weight_decay"] = 0.5
    assert not runs["rows8"].same_config(yaml.safe_dump(other, sort_keys=False))
    assert not runs["rows8"].same_config("not: [valid")
