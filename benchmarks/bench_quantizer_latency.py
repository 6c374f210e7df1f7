"""Encode/decode latency of the paper VQ-VAE-2 (one note, and per note in a batch).

Records ``encode_s``/``decode_s`` for one [1, 2, 1024, 128] note and the batched per-note times
(``batched_encode_per_note_s``, ``batched_speedup`` = single-note time / per-note time in a batch
of 16), all measured in the same run. Weights are untrained: latency does not depend on them.
"""

from __future__ import annotations

import statistics
import time

import torch

from specinpaint.core.registry import registry


def test_encode_decode_latency(benchmark, bench_device, pick_size, timer, record_ratio):
    torch.manual_seed(0)
    model = registry("quantizers").build("vqvae2", {}).to(bench_device).eval()
    repeats = pick_size(tiny=1, small=5, full=20)
    batch = pick_size(tiny=2, small=16, full=16)
    one = torch.randn(1, 2, 1024, 128, device=bench_device)
    many = torch.randn(batch, 2, 1024, 128, device=bench_device)
    times: list[float] = []

    def encode_one():
        start = time.perf_counter()
        out = model.encode(one)
        if bench_device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        return out

    with torch.no_grad():
        codes = benchmark.pedantic(encode_one, rounds=repeats, iterations=1)
        encode_s = statistics.median(times)
        decode_s = timer(lambda: model.decode(codes), repeats)
        batched_s = timer(lambda: model.encode(many), max(1, repeats // 2)) / batch
    info = benchmark.extra_info
    info["encode_s"] = encode_s
    info["decode_s"] = decode_s
    info["decode_vs_encode"] = decode_s / encode_s
    info["batch"] = batch
    record_ratio("batched_encode_per_note", batched_s, "single_encode", encode_s)
    assert codes.shapes == {"top": (32, 4), "bottom": (64, 8)}
