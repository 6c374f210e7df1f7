"""Each attention backend (math, sdpa, and xformers where it can run) against a naive
matmul-softmax written out here, at the bottom decoder's self-attention shape (16 heads, head dim
32, 512 positions, causal) and for full (unmasked) attention. Recorded: ``{backend}_speedup`` over
the naive version measured in the same run.
"""

from __future__ import annotations

import pytest
import torch

from specinpaint.priors.attention import AttnMask, attend, xformers_usable


def naive_attention(q, k, v, causal: bool):
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    if causal:
        lq, lk = scores.shape[-2:]
        scores = scores.masked_fill(~torch.ones(lq, lk, dtype=torch.bool, device=q.device).tril(lk - lq), float("-inf"))
    return scores.softmax(dim=-1) @ v


@pytest.mark.parametrize("causal", [True, False], ids=["causal", "full"])
@pytest.mark.parametrize("backend", ["math", "sdpa", "xformers"])
def test_attention_backend_vs_naive(benchmark, bench_device, pick_size, timer, record_ratio, backend, causal):
    dtype = torch.float16 if bench_device.type == "cuda" else torch.float32
    if backend == "xformers":
        ok, detail = xformers_usable(bench_device, dtype)
        if not ok:
            pytest.skip(detail)
    batch, length = pick_size(tiny=(2, 64), small=(4, 512), full=(8, 512))
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(batch, 16, length, 32, generator=g).to(bench_device, dtype) for _ in range(3))
    mask = AttnMask(causal=causal)
    out = benchmark(lambda: attend(q, k, v, mask, backend=backend))
    reference = naive_attention(q.float(), k.float(), v.float(), causal)
    torch.testing.assert_close(out.float(), reference, atol=2e-3 if dtype == torch.float16 else 1e-4, rtol=1e-3)
    repeats = pick_size(tiny=1, small=5, full=10)
    backend_s = timer(lambda: attend(q, k, v, mask, backend=backend), repeats=repeats)
    naive_s = timer(lambda: naive_attention(q, k, v, causal), repeats=repeats)
    record_ratio(backend, backend_s, "naive", naive_s)
    benchmark.extra_info.update(backend=backend, causal=causal, batch=batch, length=length, heads=16, head_dim=32)
