"""The quantizer's optional adversarial loss (``quantizer.params.adversarial_loss_weight``): the
discriminator learns to tell textures apart, its terms reach the decoded map only, it waits for its
start step, and a resumed run continues it exactly (weights, optimiser moments and step count)."""

from __future__ import annotations

import pytest
import torch

from fakes.training import synthetic_config
from specinpaint.core import Pipeline, load_config
from specinpaint.core.conditioning import NULL_LABEL
from specinpaint.training.adversary import Adversary, PatchDiscriminator
from specinpaint.training.data import build_dataset
from specinpaint.training.logger import read_metrics
from specinpaint.training.quantizer_task import train_quantizer

pytestmark = pytest.mark.usefixtures("synthetic_one_thread")


def _textures(batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(rough, smooth) level maps [B, 1, 32, 16]: the same mean, different texture."""
    rough = torch.randn(batch, 1, 32, 16, generator=generator)
    smooth = torch.zeros(batch, 1, 32, 16) + 0.1 * torch.randn(batch, 1, 1, 1, generator=generator)
    return rough, smooth


def test_the_discriminator_learns_texture_and_its_terms_reach_the_decoded_map_only():
    adversary = Adversary(num_families=3, width=8, lr=2e-3, start_step=2)
    generator = torch.Generator().manual_seed(0)
    family = torch.tensor([0, 1, 2, NULL_LABEL])
    real, fake = _textures(4, generator)
    assert adversary.terms(fake, real, family) == {} and adversary.terms(fake, real, family) == {}  # waiting
    before = [p.detach().clone() for p in adversary.net.parameters()]
    for _ in range(60):
        real, smooth = _textures(4, generator)
        fake = smooth.clone().requires_grad_(True)
        terms = adversary.terms(fake, real, family)
    assert adversary.step == 62
    assert any(not torch.equal(a, b) for a, b in zip(before, adversary.net.parameters(), strict=True))
    with torch.no_grad():
        real_logits, _ = adversary.net(real, family)
        fake_logits, _ = adversary.net(smooth, family)
    assert float(real_logits.mean()) > 0.5 and float(fake_logits.mean()) < -0.5  # it tells them apart
    own_grads = [p.grad.clone() for p in adversary.net.parameters() if p.grad is not None]
    (terms["adversarial"] + terms["feature_matching"]).backward()
    assert fake.grad is not None and float(fake.grad.abs().sum()) > 0
    after = [p.grad for p in adversary.net.parameters() if p.grad is not None]
    assert len(after) == len(own_grads) and all(torch.equal(a, b) for a, b in zip(after, own_grads, strict=True))
    assert float(terms["discriminator"]) < 1.0  # hinge: 2 at chance


def test_the_family_projection_separates_families_and_ignores_the_null_family():
    torch.manual_seed(0)
    net = PatchDiscriminator(num_families=2, width=4)
    with torch.no_grad():
        net.family.weight[:2].normal_()
    level = torch.randn(1, 1, 16, 8).expand(3, -1, -1, -1)
    logits, features = net(level, torch.tensor([0, 1, NULL_LABEL]))
    assert logits.shape == (3, 1, 2, 1) and len(features) == 4
    assert not torch.allclose(logits[0], logits[1])
    head_only = net.head(features[-1][2:])
    torch.testing.assert_close(logits[2:], head_only)  # no family: the head alone
    assert torch.all(net.family.weight[2] == 0)


def test_feature_matching_without_the_adversary_is_refused():
    from specinpaint.core.errors import ConfigError

    with pytest.raises(ConfigError, match="adversarial_feature_weight needs adversarial_loss_weight > 0"):
        _setup(adversarial_feature_weight=0.1)


def test_paper_shapes_give_a_patch_map():
    net = PatchDiscriminator(num_families=11)
    logits, features = net(torch.randn(1, 1, 1024, 128), torch.tensor([4]))
    assert logits.shape == (1, 1, 128, 16) and features[0].shape == (1, 16, 512, 64)


def _setup(**quantizer):
    config = load_config(synthetic_config(count=32, **quantizer))
    torch.manual_seed(0)
    pipeline = Pipeline(config)
    return config, pipeline, build_dataset(config, "train")


def test_a_resumed_run_continues_the_adversary_exactly(tmp_path):
    params = dict(adversarial_loss_weight=0.1, adversarial_feature_weight=0.1, adversarial_start_step=2,
                  adversarial_width=4, adversarial_lr=1e-3)
    config, pipeline, train = _setup(**params)
    training = config.training.quantizer.model_copy(update={"steps": 8, "log_every": 1, "eval_every": 100,
                                                            "checkpoint_every": 4})
    full = train_quantizer(pipeline, training, train, None, tmp_path / "full", progress=False)
    assert full.finished
    records = read_metrics(tmp_path / "full/metrics.jsonl", "train")
    assert "loss/adversarial" not in records[1] and "loss/adversarial" in records[2]  # starts after step 2
    for r in records[2:]:  # the weighted terms are in the loss the quantizer minimises (one step per record)
        terms = [v for k, v in r.items() if k == "loss/recon" or k.startswith("loss/commit/")]
        expected = sum(terms) + 0.1 * r["loss/adversarial"] + 0.1 * r["loss/feature_matching"]
        assert r["loss"] == pytest.approx(expected, rel=1e-5)

    _, part_pipe, part_train = _setup(**params)
    part = train_quantizer(part_pipe, training, part_train, None, tmp_path / "part", progress=False, stop_after=4)
    assert not part.finished
    _, fresh, fresh_train = _setup(**params)
    torch.manual_seed(123)
    rest = train_quantizer(fresh, training, fresh_train, None, tmp_path / "part", progress=False)
    assert rest.outcome.resumed_from == 4 and rest.finished
    resumed = read_metrics(tmp_path / "part/metrics.jsonl", "train")
    assert [(r["step"], r["loss"], r["loss/discriminator"]) for r in resumed[4:]] == \
        [(r["step"], r["loss"], r["loss/discriminator"]) for r in records[4:]]
    for key, value in full.pipeline.quantizer.state_dict().items():
        assert torch.equal(value, fresh.quantizer.state_dict()[key]), key
