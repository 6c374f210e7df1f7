"""The timbre critic and its loss (``quantizer.params.timbre_loss_weight``): the critic learns to
tell two synthetic timbres apart, the loss is zero for the target, blind to level and reaches
only the prediction, and the quantizer task trains, uses, saves and restores the critic."""

from __future__ import annotations

import pytest
import torch

from fakes.training import synthetic_config
from specinpaint.core import Pipeline, load_config
from specinpaint.core.errors import ConfigError
from specinpaint.training.data import AudioCollate, build_dataset
from specinpaint.training.distributed import DistContext
from specinpaint.training.quantizer_task import CRITIC_STATE, QuantizerTask
from specinpaint.training.timbre_critic import TimbreCritic, timbre_loss, train_critic

CPU = DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))

pytestmark = pytest.mark.usefixtures("synthetic_one_thread")


def _two_timbres(batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Level maps [B, 1, 32, 16] of harmonic stripes: family 0 keeps every harmonic, family 1 only
    the odd ones (a clarinet against a saw), at random fundamentals and levels."""
    family = torch.randint(0, 2, (batch,), generator=generator)
    rows = torch.arange(32).float()
    maps = []
    for f in family.tolist():
        spacing = int(torch.randint(3, 5, (1,), generator=generator))
        harmonic = (rows % spacing == 0) & (rows > 0)
        if f == 1:
            harmonic &= (rows // spacing) % 2 == 1
        level = torch.where(harmonic, 0.0, -4.0) + 0.3 * torch.randn(32, generator=generator)
        maps.append(level[:, None].expand(32, 16) + 5.0 * torch.rand(1, generator=generator))
    return torch.stack(maps)[:, None], family


def test_critic_learns_two_timbres_and_is_frozen_after():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    critic = TimbreCritic(num_families=2, width=8)

    def batches():
        while True:
            yield _two_timbres(16, generator)

    train_critic(critic, batches(), steps=150, lr=3e-3)
    level, family = _two_timbres(64, torch.Generator().manual_seed(99))  # notes it never saw
    accuracy = float((critic(level).argmax(1) == family).float().mean())
    assert accuracy >= 0.9
    assert not critic.training and not any(p.requires_grad for p in critic.parameters())


def test_timbre_loss_is_zero_on_target_blind_to_level_and_reaches_only_the_prediction():
    torch.manual_seed(0)
    critic = TimbreCritic(num_families=3, width=4).eval().requires_grad_(False)
    target = torch.randn(2, 1, 32, 16)
    assert float(timbre_loss(critic, target.clone(), target)) == 0.0
    assert float(timbre_loss(critic, target + 2.5, target)) < 1e-6  # each note relative to its own peak
    prediction = torch.randn(2, 1, 32, 16, requires_grad=True)
    target = target.clone().requires_grad_(True)
    loss = timbre_loss(critic, prediction, target)
    assert float(loss.detach()) > 0.05
    loss.backward()
    assert prediction.grad is not None and float(prediction.grad.abs().sum()) > 0
    assert target.grad is None  # the target's features are constants


def _pipeline(**quantizer) -> Pipeline:
    torch.manual_seed(0)
    return Pipeline(load_config(synthetic_config(count=32, priors=False, **quantizer)))


def test_quantizer_task_trains_the_critic_adds_its_loss_and_restores_it_on_resume():
    pipeline = _pipeline(timbre_loss_weight=0.5, timbre_critic_steps=3, timbre_critic_width=4)
    train_set = build_dataset(pipeline.config, "train")
    task = QuantizerTask(pipeline, train_set)
    before = {k: v.clone() for k, v in task.critic.state_dict().items()}
    task.setup(CPU, resumed=False)
    trained = task.critic.state_dict()
    assert any(not torch.equal(before[k], trained[k]) for k in before)  # it trained
    assert not any(p.requires_grad for p in task.critic.parameters())

    batch = task.prepare(AudioCollate(2048)([train_set[i] for i in range(4)]), CPU.device)
    module = pipeline.quantizer.eval()
    loss, metrics = task.compute_loss(module, batch)
    plain = QuantizerTask(_pipeline(), train_set)
    plain.pipeline.normalizer.load_state_dict(pipeline.normalizer.state_dict())
    base, base_metrics = plain.compute_loss(module, batch)
    assert "loss/timbre" not in base_metrics and float(metrics["loss/timbre"]) > 0
    assert torch.allclose(loss - base, 0.5 * metrics["loss/timbre"], rtol=1e-4, atol=1e-6)
    grads = torch.autograd.grad(loss - base, list(module.encoders.parameters()), allow_unused=True)
    assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0  # the term trains the quantizer

    state = task.extra_state()
    assert any(k.startswith(CRITIC_STATE) for k in state) and any(not k.startswith(CRITIC_STATE) for k in state)
    resumed = QuantizerTask(_pipeline(timbre_loss_weight=0.5, timbre_critic_steps=3, timbre_critic_width=4), train_set)
    resumed.load_extra_state(state)
    resumed.setup(CPU, resumed=True)  # restored: not trained again
    assert all(torch.equal(v, trained[k]) for k, v in resumed.critic.state_dict().items())
    assert torch.equal(resumed.pipeline.normalizer.state_dict()["mean"], pipeline.normalizer.state_dict()["mean"])


def test_a_training_split_without_family_labels_is_refused_by_name():
    pipeline = _pipeline(timbre_loss_weight=0.5, timbre_critic_steps=2, timbre_critic_width=4)
    train_set = build_dataset(pipeline.config, "train")
    train_set.family.fill_(-1)  # every note unlabelled
    with pytest.raises(ConfigError, match="timbre_loss_weight needs family labels"):
        QuantizerTask(pipeline, train_set).setup(CPU, resumed=False)
    other_rank = DistContext(rank=1, world_size=1, local_rank=1, device=torch.device("cpu"))
    with pytest.raises(ConfigError, match="timbre_loss_weight needs family labels"):  # not left waiting for rank 0
        QuantizerTask(pipeline, train_set).setup(other_rank, resumed=False)


def test_a_blurred_texture_costs_more_than_another_draw_of_it():
    """Why a feature distance and not a squared error: a squared error prefers a noisy texture's
    average to another draw of the same noise; the critic's max-pooled, peak-relative features
    prefer the draw (its strength and peaks are the timbre, not its exact values)."""
    torch.manual_seed(0)
    critic = TimbreCritic(num_families=3, width=8).eval().requires_grad_(False)
    envelope = torch.linspace(0.0, -6.0, 32)[None, None, :, None]  # a spectral slope, steady over time
    target = envelope + torch.randn(4, 1, 32, 256)
    another_draw = envelope + torch.randn(4, 1, 32, 256)
    blurred = envelope.expand(4, 1, 32, 256)
    assert (blurred - target).square().mean() < (another_draw - target).square().mean()
    assert float(timbre_loss(critic, another_draw, target)) < 0.5 * float(timbre_loss(critic, blurred, target))


def test_the_critic_starts_from_the_same_weights_whatever_the_global_random_state():
    pipeline = _pipeline(timbre_loss_weight=0.5, timbre_critic_width=4)
    train_set = build_dataset(pipeline.config, "train")
    torch.manual_seed(1)
    first = QuantizerTask(pipeline, train_set).critic.state_dict()
    after_first = torch.rand(1)
    torch.manual_seed(2)
    second = QuantizerTask(pipeline, train_set).critic.state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)
    torch.manual_seed(1)
    assert torch.equal(torch.rand(1), after_first)  # building the critic drew nothing from the global stream
