"""A tiny prior of each kind overfits a handful of code maps within a few seconds, and then
reproduces them by sampling (so loss, masks and samplers agree with each other)."""

import pytest
import torch

from fakes.priors import build, conditioning, random_codes
from specinpaint.core import SamplingOptions

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize(
    "name, sampler",
    [("top-transformer", "autoregressive"), ("bottom-transformer", "autoregressive"), ("bottom-masked", "parallel")],
)
def test_tiny_prior_overfits_a_few_examples(name, sampler):
    prior = build(name, num_decoder_layers=1)
    codes, cond = random_codes(4, seed=1), conditioning(4)  # distinct labels identify each example
    optimiser = torch.optim.Adam(prior.parameters(), lr=3e-3)
    first = None
    for _ in range(220):
        out = prior.loss(codes, cond)  # mask=None: the prior draws its own training masks
        optimiser.zero_grad()
        out.loss.backward()
        optimiser.step()
        first = first if first is not None else out.loss.item()
    prior.eval()
    everything = torch.ones(4, *prior.codemap_shape, dtype=torch.bool)
    with torch.no_grad():
        final = prior.loss(codes, cond, everything)
    assert final.loss.item() < 0.1 < first
    assert float(final.metrics["accuracy"]) == 1.0
    sampled = prior.inpaint(codes, everything, cond, SamplingOptions(sampler=sampler, seed=0, temperature=0.3))
    assert (sampled == codes[prior.level]).float().mean() > 0.95
    if name == "top-transformer":  # the encoder head learnt the same maps: the parallel sampler works too
        parallel = prior.inpaint(codes, everything, cond, SamplingOptions(sampler="parallel", seed=0, temperature=0.3))
        assert (parallel == codes["top"]).float().mean() > 0.95
