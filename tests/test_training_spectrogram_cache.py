"""``training.quantizer.cache_spectrograms``: the quantizer's training spectrograms computed once
(training/spectrogram_cache.py), read back exactly, trained on to the same weights, not built when
they would not fit in memory nor when a finished stage is only resumed, and passed to DataLoader
workers."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from fakes.training import synthetic_config
from specinpaint.core import Pipeline, load_config
from specinpaint.training import spectrogram_cache
from specinpaint.training.data import AudioCollate, build_dataset
from specinpaint.training.distributed import DistContext
from specinpaint.training.quantizer_task import QuantizerTask, train_quantizer
from specinpaint.training.spectrogram_cache import (
    CachedSpectrograms,
    cache_bytes,
    cache_fits,
)

CPU = DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))

pytestmark = pytest.mark.usefixtures("synthetic_one_thread")


def _pipeline(count: int = 24) -> Pipeline:
    torch.manual_seed(0)
    return Pipeline(load_config(synthetic_config(count=count, priors=False)))


class _CountingDataset(torch.utils.data.Dataset):
    """Counts how often each note is read; ``families`` stands for an NSynth-like column."""

    def __init__(self, inner):
        self.inner, self.reads, self.families = inner, Counter(), [0] * len(inner)

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, index):
        self.reads[index] += 1
        return self.inner[index]


def test_cached_batches_carry_the_spectrograms_a_batch_would_compute():
    pipeline = _pipeline()
    train_set = _CountingDataset(build_dataset(pipeline.config, "train"))
    task = QuantizerTask(pipeline, train_set, cache=True)
    task.setup(CPU, resumed=False)  # fits the normaliser and arms the cache
    reads = sum(train_set.reads.values())
    assert isinstance(task.train_set, CachedSpectrograms)  # filled on the first read, with normalised spectrograms
    assert sum(train_set.reads.values()) == reads + len(train_set)  # every note once
    assert task.train_set.families is train_set.families  # the wrapped set's columns stay reachable
    reads = sum(train_set.reads.values())
    task.setup(CPU, resumed=True)  # a second setup (a resume) does not cache the cache
    assert sum(train_set.reads.values()) == reads and task.train_set.dataset is train_set

    notes = [5, 0, 17, 9]
    cached = task.prepare(task.collate([task.train_set[i] for i in notes]), CPU.device)
    plain = task.prepare(AudioCollate(pipeline.config.num_samples)([train_set[i] for i in notes]), CPU.device)
    assert cached.spec.shape == plain.spec.shape and cached.spec.dtype == torch.float32
    assert torch.allclose(cached.spec, plain.spec, rtol=1e-5, atol=1e-6)  # batching may reorder float sums
    assert not torch.equal(cached.spec[0], cached.spec[1])  # each note its own spectrogram
    assert torch.equal(cached.audio, plain.audio)  # the audio still comes (STFT loss, samples)


def test_training_with_the_cache_reaches_the_same_weights(tmp_path):
    weights, computed = [], []
    for cache in (False, True):
        pipeline = _pipeline()
        batches: list[int] = []
        compute = pipeline.spectrogram
        pipeline.spectrogram = lambda audio, compute=compute, batches=batches: batches.append(len(audio)) or compute(audio)
        training = pipeline.config.training.quantizer.model_copy(
            update={"steps": 3, "batch_size": 8, "log_every": 1, "eval_every": 3, "checkpoint_every": 3,
                    "cache_spectrograms": cache})
        train_set = build_dataset(pipeline.config, "train")
        train_quantizer(pipeline, training, train_set, None, tmp_path / str(cache), progress=False)
        weights.append({k: v.clone() for k, v in pipeline.quantizer.state_dict().items()})
        computed.append(batches)
    assert computed[0] == [8, 8, 8]  # one spectrogram batch per step
    assert sum(computed[1]) == len(train_set) and max(computed[1]) == 16  # the cache's fill, nothing per step
    plain, cached = weights
    assert plain.keys() == cached.keys()
    moved = [k for k in plain if plain[k].is_floating_point() and not torch.allclose(plain[k], cached[k], atol=1e-4)]
    assert not moved, moved


def test_a_cache_larger_than_half_the_memory_is_not_built_and_training_computes_instead(monkeypatch, caplog):
    size = cache_bytes(5536, [2, 256, 128])
    assert size == 5536 * 2 * 256 * 128 * 4
    assert cache_fits(size, memory=4 * 2**30, processes=1)  # 1.35 GiB of 4 GiB
    assert not cache_fits(size, memory=4 * 2**30, processes=2)  # two processes of one node: 2.7 GiB
    assert not cache_fits(size, memory=2 * 2**30, processes=1)

    monkeypatch.setattr(spectrogram_cache, "available_memory_bytes", lambda: 1024)  # a machine of 1 KiB
    pipeline = _pipeline()
    train_set = build_dataset(pipeline.config, "train")
    task = QuantizerTask(pipeline, train_set, cache=True)
    task.setup(CPU, resumed=False)
    with caplog.at_level("WARNING"):
        assert task.train_set is train_set  # not wrapped: each batch computes its spectrograms
    assert "training.quantizer.cache_spectrograms" in caplog.text and "GiB" in caplog.text
    assert task.train_set is train_set  # and not tried again on every read


def test_a_finished_stage_that_is_resumed_computes_no_cache(tmp_path):
    pipeline = _pipeline()
    training = pipeline.config.training.quantizer.model_copy(
        update={"steps": 2, "batch_size": 8, "eval_every": 2, "checkpoint_every": 2, "cache_spectrograms": True})
    train_set = _CountingDataset(build_dataset(pipeline.config, "train"))
    train_quantizer(pipeline, training, train_set, None, tmp_path, progress=False)
    first = sum(train_set.reads.values())
    assert first >= len(train_set)  # the first run filled the cache
    train_quantizer(pipeline, training, train_set, None, tmp_path, progress=False)  # nothing left to train
    assert sum(train_set.reads.values()) == first


def test_the_setting_is_off_by_default_and_validated():
    config = load_config(synthetic_config(count=8, priors=False))
    assert config.training.quantizer.cache_spectrograms is False
    raw = synthetic_config(count=8, priors=False)
    raw["training"]["quantizer"]["cache_spectrograms"] = "sometimes"
    with pytest.raises(Exception, match="cache_spectrograms"):
        load_config(raw)


def test_the_cache_reaches_dataloader_workers(tmp_path):
    """With ``num_workers`` the batches are collated in worker processes: they must still carry
    the cached spectrograms (the engine then computes none per step)."""
    pipeline = _pipeline()
    batches: list[int] = []
    compute = pipeline.spectrogram
    pipeline.spectrogram = lambda audio: batches.append(len(audio)) or compute(audio)
    training = pipeline.config.training.quantizer.model_copy(
        update={"steps": 2, "batch_size": 8, "eval_every": 2, "checkpoint_every": 2, "num_workers": 1,
                "cache_spectrograms": True})
    train_set = build_dataset(pipeline.config, "train")
    train_quantizer(pipeline, training, train_set, None, tmp_path, progress=False)
    assert sum(batches) == len(train_set)  # the cache's fill only: the workers' batches carried it
