"""Parallel masked decoding (MaskGIT, ``num_steps`` passes) against autoregressive decoding with
the KV cache, for a full top map (top prior, both samplers) and a full bottom map (bottom-masked
prior in parallel vs the autoregressive bottom prior). Paper-size models in timing runs, tiny ones
under ``--benchmark-disable``. Recorded: tokens/s of both and ``parallel_speedup``.
"""

from __future__ import annotations

import time

import pytest
import torch

from specinpaint.core import Codemaps, Conditioning, SamplingOptions, registry

TINY = dict(d_model=32, num_heads=2, num_encoder_layers=1, num_decoder_layers=1, ffn_dim=64, num_codes=16)
TINY_SHAPES = {"top": [8, 4], "bottom": [16, 8]}
PAPER_SHAPES = {"top": [32, 4], "bottom": [64, 8]}


@pytest.fixture(autouse=True)
def _one_thread_when_tiny(bench_scale):
    """CI mode (tiny sizes, timings not read): one intra-op thread, much faster on shared cores."""
    threads = torch.get_num_threads()
    if bench_scale == "tiny":
        torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build(name: str, scale: str, device: torch.device):
    torch.manual_seed(0)
    if scale != "tiny":
        return registry("priors").build(name, {}).to(device).eval()
    params = dict(TINY, codemap_shape=TINY_SHAPES["top" if name == "top-transformer" else "bottom"])
    if name != "top-transformer":
        params.update(top_shape=TINY_SHAPES["top"], top_num_codes=16)
    return registry("priors").build(name, params).to(device).eval()


def timed(fn, device: torch.device) -> float:
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


@pytest.mark.parametrize("level", ["top", "bottom"])
def test_parallel_vs_autoregressive(benchmark, bench_scale, bench_device, pick_size, level):
    shapes = TINY_SHAPES if bench_scale == "tiny" else PAPER_SHAPES
    codes = Codemaps({k: torch.zeros(1, *v, dtype=torch.long) for k, v in shapes.items()})
    cond = Conditioning.make(60, "string", 1)
    mask = torch.ones(1, *shapes[level], dtype=torch.bool)
    if level == "top":
        ar_prior = parallel_prior = build("top-transformer", bench_scale, bench_device)
    else:
        ar_prior = build("bottom-transformer", bench_scale, bench_device)
        parallel_prior = build("bottom-masked", bench_scale, bench_device)
    steps = 8
    parallel_options = SamplingOptions(sampler="parallel", num_steps=steps, seed=0)
    parallel_times: list[float] = []

    def parallel():
        parallel_times.append(timed(lambda: parallel_prior.inpaint(codes, mask, cond, parallel_options), bench_device))

    benchmark.pedantic(parallel, rounds=pick_size(tiny=1, small=2, full=3), iterations=1)
    ar_s = timed(lambda: ar_prior.inpaint(codes, mask, cond, SamplingOptions(seed=0)), bench_device)
    tokens = int(mask.sum())
    benchmark.extra_info.update(
        level=level,
        tokens=tokens,
        num_steps=steps,
        parallel_tokens_per_s=tokens / min(parallel_times),
        autoregressive_kv_tokens_per_s=tokens / ar_s,
        parallel_speedup=ar_s / min(parallel_times),
        threads=torch.get_num_threads(),
    )
