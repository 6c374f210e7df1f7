"""Paper-size priors (d_model 512, 16 heads, 6 + 8 layers, FFN 2048, 512 codes) build and run one
training forward and one cached decoding step at the paper's shapes (top 32×4, bottom 64×8)."""

import math

import pytest
import torch

from specinpaint.core import Codemaps, Conditioning, registry

# parameter counts (defaults, positions=rope, mlp=gelu); a change in the architecture shows up here
EXPECTED_MILLIONS = {"top-transformer": (50, 58), "bottom-transformer": (50, 58), "bottom-masked": (50, 58)}


@pytest.mark.parametrize("name", ["top-transformer", "bottom-transformer", "bottom-masked"])
def test_paper_size_prior_builds_and_runs_at_paper_shapes(name, record_property):
    torch.manual_seed(0)
    prior = registry("priors").build(name, {})
    millions = sum(p.numel() for p in prior.parameters()) / 1e6
    record_property("parameters_millions", round(millions, 2))
    low, high = EXPECTED_MILLIONS[name]
    assert low < millions < high, f"{name}: {millions:.1f} M parameters"
    codes = Codemaps({"top": torch.randint(0, 512, (1, 32, 4)), "bottom": torch.randint(0, 512, (1, 64, 8))})
    cond = Conditioning.make(60, "organ", 1)
    prior.eval()
    with torch.no_grad():
        out = prior.loss(codes, cond)
    per_term = math.log(512)
    expected = 2 * per_term if name == "top-transformer" else per_term  # AR + encoder head for the top prior
    assert out.loss.item() == pytest.approx(expected, rel=0.1)
    if name == "bottom-transformer":  # one cached decoding step at full length: 4 prefill slots then 1
        with torch.no_grad():
            memory = prior.context(prior.top_lin.to_sequence(codes["top"]), prior.classes(cond))
            cache = prior.decoder.new_cache(512)
            inputs = torch.randint(0, 512, (1, 5))
            chunked = prior.decode(inputs[:, :4], memory, prior.classes(cond), 0, cache)
            step = prior.decode(inputs[:, 4:], memory, prior.classes(cond), 4, cache)
            full = prior.decode(inputs, memory, prior.classes(cond))
        torch.testing.assert_close(torch.cat([chunked, step], dim=1), full, atol=1e-4, rtol=1e-4)
        assert cache.length == 5
