"""Interactive edit latency and server throughput.

* ``test_edit_latency[tiny|paper]``: one region inpaint (top level: top prior on the box, bottom
  prior under it) plus the decode to audio — what a user waits for after drawing a box. Recorded:
  ``edit_p50_s``/``edit_p95_s``, the codes-only part (``codes_p50_s``, what ``/api/inpaint``
  computes), the decode-only baseline (``decode_p50_s``) measured in the same run, and the ratios
  ``edit_vs_decode`` and ``codes_vs_decode``, and on CPU the edit with one intra-op thread
  (``edit_1thread_p50_s``: the server's worker threads; on a busy 2-core box one thread is often
  faster than two). The issue's goal for tiny on 2 CPU cores: edit p50 <
  300 ms (read it off the record; never asserted). The paper configuration runs with
  ``SPECINPAINT_BENCH_FULL=1`` only. Weights are untrained: latency does not depend on them.
* ``test_server_throughput``: ``/api/inpaint`` requests/s from concurrent loopback clients against a
  real uvicorn server, and the same edits called directly in Python (baseline) — the ratio is the
  HTTP + JSON + locking overhead.
"""

from __future__ import annotations

import statistics
import threading
import time

import pytest
import torch

from specinpaint.core import build_pipeline
from specinpaint.core.region import Region
from specinpaint.editing import Editor


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _pipeline(name: str, device: torch.device):
    torch.manual_seed(0)
    pipe = build_pipeline(name).to(device).eval()
    if pipe.normalizer.needs_fit:  # paper.yaml fits its normaliser on data: any statistics do for latency
        pipe.fit_normalizer([0.1 * torch.randn(2, pipe.config.num_samples)])
    return pipe


def _region(editor: Editor) -> Region:
    seconds, top_hz = editor.geometry.window_seconds, float(editor.geometry.bin_frequencies()[-1])
    return Region(time_s=(0.25 * seconds, 0.5 * seconds), freq_hz=(0.0, 0.12 * top_hz))


@pytest.mark.parametrize("config", ["tiny", "paper"])
def test_edit_latency(benchmark, config, bench_full, pick_size, bench_device):
    if config == "paper" and not bench_full:
        pytest.skip("paper-size edit latency runs with SPECINPAINT_BENCH_FULL=1")
    pipe = _pipeline(config, bench_device)
    editor = Editor(pipe)
    codes = editor.generate(60, "brass", sampling={"seed": 0}, decode=False).codes
    region = _region(editor)
    rounds = pick_size(tiny=1, small=8, full=20)
    seeds = iter(range(10_000))
    edit_times: list[float] = []

    def edit():
        start = time.perf_counter()
        out = editor.inpaint(codes, region, pitch=62, family="organ", seed=next(seeds))
        if bench_device.type == "cuda":
            torch.cuda.synchronize()
        edit_times.append(time.perf_counter() - start)
        return out

    if rounds > 1:
        pipe.decode(codes)  # warm-up (first-call allocations, FFT plans)
    result = benchmark.pedantic(edit, rounds=rounds, iterations=1, warmup_rounds=0 if rounds <= 2 else 1)
    assert result.audio.shape == (1, pipe.config.num_samples)
    mask = result.masks["top"]
    assert torch.equal(result.codes["top"][~mask.to(result.codes["top"].device)], codes["top"][~mask])

    codes_times, decode_times = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        editor.inpaint(codes, region, pitch=62, family="organ", seed=next(seeds), decode=False)
        codes_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        pipe.decode(codes)
        if bench_device.type == "cuda":
            torch.cuda.synchronize()
        decode_times.append(time.perf_counter() - start)
    edit_p50, decode_p50, codes_p50 = (statistics.median(v) for v in (edit_times, decode_times, codes_times))
    threads = torch.get_num_threads()
    single: list[float] = []
    if bench_device.type == "cpu" and threads > 1:  # the server's worker threads run single-threaded
        torch.set_num_threads(1)
        try:
            for _ in range(rounds):
                start = time.perf_counter()
                editor.inpaint(codes, region, pitch=62, family="organ", seed=next(seeds))
                single.append(time.perf_counter() - start)
        finally:
            torch.set_num_threads(threads)
    benchmark.extra_info.update(
        config=config, rounds=rounds, region_top_cells=int(mask.sum()), torch_threads=threads,
        edit_1thread_p50_s=statistics.median(single) if single else edit_p50,
        edit_p50_s=edit_p50, edit_p95_s=_percentile(edit_times, 0.95),
        codes_p50_s=codes_p50, codes_p95_s=_percentile(codes_times, 0.95),
        decode_p50_s=decode_p50, decode_p95_s=_percentile(decode_times, 0.95),
        edit_vs_decode=edit_p50 / decode_p50, codes_vs_decode=codes_p50 / decode_p50,
        goal_tiny_cpu_p50_s=0.3,
    )


def test_server_throughput(benchmark, pick_size, bench_device):
    import httpx

    from specinpaint.app.server import BackgroundServer, ServerSettings, create_app

    editor = Editor(_pipeline("tiny", bench_device))
    codes = editor.generate(60, "brass", sampling={"seed": 0}, decode=False).codes
    region = _region(editor)
    clients, per_client = pick_size(tiny=2, small=4, full=8), pick_size(tiny=1, small=4, full=8)
    body = {"codes": {k: v[0].tolist() for k, v in codes.items()}, "pitch": 62, "family": "organ",
            "region": {"time_s": list(region.time_s), "freq_hz": list(region.freq_hz)}}
    errors: list[str] = []

    def direct() -> float:
        start = time.perf_counter()
        for i in range(clients * per_client):
            editor.inpaint(codes, region, pitch=62, family="organ", seed=i, decode=False)
        return time.perf_counter() - start

    def over_http(url: str) -> float:
        def work(client: int) -> None:
            with httpx.Client(base_url=url, timeout=300) as http:
                for i in range(per_client):
                    res = http.post("/api/inpaint", json={**body, "seed": client * 1000 + i})
                    if res.status_code != 200:
                        errors.append(f"{res.status_code}: {res.text[:200]}")

        threads = [threading.Thread(target=work, args=(c,)) for c in range(clients)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - start

    app = create_app(editor, ServerSettings(rate_limit_per_minute=0))
    with BackgroundServer(app) as url:
        http_s = benchmark.pedantic(over_http, args=(url,), rounds=1, iterations=1)
    direct_s = direct()
    assert errors == []
    requests = clients * per_client
    benchmark.extra_info.update(
        clients=clients, requests=requests, http_requests_per_s=requests / http_s,
        direct_edits_per_s=requests / direct_s, http_overhead_ratio=http_s / direct_s,
    )
