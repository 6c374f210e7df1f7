"""FSQ bottleneck and the `fsq` quantizer plugin (same codemap interface as vqvae2)."""

from __future__ import annotations

import pytest
import torch

from fakes.training import TINY_VQVAE
from specinpaint.core.errors import PluginError, SpecinpaintError
from specinpaint.core.registry import registry
from specinpaint.quantizers.fsq import FSQCodebook

ARCH = {k: v for k, v in TINY_VQVAE.items() if k != "num_codes"}


pytestmark = pytest.mark.usefixtures("one_thread")


def test_fsq_rounds_each_dimension_to_exactly_its_levels():
    torch.manual_seed(0)
    codebook = FSQCodebook([8, 5, 3], dim=4)
    assert codebook.num_codes == 120
    axis = torch.linspace(-4, 4, 41)
    z = torch.cartesian_prod(axis, axis, axis)  # a grid over the bounded range of every dimension
    unit, codes = codebook._quantize_unit(z)
    assert int(codes.min()) == 0 and int(codes.max()) == 119
    assert codes.unique().numel() == 120  # every code reachable
    for dim, levels in enumerate([8, 5, 3]):
        assert unit[:, dim].unique().numel() == levels
        assert float(unit[:, dim].abs().max()) <= 1.0
    # the integer code and the quantized values agree both ways
    torch.testing.assert_close(codebook._codes_to_unit(codes), unit.detach())


def test_fsq_straight_through_gradient_and_lookup():
    torch.manual_seed(1)
    codebook = FSQCodebook([4, 4], dim=6)
    z = torch.randn(10, 6, requires_grad=True)
    out, codes, commitment, stats = codebook(z)
    assert commitment is None and out.shape == (10, 6)
    out.sum().backward()
    assert z.grad is not None and float(z.grad.abs().sum()) > 0
    torch.testing.assert_close(codebook.lookup(codes), out.detach())
    assert torch.equal(codebook.nearest(z.detach()), codes)
    assert 1.0 <= stats.perplexity <= 16
    with pytest.raises(ValueError, match="outside"):
        codebook.lookup(torch.tensor([16]))


def test_fsq_plugin_has_the_vqvae2_codemap_interface():
    torch.manual_seed(2)
    model = registry("quantizers").build("fsq", {**ARCH, "fsq_levels": [4, 4, 2], "level_fsq_levels": {"top": [5, 3]}})
    assert model.levels == ("top", "bottom")
    assert model.num_codes == {"top": 15, "bottom": 32}
    assert model.codemap_shapes((2, 64, 32)) == {"top": (8, 4), "bottom": (16, 8)}
    spec = torch.randn(3, 2, 64, 32)
    out = model(spec)
    assert set(out.losses) == {"recon"}  # no commitment loss: nothing to commit to
    assert "top/perplexity" in out.metrics and "bottom/dead_fraction" in out.metrics
    out.loss.backward()
    assert model.codebooks["top"].project_in.weight.grad is not None
    model.eval()
    codes = model.encode(spec)
    assert codes.equal(model.encode(spec))
    with torch.no_grad():
        torch.testing.assert_close(model.decode(codes), model(spec).reconstruction)
    assert int(codes["top"].max()) < 15 and int(codes["bottom"].max()) < 32
    with pytest.raises(SpecinpaintError, match="outside"):
        model.decode(codes.replace(top=torch.full((3, 8, 4), 15)))


def test_fsq_paper_default_codebook_size():
    model = registry("quantizers").build("fsq", {})
    assert model.num_codes == {"top": 1000, "bottom": 1000}
    assert model.codemap_shapes((2, 1024, 128)) == {"top": (32, 4), "bottom": (64, 8)}


@pytest.mark.parametrize("params, message", [
    ({"fsq_levels": [1, 4]}, "fsq_levels"),
    ({"level_fsq_levels": {"middle": [4]}}, "unknown level"),
    ({"num_codes": 512}, "num_codes"),  # vqvae2-only field: FSQ sizes come from its levels
])
def test_fsq_params_are_validated(params, message):
    with pytest.raises(PluginError, match=message):
        registry("quantizers").build("fsq", params)
