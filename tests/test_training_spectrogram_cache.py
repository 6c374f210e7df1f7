"""``training.quantizer.cache_spectrograms``: the quantizer's training spectrograms computed once
(training/spectrogram_cache.py), read back exactly, trained on to the same weights, refused when
they would not fit in memory."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from fakes.training import synthetic_config
from specinpaint.core import Pipeline, load_config
from specinpaint.core.errors import ConfigError
from specinpaint.training.data import AudioCollate, build_dataset
from specinpaint.training.distributed import DistContext
from specinpaint.training.quantizer_task import QuantizerTask, train_quantizer
from specinpaint.training.spectrogram_cache import CachedSpectrograms, check_cache_fits

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
    task.setup(CPU, resumed=False)  # fits the normaliser, then fills the cache with normalised spectrograms
    assert isinstance(task.train_set, CachedSpectrograms)
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


def test_a_cache_larger_than_half_the_memory_is_refused_by_name():
    assert check_cache_fits(10, [2, 64, 32], memory=2**30) == 10 * 2 * 64 * 32 * 4
    with pytest.raises(ConfigError, match=r"training\.quantizer\.cache_spectrograms: 5536 spectrograms .* GiB"):
        check_cache_fits(5536, [2, 256, 128], memory=2 * 2**30)  # 1.35 GiB of 2 GiB


def test_the_setting_is_off_by_default_and_validated():
    config = load_config(synthetic_config(count=8, priors=False))
    assert config.training.quantizer.cache_spectrograms is False
    raw = synthetic_config(count=8, priors=False)
    raw["training"]["quantizer"]["cache_spectrograms"] = "sometimes"
    with pytest.raises(Exception, match="cache_spectrograms"):
        load_config(raw)
