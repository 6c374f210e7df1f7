"""Attention backends: one function, one mask type, parity, selection and fallback."""

import logging

import pytest
import torch

from specinpaint.core.errors import SpecinpaintError
from specinpaint.priors import attention
from specinpaint.priors.attention import AttnMask, attend, backend_report, resolve_backend


def qkv(b=2, h=3, lq=5, lk=5, d=16, dtype=torch.float32, device="cpu", seed=0):
    g = torch.Generator().manual_seed(seed)
    make = lambda n: torch.randn(b, h, n, d, generator=g).to(device=device, dtype=dtype)  # noqa: E731
    return make(lq), make(lk), make(lk)


def mask_cases(b=2, h=3, lq=5, lk=5, device="cpu"):
    g = torch.Generator().manual_seed(1)
    padding = torch.ones(b, 1, 1, lk, dtype=torch.bool)
    padding[0, ..., -2:] = False  # key padding for example 0
    full = torch.rand(b, h, lq, lk, generator=g) > 0.3
    full[..., 0] = True  # no fully masked row
    return {
        "none": AttnMask(),
        "causal": AttnMask(causal=True),
        "keep-padding": AttnMask(keep=padding.to(device)),
        "keep-full": AttnMask(keep=full.to(device)),
        "causal+keep": AttnMask(causal=True, keep=padding.to(device)),
    }


SHAPES = [(5, 5), (3, 7), (1, 6)]  # self-attention, a chunk against a KV cache, one cached step


@pytest.mark.parametrize("lq, lk", SHAPES)
@pytest.mark.parametrize("kind", ["none", "causal", "keep-padding", "keep-full", "causal+keep"])
def test_sdpa_matches_math_for_every_mask_kind(lq, lk, kind):
    q, k, v = qkv(lq=lq, lk=lk)
    mask = mask_cases(lq=lq, lk=lk)[kind]
    assert mask.kind == kind.split("-")[0]
    ref = attend(q, k, v, mask, backend="math")
    out = attend(q, k, v, mask, backend="sdpa")
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ["causal", "causal+keep"])
def test_gradients_match_between_sdpa_and_math(kind):
    grads = {}
    for backend in ("math", "sdpa"):
        q, k, v = (t.requires_grad_() for t in qkv())
        attend(q, k, v, mask_cases()[kind], backend=backend).square().sum().backward()
        grads[backend] = (q.grad, k.grad, v.grad)
    for a, b in zip(grads["math"], grads["sdpa"], strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_causal_is_aligned_bottom_right_like_a_kv_cache():
    """Query i of a chunk of 3 new positions after 4 cached ones sees keys 0 … 4 + i."""
    q, k, v = qkv(lq=3, lk=7)
    out = attend(q, k, v, AttnMask(causal=True), backend="math")
    for i in range(3):
        visible = 4 + i + 1
        expected = attend(q[:, :, i : i + 1], k[:, :, :visible], v[:, :, :visible], backend="math")
        torch.testing.assert_close(out[:, :, i : i + 1], expected, atol=1e-6, rtol=1e-6)


def test_fully_masked_rows_give_zeros_not_nan():
    q, k, v = qkv()
    keep = torch.ones(2, 1, 5, 5, dtype=torch.bool)
    keep[:, :, 2] = False
    for backend in ("math", "sdpa"):
        out = attend(q, k, v, AttnMask(keep=keep), backend=backend)
        assert torch.isfinite(out).all()
        assert out[:, :, 2].abs().max() == 0


def test_causal_needs_enough_keys():
    q, k, v = qkv(lq=4, lk=2)
    with pytest.raises(SpecinpaintError, match="at least as many keys"):
        attend(q, k, v, AttnMask(causal=True), backend="math")


def test_selection_order_config_then_env_then_auto(monkeypatch):
    q = torch.zeros(1, 1, 2, 4)
    monkeypatch.delenv(attention.ENV_VAR, raising=False)
    assert resolve_backend("auto", q) == "sdpa"  # CPU auto: sdpa
    monkeypatch.setenv(attention.ENV_VAR, "math")
    assert resolve_backend("auto", q) == "math"
    assert resolve_backend("sdpa", q) == "sdpa"  # explicit config wins over the environment
    monkeypatch.setenv(attention.ENV_VAR, "flash9000")
    with pytest.raises(SpecinpaintError, match="SPECINPAINT_ATTENTION='flash9000'"):
        resolve_backend("auto", q)
    with pytest.raises(SpecinpaintError, match="not one of"):
        resolve_backend("cudnn", q)


def test_xformers_on_cpu_falls_back_to_sdpa_with_one_log_line(monkeypatch, caplog):
    monkeypatch.setattr(attention, "_logged", set())
    monkeypatch.delenv(attention.ENV_VAR, raising=False)
    q, k, v = qkv()
    with caplog.at_level(logging.INFO, logger=attention.__name__):
        out1 = attend(q, k, v, AttnMask(causal=True), backend="xformers")
        out2 = attend(q, k, v, AttnMask(causal=True), backend="xformers")
    lines = [r for r in caplog.records if "xformers" in r.getMessage()]
    assert len(lines) == 1 and "using sdpa" in lines[0].getMessage()
    torch.testing.assert_close(out1, attend(q, k, v, AttnMask(causal=True), backend="sdpa"))
    assert torch.equal(out1, out2)


def test_backend_report_lists_every_backend():
    report = {entry["name"]: entry for entry in backend_report()}
    assert set(report) == {"math", "sdpa", "xformers"}
    assert report["math"]["available"] and report["sdpa"]["available"]
    assert all(isinstance(e["detail"], str) and e["detail"] for e in report.values())
    if not torch.cuda.is_available():
        assert report["xformers"]["available"] is False


@pytest.mark.cuda
def test_xformers_matches_sdpa_on_cuda():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    for dtype in (torch.float16, torch.float32):
        ok, detail = attention.xformers_usable(torch.device("cuda"), dtype)
        if not ok:
            pytest.skip(detail)
        tol = 2e-3 if dtype == torch.float16 else 1e-4
        for lq, lk in SHAPES:
            q, k, v = qkv(lq=lq, lk=lk, d=64, dtype=dtype, device="cuda")
            for kind, mask in mask_cases(lq=lq, lk=lk, device="cuda").items():
                ref = attend(q, k, v, mask, backend="sdpa")
                out = attention._xformers(q, k, v, mask, 0.0, None)  # no silent fallback in this test
                torch.testing.assert_close(out, ref, atol=tol, rtol=tol, msg=lambda m, k=kind, d=dtype: f"{k} {d}: {m}")
