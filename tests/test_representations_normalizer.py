"""AffineNormalizer: GANSynth constants, streaming fit, exact inverse, clipping policy, persistence."""

from __future__ import annotations

import pytest
import torch

from specinpaint.core.errors import PluginError, SpecinpaintError
from specinpaint.core.registry import registry
from specinpaint.representations.normalizer import AffineNormalizer


def batches(seed: int = 0, count: int = 5):
    generator = torch.Generator().manual_seed(seed)
    for _ in range(count):
        level = torch.rand(3, 1, 16, 8, generator=generator) * 24 - 13.8
        inst = torch.rand(3, 1, 16, 8, generator=generator) * 2 - 1
        yield torch.cat([level, inst], dim=1)


def test_prespecified_constants():
    norm = registry("normalizers").build("affine", {})
    assert not norm.needs_fit
    x = torch.tensor([-13.8155, 10.4]).view(1, 1, 2, 1).expand(1, 2, 2, 1).clone()
    x[:, 1] = torch.tensor([-1.0, 1.0]).view(1, 2, 1)
    y = norm.normalize(x)
    torch.testing.assert_close(y[0, 0, :, 0], torch.tensor([-0.80, 0.80]), atol=2e-3, rtol=0)  # ≈[-0.8, 0.8]
    assert y[0, 0, 1, 0].item() == pytest.approx(0.0661371661726 * 10.4 + 0.113718730221, abs=1e-6)
    torch.testing.assert_close(y[0, 1, :, 0], torch.tensor([-0.8, 0.8]))


@pytest.mark.parametrize("mode", ["prespecified", "fitted"])
def test_exactly_invertible(mode):
    norm = AffineNormalizer(AffineNormalizer.Params(mode=mode))
    if mode == "fitted":
        norm.fit(batches())
    x = next(batches(seed=3)) * 1.5  # also values outside the fitted range
    torch.testing.assert_close(norm.denormalize(norm.normalize(x)), x, rtol=1e-6, atol=1e-5)
    y = torch.randn(2, 2, 4, 4)
    torch.testing.assert_close(norm.normalize(norm.denormalize(y)), y, rtol=1e-6, atol=1e-6)


def test_streaming_fit_matches_global_min_max():
    norm = AffineNormalizer(AffineNormalizer.Params(mode="fitted"))
    assert norm.needs_fit
    with pytest.raises(SpecinpaintError, match="fit"):
        norm.normalize(torch.zeros(1, 2, 1, 1))
    data = torch.cat(list(batches()))
    norm.fit(batches())  # a generator: consumable once, so the fit must be one pass
    assert not norm.needs_fit
    y = norm.normalize(data)
    torch.testing.assert_close(y[:, 0].min(), torch.tensor(-0.8), atol=1e-6, rtol=0)
    torch.testing.assert_close(y[:, 0].max(), torch.tensor(0.8), atol=1e-6, rtol=0)
    torch.testing.assert_close(y[:, 1].min(), torch.tensor(-1.0), atol=1e-6, rtol=0)
    torch.testing.assert_close(y[:, 1].max(), torch.tensor(1.0), atol=1e-6, rtol=0)
    torch.testing.assert_close(norm.data_min.float(), data.transpose(0, 1).reshape(2, -1).min(1).values)


def test_statistics_are_saved_with_the_bundle():
    norm = AffineNormalizer(AffineNormalizer.Params(mode="fitted"))
    norm.fit(batches())
    state = norm.state_dict()
    assert {"scale", "offset", "data_min", "data_max", "fitted"} <= set(state)
    fresh = AffineNormalizer(AffineNormalizer.Params(mode="fitted"))
    assert fresh.needs_fit
    fresh.load_state_dict(state)
    assert not fresh.needs_fit
    x = next(batches(seed=9))
    torch.testing.assert_close(fresh.normalize(x), norm.normalize(x))


def test_clip_policy():
    clipping = AffineNormalizer(AffineNormalizer.Params(clip=True))
    plain = AffineNormalizer(AffineNormalizer.Params())
    x = torch.tensor([-30.0, 0.0, 30.0]).view(1, 1, 3, 1).repeat(1, 2, 1, 1)
    assert clipping.normalize(x).abs().max() == 1.0
    assert plain.normalize(x).abs().max() > 1.0
    inside = torch.tensor([-5.0, 0.0, 5.0]).view(1, 1, 3, 1).repeat(1, 2, 1, 1) * torch.tensor([1, 0.1]).view(1, 2, 1, 1)
    torch.testing.assert_close(clipping.denormalize(clipping.normalize(inside)), inside)


def test_constant_channel_and_errors():
    norm = AffineNormalizer(AffineNormalizer.Params(mode="fitted"))
    norm.fit([torch.stack([torch.full((2, 4, 4), 3.0), torch.zeros(2, 4, 4)], dim=1)])
    assert torch.isfinite(norm.scale).all()
    torch.testing.assert_close(norm.normalize(torch.full((1, 2, 1, 1), 3.0))[0, 0], torch.zeros(1, 1))
    with pytest.raises(SpecinpaintError, match="no batches"):
        AffineNormalizer(AffineNormalizer.Params(mode="fitted")).fit([])
    with pytest.raises(SpecinpaintError, match="NaN"):
        AffineNormalizer(AffineNormalizer.Params(mode="fitted")).fit([torch.full((1, 2, 2, 2), float("nan"))])
    with pytest.raises(SpecinpaintError, match=r"\[B, 2"):
        norm.normalize(torch.zeros(1, 3, 2, 2))


def test_prespecified_fit_keeps_constants():
    norm = AffineNormalizer(AffineNormalizer.Params())
    before = norm.scale.clone()
    norm.fit(batches())
    torch.testing.assert_close(norm.scale, before)
    assert torch.isfinite(norm.data_min).all()


@pytest.mark.parametrize("params", [{"scale": [1.0]}, {"margins": [0.8, -1]}, {"scale": [0.0, 1.0]}, {"mode": "x"}])
def test_invalid_params(params):
    with pytest.raises(PluginError):
        registry("normalizers").build("affine", params)
