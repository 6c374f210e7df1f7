"""With the ``tensorboard`` extra installed (setup.sh installs it), a training run writes TensorBoard
events next to metrics.jsonl: the same scalars, and the periodic samples as audio and images."""

from __future__ import annotations

import pytest

from fakes.training import synthetic_config
from specinpaint.core import Pipeline, load_config
from specinpaint.training.data import build_dataset
from specinpaint.training.logger import read_metrics
from specinpaint.training.quantizer_task import train_quantizer

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

pytestmark = pytest.mark.usefixtures("synthetic_one_thread")


def test_scalars_audio_and_images_reach_tensorboard(tmp_path):
    config = load_config(synthetic_config(count=16))
    pipeline = Pipeline(config)
    training = config.training.quantizer.model_copy(update={
        "steps": 4, "log_every": 2, "eval_every": 2, "checkpoint_every": 4, "sample_every": 4})
    train_quantizer(pipeline, training, build_dataset(config, "train"), build_dataset(config, "valid"), tmp_path,
                    progress=False, sample_count=1)

    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"scalars": 0, "audio": 0, "images": 0})
    events.Reload()
    tags = events.Tags()
    for split in ("train", "valid"):  # every JSONL value is a scalar, at the same steps
        for record in read_metrics(tmp_path / "metrics.jsonl", split):
            for key, value in record.items():
                if key in ("step", "split"):
                    continue
                logged = {e.step: e.value for e in events.Scalars(f"{split}/{key}")}
                assert logged[record["step"]] == pytest.approx(value, rel=1e-6), (split, key)
    assert {"train/loss", "train/lr", "train/grad_norm", "valid/loss", "train/top/perplexity"} <= set(tags["scalars"])

    assert set(tags["audio"]) == {"samples/00_input", "samples/00_recon"}
    for tag in tags["audio"]:
        clips = events.Audio(tag)
        assert [c.step for c in clips] == [4]
        assert all(c.sample_rate == pipeline.sample_rate and c.length_frames == config.num_samples for c in clips)
        assert clips[0].encoded_audio_string[:4] == b"RIFF"
    assert {"samples/00_input", "samples/00_recon", "samples/00_codes_top"} <= set(tags["images"])
    image = events.Images("samples/00_recon")[-1]
    assert image.step == 4 and image.encoded_image_string[:4] == b"\x89PNG" and image.width > 100
    assert (tmp_path / "samples/step_0000004/00_recon.png").exists()  # still written to disk as well
