"""Each prior declares the samplers it can run (the editing API plans levels from this) and keeps
its own clear error when called directly with one it cannot."""

import pytest
import torch

from fakes.priors import BOTTOM, build, conditioning, random_codes
from specinpaint.core import SamplingOptions, SpecinpaintError, registry
from specinpaint.core.prior import Prior


def test_declared_samplers_of_the_builtin_priors():
    assert Prior.samplers == ("autoregressive",)  # the contract's default
    declared = {name: registry("priors").get(name).samplers
                for name in ("top-transformer", "bottom-transformer", "bottom-masked")}
    assert declared == {"top-transformer": ("autoregressive", "parallel"),
                        "bottom-transformer": ("autoregressive",),
                        "bottom-masked": ("autoregressive", "parallel")}
    assert build("top-transformer").supports_sampler("parallel")
    assert not build("bottom-transformer").supports_sampler("parallel")
    assert build("bottom-masked").supports_sampler("parallel")


def test_top_prior_without_its_encoder_head_does_not_offer_parallel():
    prior = build("top-transformer", mlm_loss_weight=0.0)
    assert prior.supports_sampler("autoregressive") and not prior.supports_sampler("parallel")
    codes, cond = random_codes(1), conditioning(1)
    mask = torch.ones(1, 8, 4, dtype=torch.bool)
    with pytest.raises(SpecinpaintError, match="parallel sampling needs the encoder head"):
        prior.inpaint(codes, mask, cond, SamplingOptions(sampler="parallel", seed=0))


def test_bottom_transformer_refuses_parallel_when_called_directly():
    prior = build("bottom-transformer")
    mask = torch.ones(1, *BOTTOM, dtype=torch.bool)
    with pytest.raises(SpecinpaintError, match="autoregressively only .* use the bottom-masked prior"):
        prior.inpaint(random_codes(1), mask, conditioning(1), SamplingOptions(sampler="parallel", seed=0))
