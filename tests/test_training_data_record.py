"""The bundle records what it was trained on: the dataset's label encoders (fitted once over the
whole dataset, never per split) and the split description, written by the vqvae stage and kept by
the prior stages."""

from __future__ import annotations

import json
import warnings

import pytest

from fakes.nsynth import write_fake_nsynth
from fakes.training import synthetic_config
from specinpaint.app.cli import main
from specinpaint.app.server import create_app
from specinpaint.core import Pipeline, load_config
from specinpaint.data.labels import LabelEncoders
from specinpaint.training import train_all, train_quantizer
from specinpaint.training.data import build_dataset

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

NUM_SAMPLES = 2048  # the synthetic representation's note length


pytestmark = pytest.mark.usefixtures("synthetic_one_thread")


def _nsynth_config(root, splits_file):
    """The synthetic pipeline (tiny STFT, VQ-VAE-2, per-position priors) on a real ``nsynth``
    dataset: NSynth-format tones written by `write_fake_nsynth`, with a family filter."""
    config = synthetic_config()
    config["data"] = {"dataset": {"name": "nsynth", "params": {
        "root": str(root), "expected_samples": NUM_SAMPLES, "split_seed": 7, "splits_file": str(splits_file),
        "families": ["bass", "guitar", "keyboard"],
    }}}
    for section in (config["training"]["quantizer"], *config["training"]["priors"].values()):
        section.update(steps=2, eval_every=2, checkpoint_every=2, log_every=1)
    return load_config(config)


def test_trained_bundle_carries_the_datasets_label_encoders_and_split(tmp_path, capsys):
    root = write_fake_nsynth(tmp_path / "nsynth", num_samples=NUM_SAMPLES)
    config = _nsynth_config(root, tmp_path / "split.json")
    train_set, valid_set = build_dataset(config, "train"), build_dataset(config, "valid")
    assert train_set.labels == valid_set.labels  # fitted over the whole dataset, not per split

    pipeline = train_all(config, tmp_path / "run", progress=False)  # vqvae, prior-top, prior-bottom
    assert set(pipeline.extras["trained"]) == {"quantizer", "prior_top", "prior_bottom"}
    saved = json.loads((tmp_path / "run/bundle/extras.json").read_text())
    for extras in (pipeline.extras, saved):  # kept when the prior stages re-saved the bundle
        assert extras["labels"] == train_set.labels.to_json()
        labels = LabelEncoders.from_json(extras["labels"])
        assert labels == train_set.labels
        assert LabelEncoders.from_json(json.dumps(extras["labels"])).to_json() == extras["labels"]
        # every split directory after filters: test-only instruments (…_002) and pitches (48 is in
        # train and test, 36 in valid only) are in; 21 and 90 (outside 24..84) and synth_lead are out
        assert labels.instrument_str.classes == [f"{name}_{i:03d}" for name in (
            "bass_acoustic", "guitar_acoustic", "guitar_electronic", "keyboard_electronic") for i in range(3)]
        assert labels.pitch.classes == [24, 36, 48, 60, 84]
        data = extras["data"]
        assert data["dataset"] == "nsynth" and data["train_split"] == "train" and data["valid_split"] == "valid"
        assert data["notes"] == {"train": len(train_set), "valid": len(valid_set)}
        assert data["split_scheme"] == "paper" and data["split_seed"] == 7
        assert data["splits_file"] == str(tmp_path / "split.json") and (tmp_path / "split.json").is_file()
        assert data["split_train_fraction"] == pytest.approx(0.8)
        assert data["filters"]["families"] == ["bass", "guitar", "keyboard"]
        assert data["filters"]["pitch"] == [24, 84]
        assert labels.instrument_family.present == ["bass", "guitar", "keyboard"]
    # the bundle offers exactly the three families it was trained on: CLI help and /api/info
    with pytest.raises(SystemExit):
        main(["generate", "-b", str(tmp_path / "run/bundle"), "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    offered = help_text[help_text.index("--family FAMILY"):help_text.index("-h, --help")]
    assert "bass, guitar, keyboard (" in offered and "brass" not in offered and "organ" not in offered
    info = TestClient(create_app(pipeline), base_url="http://127.0.0.1:8000").get("/api/info").json()
    assert info["families"] == ["bass", "guitar", "keyboard"] and info["pitch_range"] == [24, 84]


def test_datasets_without_label_encoders_record_the_split_only(tmp_path):
    """The in-process synthetic dataset has no ``labels``: no encoders are stored (and stale ones
    from an earlier dataset are dropped), the split description still is."""
    config = load_config(synthetic_config(count=16, priors=False))
    pipeline = Pipeline(config, extras={"labels": {"format_version": 1, "classes": {}}})
    training = config.training.quantizer.model_copy(update={"steps": 1, "eval_every": 1, "checkpoint_every": 1})
    result = train_quantizer(pipeline, training, build_dataset(config, "train"), None, tmp_path, progress=False)
    extras = Pipeline.load(result.bundle).extras
    assert "labels" not in extras
    assert extras["data"] == {"dataset": "synthetic-notes", "train_split": "train", "valid_split": None,
                              "notes": {"train": 16}}
