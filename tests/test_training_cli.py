"""`specinpaint train …` and `specinpaint extract-codes …` end to end on the synthetic plugins."""

from __future__ import annotations

import pytest
import torch
import yaml

from fakes.training import synthetic_config, synthetic_plugins
from specinpaint.app.cli import main
from specinpaint.core import Pipeline
from specinpaint.data.code_store import CodeStore
from specinpaint.training.checkpoint import read_header


@pytest.fixture
def config_file(tmp_path, one_thread):
    path = tmp_path / "synthetic.yaml"
    config = synthetic_config(count=24)
    for section in (config["training"]["quantizer"], *config["training"]["priors"].values()):
        section.update(steps=4, eval_every=2, checkpoint_every=2, log_every=2)
    path.write_text(yaml.safe_dump(config))
    with synthetic_plugins():
        yield path


def test_train_stages_resume_and_extract(config_file, tmp_path, capsys):
    run = tmp_path / "run"
    args = [str(config_file), "--out", str(run), "--no-progress"]
    assert main(["train", "vqvae", *args, "--stop-after", "2"]) == 0
    assert read_header(run / "quantizer/checkpoints/last.pt")["step"] == 2
    assert not (run / "bundle").exists()  # unfinished: no bundle yet
    assert main(["train", "vqvae", *args]) == 2  # an existing run needs --resume
    assert "pass --resume" in capsys.readouterr().err
    assert main(["train", "vqvae", *args, "--resume"]) == 0
    assert read_header(run / "quantizer/checkpoints/last.pt")["step"] == 4

    # both priors with one command; codes are extracted into RUN_DIR/codes on the way
    assert main(["train", "all", str(config_file), "training.priors.top.lr=0.01", *args[1:], "--resume"]) == 0
    out = capsys.readouterr().out
    assert "prior-top: finished at step 4" in out and "prior-bottom: finished at step 4" in out
    bundle = Pipeline.load(run / "bundle")
    assert set(bundle.extras["trained"]) == {"quantizer", "prior_top", "prior_bottom"}
    train_store = CodeStore(run / "codes/train")
    assert len(train_store) == 24 and train_store.meta["quantizer_date"] == bundle.extras["trained"]["quantizer"]["date"]

    # re-running a finished stage keeps the bundle (and the priors trained after it)
    assert main(["train", "vqvae", *args, "--resume"]) == 0
    assert set(Pipeline.load(run / "bundle").extras["trained"]) == {"quantizer", "prior_top", "prior_bottom"}

    assert main(["extract-codes", str(run / "bundle"), "config", "--out", str(tmp_path / "codes"),
                 "--split", "valid", "--no-progress"]) == 0
    valid = CodeStore(tmp_path / "codes/valid")
    assert valid.split == "valid" and valid.shapes == {"top": (8, 4), "bottom": (16, 8)}


def test_train_refuses_configs_that_do_not_match_the_run(config_file, tmp_path, capsys):
    run = tmp_path / "run"
    args = ["--out", str(run), "--no-progress"]
    assert main(["train", "prior-top", str(config_file), *args]) == 2
    assert "run `specinpaint train vqvae` first" in capsys.readouterr().err
    assert main(["train", "vqvae", str(config_file), *args]) == 0
    capsys.readouterr()
    code = main(["train", "prior-top", str(config_file), "quantizer.params.num_codes=16", *args])
    err = capsys.readouterr().err
    assert code == 2 and "quantizer.params.num_codes: bundle has 32, config has 16" in err
    assert err.count("\n") == 1
    code = main(["train", "vqvae", str(config_file), "quantizer.params.embed_dim=4", *args, "--resume"])
    err = capsys.readouterr().err
    assert code == 2 and "checkpoint does not match the config: quantizer.params.embed_dim" in err


def test_overrides_may_follow_the_options(config_file, tmp_path, capsys):
    run = tmp_path / "run"
    args = ["--out", str(run), "--no-progress"]
    assert main(["train", "vqvae", str(config_file), *args]) == 0
    capsys.readouterr()
    code = main(["train", "prior-top", str(config_file), *args, "quantizer.params.num_codes=16"])
    assert code == 2 and "quantizer.params.num_codes: bundle has 32, config has 16" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # a stray word is still an argparse error, not an override
        main(["train", "vqvae", str(config_file), *args, "stray"])
    assert exc.value.code == 2 and "unrecognized arguments: stray" in capsys.readouterr().err


def test_stages_come_from_the_quantizer_levels_with_a_prior(synthetic_one_thread):
    from specinpaint.core import load_config
    from specinpaint.training.stages import stages_for

    config = synthetic_config(count=4)
    assert stages_for(load_config(config)) == ("vqvae", "prior-top", "prior-bottom")
    config["priors"] = {"bottom": config["priors"]["bottom"], "top": config["priors"]["top"]}  # order of the YAML
    assert stages_for(load_config(config)) == ("vqvae", "prior-top", "prior-bottom")  # coarsest level first
    del config["priors"]["bottom"], config["training"]["priors"]["bottom"]
    assert stages_for(load_config(config)) == ("vqvae", "prior-top")
    assert stages_for(load_config(synthetic_config(count=4, priors=False))) == ("vqvae",)


def test_train_names_the_stages_of_the_config(config_file, tmp_path, capsys):
    args = ["--out", str(tmp_path / "run"), "--no-progress"]
    assert main(["train", "quantiser", str(config_file), *args]) == 2
    err = capsys.readouterr().err
    assert "unknown training stage 'quantiser' (stages of this config: vqvae, prior-top, prior-bottom, all)" in err
    assert len(err.strip().splitlines()) == 1
    assert main(["train", "prior-middle", str(config_file), *args]) == 0  # no prior for that level: skipped
    assert "skipping prior-middle: the config has no prior for that level" in capsys.readouterr().out


def test_a_prior_stage_on_a_trained_bundle_starts_fresh_unless_fine_tuned(config_file, tmp_path):
    """A prior stage run on another run's finished bundle must not silently continue from its
    trained prior (its step count would then understate the training); --fine-tune does on purpose.
    The second runs learn at lr 1e-12, so their bundles hold the weights they started from; a
    resumed finished stage keeps its own checkpoint's weights."""
    run = tmp_path / "run"
    assert main(["train", "all", str(config_file), "training.priors.top.lr=0.05", "--out", str(run), "--no-progress"]) == 0
    trained = Pipeline.load(run / "bundle").priors["top"].state_dict()

    def second_run(name, *flags):
        out = tmp_path / name
        assert main(["train", "prior-top", str(config_file), "training.priors.top.lr=1e-12", "--out", str(out),
                     "--bundle", str(run / "bundle"), "--codes", str(run / "codes"), "--no-progress", *flags]) == 0
        weights = Pipeline.load(out / "bundle").priors["top"].state_dict()
        return max((weights[k] - trained[k]).abs().max().item() for k in trained if trained[k].is_floating_point())

    assert second_run("fine-tuned", "--fine-tune") < 1e-6
    # fresh weights (the stage's seed) are far from the prior trained 4 steps at lr 0.05
    assert second_run("fresh") > 5e-2
    # re-running the finished run's stage resumes from its checkpoint: the bundle's prior is kept
    assert main(["train", "prior-top", str(config_file), "training.priors.top.lr=0.05", "--out", str(run),
                 "--no-progress", "--resume"]) == 0
    kept = Pipeline.load(run / "bundle").priors["top"].state_dict()
    assert all(torch.equal(kept[k], trained[k]) for k in trained)
