"""Options of the quantizer task: the multi-resolution STFT loss on decoded audio
(``quantizer.params.stft_loss_weight``), the loss on the phase-masked output
(``recon_after_clean``) and how many training batches fit the normaliser."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest
import torch

from fakes.training import synthetic_config
from specinpaint.core import Pipeline, load_config
from specinpaint.core.errors import ConfigError
from specinpaint.training.data import AudioCollate, build_dataset
from specinpaint.training.distributed import DistContext
from specinpaint.training.quantizer_task import (
    FIT_BATCH_SIZE,
    FIT_BATCHES,
    QuantizerTask,
    configured_fit_batches,
    train_quantizer,
)

CPU = DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))


pytestmark = pytest.mark.usefixtures("synthetic_one_thread")


def _pipeline(**quantizer) -> Pipeline:
    torch.manual_seed(0)
    return Pipeline(load_config(synthetic_config(count=8, priors=False, **quantizer)))


def test_stft_loss_term_is_added_finite_and_reaches_the_encoder():
    with_stft = _pipeline(stft_loss_weight=0.5, stft_loss_fft_sizes=[256, 512])
    without = _pipeline()
    train_set = build_dataset(with_stft.config, "train")
    task, plain = QuantizerTask(with_stft, train_set), QuantizerTask(without, train_set)
    task.setup(CPU, resumed=False)  # fits the normaliser
    without.normalizer.load_state_dict(with_stft.normalizer.state_dict())
    batch = task.prepare(AudioCollate(2048)([train_set[i] for i in range(4)]), CPU.device)
    module = with_stft.quantizer.eval()  # eval: no codebook updates between the two losses

    loss, metrics = task.compute_loss(module, batch)
    base, base_metrics = plain.compute_loss(module, batch)  # same module and batch, weight 0
    assert "loss/stft" in metrics and "loss/stft" not in base_metrics
    stft = metrics["loss/stft"]
    assert torch.isfinite(stft) and stft > 0
    assert torch.allclose(loss - base, 0.5 * stft, rtol=1e-4, atol=1e-6)

    encoder = [p for p in module.encoders.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss - base, encoder, allow_unused=True)  # the STFT term alone
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_level_loss_term_is_added_and_reaches_the_encoder():
    with_level = _pipeline(level_loss_weight=0.25)
    without = _pipeline()
    train_set = build_dataset(with_level.config, "train")
    task, plain = QuantizerTask(with_level, train_set), QuantizerTask(without, train_set)
    task.setup(CPU, resumed=False)
    without.normalizer.load_state_dict(with_level.normalizer.state_dict())
    batch = task.prepare(AudioCollate(2048)([train_set[i] for i in range(4)]), CPU.device)
    module = with_level.quantizer.eval()
    loss, metrics = task.compute_loss(module, batch)
    base, base_metrics = plain.compute_loss(module, batch)
    assert "loss/level" in metrics and "loss/level" not in base_metrics
    assert torch.allclose(loss - base, 0.25 * metrics["loss/level"], rtol=1e-4, atol=1e-6)
    grads = torch.autograd.grad(loss - base, list(module.encoders.parameters()), allow_unused=True)
    assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0


def test_level_convergence_known_answers():
    from specinpaint.training.losses import level_convergence_loss

    level = torch.randn(3, 8, 5)
    assert float(level_convergence_loss(level, level, power=True)) == 0.0
    half = torch.log(torch.tensor(0.25))  # a quarter of the power is half the magnitude
    assert float(level_convergence_loss(level + half, level, power=True)) == pytest.approx(0.5, rel=1e-5)
    assert float(level_convergence_loss(level + half / 2, level, power=False)) == pytest.approx(0.5, rel=1e-5)


def test_stft_loss_is_logged_during_training(tmp_path):
    from specinpaint.training.logger import read_metrics

    pipeline = _pipeline(stft_loss_weight=0.5, stft_loss_fft_sizes=[256])
    training = pipeline.config.training.quantizer.model_copy(update={"steps": 2, "log_every": 1,
                                                                     "eval_every": 2, "checkpoint_every": 2})
    train_quantizer(pipeline, training, build_dataset(pipeline.config, "train"), None, tmp_path, progress=False)
    records = read_metrics(tmp_path / "metrics.jsonl", "train")
    assert [r["step"] for r in records] == [1, 2]
    assert all(r["loss/stft"] > 0 and r["loss"] > r["loss/recon"] for r in records)


class _CountingDataset(torch.utils.data.Dataset):
    """Wraps a dataset and counts how often each index is read."""

    def __init__(self, inner):
        self.inner, self.reads = inner, Counter()

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, index):
        self.reads[index] += 1
        return self.inner[index]


@pytest.mark.parametrize("fit_batches, expected_batches", [(None, 3), (0, 3), (2, 2), (FIT_BATCHES, 3)])
def test_normaliser_fit_batches(fit_batches, expected_batches):
    """40 notes = 3 fit batches (16, 16, 8): None/0 visit every note exactly once, N the first N."""
    pipeline = _pipeline()
    data = _CountingDataset(build_dataset(load_config(synthetic_config(count=40)), "train"))
    sizes: list[int] = []
    fit = pipeline.normalizer.fit

    def counting_fit(batches):
        def counted():
            for batch in batches:
                sizes.append(batch.shape[0])
                yield batch
        fit(counted())

    pipeline.normalizer.fit = counting_fit
    QuantizerTask(pipeline, data, fit_batches=fit_batches).setup(CPU, resumed=False)
    assert len(sizes) == expected_batches
    assert sizes == [FIT_BATCH_SIZE, FIT_BATCH_SIZE, 8][:expected_batches]
    assert data.reads == Counter(range(sum(sizes)))  # dataset order, each note once
    assert not pipeline.normalizer.needs_fit


def test_fit_batches_from_the_training_config(tmp_path):
    assert configured_fit_batches(load_config(synthetic_config()).training.quantizer) == FIT_BATCHES
    assert configured_fit_batches(SimpleNamespace(fit_batches=None)) is None  # a config with the field
    pipeline = _pipeline()
    with pytest.raises(ConfigError, match="fit_batches must be >= 0"):
        train_quantizer(pipeline, None, build_dataset(pipeline.config, "train"), None, tmp_path, fit_batches=-1)


class _FixedOutput(torch.nn.Module):
    """A stand-in quantizer whose reconstruction is a given tensor (a parameter, for gradients)."""

    def __init__(self, quantizer, recon: torch.Tensor) -> None:
        super().__init__()
        self.quantizer, self.recon = quantizer, torch.nn.Parameter(recon.clone())

    def forward(self, spec: torch.Tensor, conditioning=None):  # the Quantizer forward's signature
        from specinpaint.core import Codemaps
        from specinpaint.core.quantizer import QuantizerOutput

        loss, _ = self.quantizer.recon_loss(self.recon, spec)
        codes = Codemaps({"top": torch.zeros(spec.shape[0], 1, 1, dtype=torch.long)})
        return QuantizerOutput(self.recon, codes, {"recon": loss, "commit/top": torch.tensor(0.5)}, {})


def test_loss_after_the_threshold_mask_ignores_masked_bins():
    """Where the target is below the paper's phase threshold, a decoded level below it too (with any
    IF) costs nothing and gets no gradient; the plain loss counts those bins."""
    from fakes.notes import note_batch
    from specinpaint.training.data import AudioBatch

    overrides = ["representation.params.n_mels=64", "priors={}", "quantizer.params.level_loss_weight=0"]
    masked_pipe = Pipeline(load_config("tiny", [*overrides, "quantizer.params.recon_after_clean=true"]))
    plain_pipe = Pipeline(load_config("tiny", [*overrides, "quantizer.params.recon_after_clean=false"]))
    audio = note_batch([48, 72])
    audio[:, 40000:] = 0.0  # digital silence: masked bins
    for pipe in (masked_pipe, plain_pipe):
        pipe.fit_normalizer([audio])
    task, plain = QuantizerTask(masked_pipe, []), QuantizerTask(plain_pipe, [])
    batch = task.prepare(AudioBatch(audio, torch.tensor([48, 72]), torch.tensor([0, 0])), CPU.device)
    spec, norm = batch.spec, masked_pipe.normalizer
    threshold = masked_pipe.representation.p.phase_threshold
    masked = (norm.denormalize(spec)[:, 0] <= threshold)[:, None].expand_as(spec)
    assert 0.05 < masked.float().mean() < 0.95
    g = torch.Generator().manual_seed(0)
    recon = spec + 0.05 * torch.randn(spec.shape, generator=g)
    floor = norm.normalize(torch.full_like(spec, threshold))[:, :1]
    recon[:, :1] = torch.maximum(recon[:, :1], floor + 0.01)  # unmasked bins stay above the threshold
    below = norm.normalize(torch.full_like(spec, threshold - 3.0))[:, :1]  # a level under the threshold
    noisy = torch.cat([below.expand_as(spec[:, :1]), torch.rand(spec[:, 1:].shape, generator=g) * 2 - 1], 1)
    recon = torch.where(masked, noisy, recon)  # masked bins: below threshold, random IF

    module = _FixedOutput(masked_pipe.quantizer, recon)
    loss, metrics = task.compute_loss(module, batch)
    expected, _ = masked_pipe.quantizer.recon_loss(torch.where(masked, spec, recon), spec)
    assert float(metrics["loss/recon"]) == pytest.approx(float(expected), rel=1e-4)
    assert float(loss.detach()) == pytest.approx(float(expected) + 0.5, rel=1e-4)  # other terms kept
    (grad,) = torch.autograd.grad(loss, [module.recon])
    assert float(grad[masked].abs().max()) == 0.0 and float(grad[~masked].abs().max()) > 0

    plain_module = _FixedOutput(plain_pipe.quantizer, recon)
    plain_loss, _ = plain.compute_loss(plain_module, batch)
    assert float(plain_loss.detach()) > float(loss.detach()) + 1e-3  # the unmasked loss pays for those bins
    (plain_grad,) = torch.autograd.grad(plain_loss, [plain_module.recon])
    assert float(plain_grad[masked].abs().max()) > 0
