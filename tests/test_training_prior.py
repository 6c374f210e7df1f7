"""Prior training through the core `Prior.loss` contract, on code stores; code extraction."""

from __future__ import annotations

import pytest
import torch

from fakes.training import synthetic_config, synthetic_plugins
from specinpaint.core import Codemaps, Pipeline, load_config
from specinpaint.core.errors import BundleError, ConfigError
from specinpaint.core.registry import registry
from specinpaint.data.code_store import CodeStore, CodeStoreWriter
from specinpaint.training import extract_codes, train_prior, train_quantizer
from specinpaint.training.data import build_dataset
from specinpaint.training.logger import read_metrics


@pytest.fixture(scope="module")
def trained(tmp_path_factory, one_thread):
    """A synthetic pipeline whose VQ-VAE trained a few steps, and its extracted code stores."""
    root = tmp_path_factory.mktemp("prior")
    with synthetic_plugins():
        config = load_config(synthetic_config(count=24))
        torch.manual_seed(0)
        pipeline = Pipeline(config)
        train_set, valid_set = build_dataset(config, "train"), build_dataset(config, "valid")
        training = config.training.quantizer.model_copy(update={"steps": 4, "eval_every": 4, "checkpoint_every": 4})
        train_quantizer(pipeline, training, train_set, valid_set, root / "vq", progress=False)
        stores = {split: extract_codes(pipeline, data, root / "codes" / split, split, batch_size=10, progress=False)
                  for split, data in (("train", train_set), ("valid", valid_set))}
        yield pipeline, train_set, stores, root


def test_extracted_codes_equal_encode_and_keep_labels(trained):
    pipeline, train_set, stores, _ = trained
    store = stores["train"]
    assert len(store) == 24 and store.split == "train"
    assert store.shapes == {"top": (8, 4), "bottom": (16, 8)} and store.num_codes == {"top": 32, "bottom": 32}
    items = [train_set[i] for i in range(24)]
    audio = torch.stack([item["audio"] for item in items])
    expected = Codemaps.cat([pipeline.encode(audio[i:i + 10]) for i in range(0, 24, 10)])  # same batching
    codes, cond = store.batch(list(range(24)))
    assert codes.equal(expected)
    whole = pipeline.encode(audio)  # other batch sizes may flip a few near-ties (float summation order)
    assert float((whole["bottom"] == codes["bottom"]).float().mean()) > 0.95
    assert cond.pitch.tolist() == [item["pitch"] for item in items]
    assert cond.family.tolist() == [item["family"] for item in items]
    assert store.names == [item["note_str"] for item in items]
    assert store.meta["quantizer_steps"] == 4 and store.meta["quantizer_date"]


def test_synthetic_prior_learns_the_codes_and_is_recorded_in_the_bundle(trained, tmp_path):
    pipeline, _, stores, _ = trained
    training = pipeline.config.training.prior("top").model_copy(update={
        "steps": 30, "lr": 0.05, "log_every": 5, "eval_every": 15, "checkpoint_every": 15})
    result = train_prior(pipeline, "top", training, stores["train"], stores["valid"], tmp_path / "top", progress=False)
    records = read_metrics(tmp_path / "top/metrics.jsonl", "train")
    assert records[-1]["loss"] < 0.7 * records[0]["loss"]
    assert "accuracy" in records[-1]
    loaded = Pipeline.load(result.bundle)
    assert loaded.extras["trained"]["prior_top"]["steps"] == 30
    assert "quantizer" in loaded.extras["trained"]  # earlier stages stay recorded
    for key, value in pipeline.priors["top"].state_dict().items():
        assert torch.equal(loaded.priors["top"].state_dict()[key], value.cpu())

    # the same run directory on other codes is refused: the checkpoint records the store checksum
    other = tmp_path / "other"
    with CodeStoreWriter(other, stores["train"].shapes, stores["train"].num_codes, 24) as writer:
        codes, cond = stores["train"].batch(list(range(24)))
        writer.append(codes.replace(top=(codes["top"] + 1) % 32), cond.pitch, cond.family)
    longer = training.model_copy(update={"steps": 40})
    with pytest.raises(BundleError, match="train_codes_sha256"):
        train_prior(pipeline, "top", longer, other, None, tmp_path / "top", progress=False)


def test_prior_task_refuses_bad_inputs(trained, tmp_path):
    pipeline, _, stores, _ = trained
    with pytest.raises(ConfigError, match="no prior for level 'middle'"):
        train_prior(pipeline, "middle", pipeline.config.training.prior("top"), stores["train"], None, tmp_path)
    wrong = tmp_path / "wrong"
    with CodeStoreWriter(wrong, {"top": (4, 4), "bottom": (16, 8)}, {"top": 32, "bottom": 32}, 1) as writer:
        writer.append(Codemaps({"top": torch.zeros(1, 4, 4, dtype=torch.long),
                                "bottom": torch.zeros(1, 16, 8, dtype=torch.long)}), [60], [0])
    with pytest.raises(Exception, match="maps are"):
        train_prior(pipeline, "top", None, wrong, None, tmp_path / "x")


def _real_prior_pipeline(trained):
    pipeline, _, stores, _ = trained
    if "top-transformer" not in registry("priors"):
        pytest.skip("real priors not installed")
    small = {"num_codes": 32, "d_model": 32, "num_heads": 2, "num_encoder_layers": 1, "num_decoder_layers": 1,
             "ffn_dim": 64, "dropout": 0.0, "class_dropout": 0.0}
    data = pipeline.config.model_dump(mode="json")
    data["priors"] = {
        "top": {"name": "top-transformer", "params": {**small, "codemap_shape": [8, 4]}},
        "bottom": {"name": "bottom-transformer",
                   "params": {**small, "codemap_shape": [16, 8], "top_shape": [8, 4], "top_num_codes": 32}},
    }
    from specinpaint.training.stages import adopt_config

    return adopt_config(pipeline, load_config(data)), stores


@pytest.mark.parametrize("level", ["top", "bottom"])
def test_real_transformer_priors_train_through_the_engine(trained, tmp_path, level):
    real, stores = _real_prior_pipeline(trained)
    training = real.config.training.prior("top").model_copy(update={
        "steps": 25, "lr": 3e-3, "batch_size": 8, "log_every": 5, "eval_every": 25, "checkpoint_every": 25,
        "schedule": "constant"})
    torch.manual_seed(0)
    result = train_prior(real, level, training, stores["train"], stores["valid"], tmp_path, progress=False)
    records = read_metrics(tmp_path / "metrics.jsonl", "train")
    assert result.finished and records[-1]["loss"] < records[0]["loss"]
    assert Pipeline.load(result.bundle).extras["trained"][f"prior_{level}"]["steps"] == 25
    assert isinstance(CodeStore(stores["train"].root), CodeStore)
