"""The hierarchy keeps its convolutions in channels-last memory (faster on oneDNN) without changing
what it computes: the same weights in the default layout give the same codes, reconstruction and
gradients; every gradient has its parameter's strides (DDP's buckets and the fused optimiser read
them as flat arrays); what leaves the quantizer is in the default layout."""

from __future__ import annotations

import pytest
import torch

from specinpaint.core import Conditioning
from specinpaint.core.pipeline import build_pipeline


@pytest.fixture(scope="module")
def quantizers():
    """tiny.yaml's quantizer (labels, comb, harmonic gain) twice with equal weights: as built
    (channels-last) and switched to the default layout."""
    torch.manual_seed(0)
    built = build_pipeline("tiny").quantizer
    torch.manual_seed(0)
    default = build_pipeline("tiny").quantizer
    default.use_memory_format(torch.contiguous_format)
    default.load_state_dict(built.state_dict())
    return built, default


def _step(quantizer, spec, conditioning):
    quantizer.train()
    quantizer.zero_grad(set_to_none=True)
    torch.manual_seed(1)  # the decoder's label dropout
    out = quantizer(spec, conditioning)
    (out.loss + out.reconstruction.square().mean()).backward()
    return out


def test_weights_are_channels_last_and_outputs_are_default_layout(quantizers):
    built, _ = quantizers
    convs = [p for p in built.parameters() if p.dim() == 4 and p.shape[-2:] != (1, 1)]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    assert not any(p.is_contiguous() for p in convs)
    spec = torch.randn(2, 2, 256, 128)
    labels = Conditioning(torch.tensor([48, 60]), torch.tensor([0, 3]))
    built.eval()
    codes = built.encode(spec)
    assert built.decode(codes, labels).is_contiguous()
    assert built(spec, labels).reconstruction.is_contiguous()


def test_the_layout_changes_no_number_and_gradients_keep_their_parameters_strides(quantizers):
    built, default = quantizers
    spec = torch.randn(3, 2, 256, 128, generator=torch.Generator().manual_seed(2))
    labels = Conditioning(torch.tensor([40, 52, 71]), torch.tensor([0, 2, 5]))
    built.eval(), default.eval()
    codes_cl, codes_default = built.encode(spec), default.encode(spec)
    for level in codes_cl.levels:
        assert torch.equal(codes_cl[level], codes_default[level])
    out_cl, out_default = _step(built, spec, labels), _step(default, spec, labels)
    torch.testing.assert_close(out_cl.reconstruction, out_default.reconstruction, rtol=1e-4, atol=1e-4)
    grads = dict(default.named_parameters())
    for name, param in built.named_parameters():
        assert param.grad is not None, name
        assert param.grad.stride() == param.stride(), name
        torch.testing.assert_close(param.grad, grads[name].grad, rtol=1e-3, atol=1e-5)
