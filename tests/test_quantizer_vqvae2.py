"""VQ-VAE-2 quantizer plugin: paper shapes and size, determinism, generalised strides/levels, errors."""

from __future__ import annotations

import pytest
import torch

from fakes.training import TINY_VQVAE
from specinpaint.core import Codemaps, QuantizerOutput
from specinpaint.core.errors import ConfigError, PluginError, SpecinpaintError
from specinpaint.core.registry import registry

quantizers = registry("quantizers")



pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(**overrides):
    return quantizers.build("vqvae2", {**TINY_VQVAE, **overrides})


def test_paper_configuration_shapes_and_parameter_count():
    """64 000 samples → [2, 1024, 128] → top 32×4, bottom 64×8; ≈1.78 M parameters + codebooks."""
    torch.manual_seed(0)
    model = quantizers.build("vqvae2", {})
    assert model.levels == ("top", "bottom")
    assert model.num_codes == {"top": 512, "bottom": 512}
    assert model.codemap_shapes((2, 1024, 128)) == {"top": (32, 4), "bottom": (64, 8)}
    params = model.parameter_count()
    codebook_floats = sum(cb.embed.numel() for cb in model.codebooks.values())
    print(f"paper VQ-VAE-2: {params} parameters ({params * 4 / 1e6:.2f} MB fp32) + "
          f"{codebook_floats} codebook floats ({codebook_floats * 4 / 1e6:.2f} MB)")
    assert params == 1_778_242  # the count derived from the paper's architecture (docs/paper.md)
    assert codebook_floats == 2 * 512 * 64
    spec = torch.randn(1, 2, 1024, 128)
    out = model(spec)
    assert isinstance(out, QuantizerOutput)
    assert out.reconstruction.shape == spec.shape
    assert out.codes.shapes == {"top": (32, 4), "bottom": (64, 8)}
    assert set(out.losses) == {"recon", "commit/top", "commit/bottom"}
    for level in ("top", "bottom"):
        assert f"{level}/perplexity" in out.metrics and f"{level}/dead_fraction" in out.metrics
    model.eval()
    codes = model.encode(spec)
    assert codes.levels == ["top", "bottom"]
    assert model.decode(codes).shape == spec.shape


def test_paper_configuration_with_the_paper_representation():
    """When the Mel-IF representation is installed, 64 000 samples give the paper's input shape."""
    reps = registry("representations")
    if "gansynth-mel-if" not in reps:
        pytest.skip("gansynth-mel-if representation not installed in this build")
    try:
        rep = reps.build("gansynth-mel-if", {})
    except PluginError as exc:
        pytest.skip(f"gansynth-mel-if not usable yet: {exc}")
    shape = rep.output_shape(64000)
    assert shape == (2, 1024, 128)
    assert quantizers.build("vqvae2", {}).codemap_shapes(shape) == {"top": (32, 4), "bottom": (64, 8)}


def test_encode_is_deterministic_and_never_updates_codebooks():
    torch.manual_seed(1)
    model = tiny()
    spec = torch.randn(4, 2, 64, 32)
    model.train()
    model(spec)  # k-means init + one EMA update
    before = {k: v.clone() for k, v in model.state_dict().items()}
    first = model.encode(spec)  # encode in train mode must not touch the codebooks either
    model.eval()
    second = model.encode(spec)
    assert first.equal(second)
    out = model(spec)  # eval forward: no update, codes identical to encode
    assert out.codes.equal(second)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert first.shapes == {"top": (8, 4), "bottom": (16, 8)}


def test_decode_of_encode_matches_eval_forward_reconstruction():
    torch.manual_seed(2)
    model = tiny()
    spec = torch.randn(2, 2, 64, 32)
    model(spec)
    model.eval()
    with torch.no_grad():
        recon = model(spec).reconstruction
        decoded = model.decode(model.encode(spec))
    torch.testing.assert_close(decoded, recon)


def test_anisotropic_strides_and_three_levels():
    model = tiny(num_levels=3, bottom_strides=[[4, 2], [2, 1]], top_strides=[[2, 1]], level_num_codes={"middle": 16})
    assert model.levels == ("top", "middle", "bottom")
    assert model.num_codes == {"top": 32, "middle": 16, "bottom": 32}
    assert model.codemap_shapes((2, 64, 32)) == {"top": (2, 16), "middle": (4, 16), "bottom": (8, 16)}
    spec = torch.randn(2, 2, 64, 32)
    out = model(spec)
    assert out.reconstruction.shape == spec.shape
    assert out.codes.shapes == {"top": (2, 16), "middle": (4, 16), "bottom": (8, 16)}
    assert model.decode(model.encode(spec)).shape == spec.shape


def test_single_level():
    model = tiny(num_levels=1)
    assert model.levels == ("top",)
    out = model(torch.randn(2, 2, 64, 32))
    assert out.codes.shapes == {"top": (16, 8)}


def test_channel_weights_select_what_the_reconstruction_loss_counts():
    torch.manual_seed(3)
    model = tiny(channel_weights=[1.0, 0.0])
    spec = torch.randn(2, 2, 64, 32)
    recon = torch.zeros_like(spec)
    recon[:, 1] = 100.0  # a huge error on the zero-weight channel
    loss, per_channel = model.recon_loss(recon, spec)
    torch.testing.assert_close(loss, spec[:, 0].pow(2).mean())
    assert per_channel[1] > 1000
    l1 = tiny(recon_loss="l1")
    loss_l1, _ = l1.recon_loss(recon, spec)
    expected = 0.5 * (spec[:, 0].abs().mean() + (recon[:, 1] - spec[:, 1]).abs().mean())
    torch.testing.assert_close(loss_l1, expected)


def test_gradients_reach_both_encoders_through_the_straight_through_estimator():
    torch.manual_seed(4)
    model = tiny()
    spec = torch.randn(2, 2, 64, 32)
    model(spec)  # initialise codebooks
    out = model(spec)
    out.loss.backward()
    for name in ("encoders.top", "encoders.bottom", "decoder", "cond_decoders.bottom", "upsamplers.top"):
        grads = [p.grad for n, p in model.named_parameters() if n.startswith(name)]
        assert grads and all(g is not None for g in grads), name
        assert sum(float(g.abs().sum()) for g in grads) > 0, name


@pytest.mark.parametrize(
    "params, message",
    [
        ({"channel_weights": [1.0]}, "channel_weights"),
        ({"level_num_codes": {"middle": 8}}, "unknown level"),
        ({"bottom_strides": [[0, 2]]}, "strides"),
        ({"num_levels": 2, "top_strides": []}, "top_strides"),
        ({"hidden": 3}, "hidden"),
    ],
)
def test_invalid_params_are_one_line_errors(params, message):
    with pytest.raises(PluginError, match=message) as info:
        quantizers.build("vqvae2", params)
    assert "\n" not in str(info.value)


def test_bad_inputs_and_codes_are_refused_clearly():
    model = tiny()
    with pytest.raises(ConfigError, match="in_channels"):
        model.codemap_shapes((3, 64, 32))
    with pytest.raises(ConfigError, match="not divisible"):
        model.codemap_shapes((2, 60, 32))
    with pytest.raises(SpecinpaintError, match=r"\[B, C, F, T\]"):
        model(torch.randn(2, 64, 32))
    model.eval()
    codes = model.encode(torch.randn(1, 2, 64, 32))
    with pytest.raises(SpecinpaintError, match="lack level 'bottom'"):
        model.decode(Codemaps({"top": codes["top"]}))
    with pytest.raises(SpecinpaintError, match="expected"):
        model.decode(codes.replace(top=torch.zeros(1, 4, 4, dtype=torch.long)))
    with pytest.raises(SpecinpaintError, match="outside"):
        model.decode(codes.replace(top=torch.full((1, 8, 4), 999, dtype=torch.long)))
