"""Training throughput of the VQ-VAE-2 (notes/s), with baselines measured in the same run.

* ``test_quantizer_step_throughput``: one AdamW step (forward, backward, clipping, update) of the
  paper model on [B, 2, 1024, 128] normalised spectrograms. Baseline: the same step of the small
  model the CI uses ([2, 64, 32] input), so ``paper_vs_tiny_cost`` = how many tiny notes one paper
  note costs. On CUDA the bf16-autocast step is also timed (``bf16_speedup`` against fp32).
  With ``SPECINPAINT_BENCH_FULL=1`` a ``torch.compile`` step is timed too (``compiled_speedup``).
* ``test_engine_overhead``: the full engine (`specinpaint.training.train`: data order, logging,
  periodic evaluation and checkpoints) against a bare hand-written loop over the same batches; the
  ratio ``engine_speedup`` should stay close to 1 (the engine adds little per step).
"""

from __future__ import annotations

import statistics
import time

import torch

from fakes.training import TINY_VQVAE
from specinpaint.core.registry import registry


def _step_fn(model, spec, autocast_dtype=None, compiled=False):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    forward = torch.compile(model) if compiled else model

    def step():
        if autocast_dtype is not None:
            with torch.autocast(device_type=spec.device.type, dtype=autocast_dtype):
                loss = forward(spec).loss
        else:
            loss = forward(spec).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    return step


def _model(params, device):
    torch.manual_seed(0)
    return registry("quantizers").build("vqvae2", params).to(device).train()


def test_quantizer_step_throughput(benchmark, bench_device, pick_size, bench_full, timer, record_ratio):
    batch = pick_size(tiny=1, small=4, full=64 if bench_device.type == "cuda" else 16)
    repeats = pick_size(tiny=1, small=3, full=10)
    warmup = pick_size(tiny=0, small=1)
    spec = torch.randn(batch, 2, 1024, 128, device=bench_device)
    paper = _model({}, bench_device)
    step = _step_fn(paper, spec)
    tiny_spec = torch.randn(batch, 2, 64, 32, device=bench_device)
    tiny_step = _step_fn(_model(TINY_VQVAE, bench_device), tiny_spec)
    tiny_step()  # k-means init
    tiny_s = timer(tiny_step, repeats)
    times: list[float] = []

    def timed_step():
        start = time.perf_counter()
        step()
        if bench_device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)

    benchmark.pedantic(timed_step, rounds=repeats, iterations=1, warmup_rounds=warmup)
    paper_s = statistics.median(times[warmup:] or times)
    info = benchmark.extra_info
    info["batch"] = batch
    info["paper_notes_per_s"] = batch / paper_s
    info["tiny_notes_per_s"] = batch / tiny_s
    info["paper_vs_tiny_cost"] = paper_s / tiny_s
    info["paper_parameters"] = paper.parameter_count()
    if bench_device.type == "cuda":
        bf16_step = _step_fn(paper, spec, torch.bfloat16)
        bf16_step()
        record_ratio("bf16", timer(bf16_step, repeats), "fp32", paper_s)
    if bench_full:
        compiled_step = _step_fn(paper, spec, compiled=True)
        compiled_step()  # compilation
        record_ratio("compiled", timer(compiled_step, repeats), "eager", paper_s)
    assert paper_s > 0 and tiny_s > 0


def test_engine_overhead(benchmark, tmp_path, pick_size, record_ratio):
    from fakes.training import synthetic_config, synthetic_plugins
    from specinpaint.core import Pipeline, load_config
    from specinpaint.training import QuantizerTask, train
    from specinpaint.training.batches import train_batches
    from specinpaint.training.data import build_dataset

    steps = pick_size(tiny=6, small=40, full=200)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: one intra-op thread is fastest (and fair to both loops)
    benchmark.extra_info["torch_threads"] = 1
    with synthetic_plugins():
        config = load_config(synthetic_config(count=64))
        training = config.training.quantizer.model_copy(update={
            "steps": steps, "log_every": 10, "eval_every": max(steps // 2, 1),
            "checkpoint_every": max(steps // 2, 1), "device": "cpu"})
        dataset = build_dataset(config, "train")

        def engine_run():
            torch.manual_seed(0)
            pipeline = Pipeline(config)
            task = QuantizerTask(pipeline, dataset, build_dataset(config, "valid"))
            out = tmp_path / f"run{time.perf_counter_ns()}"
            start = time.perf_counter()
            train(task, training, out, progress=False)
            return time.perf_counter() - start

        def bare_run():
            torch.manual_seed(0)
            pipeline = Pipeline(config)
            task = QuantizerTask(pipeline, dataset)
            task.setup(type("Ctx", (), {"device": torch.device("cpu"), "distributed": False, "is_main": True})(),
                       False)
            optimizer = torch.optim.AdamW(pipeline.quantizer.parameters(), lr=training.lr)
            data = train_batches(dataset, task.collate, batch_size=training.batch_size, seed=0, rank=0,
                                 world_size=1, start_step=0)
            start = time.perf_counter()
            for _ in range(steps):
                loss, _ = task.compute_loss(pipeline.quantizer, task.prepare(next(data), torch.device("cpu")))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            return time.perf_counter() - start

        bare_s = bare_run()
        engine_s = benchmark.pedantic(engine_run, rounds=1, iterations=1)
        ratio = record_ratio("engine", engine_s, "bare_loop", bare_s)
        benchmark.extra_info["steps"] = steps
        benchmark.extra_info["engine_steps_per_s"] = steps / engine_s
        assert ratio > 0
    torch.set_num_threads(threads)


def test_spectrogram_cache_speedup(benchmark, pick_size, timer, record_ratio):
    """A quantizer training step of tiny.yaml's pipeline (paper-mel-if at 256 mel bands, hidden 32)
    reading its batch's spectrograms from the cache (``training.quantizer.cache_spectrograms``)
    against the same step computing them from the audio: ``cached_speedup`` = what the cache buys
    per step (the representation's share of a step)."""
    from specinpaint.core.pipeline import build_pipeline
    from specinpaint.training.data import AudioBatch
    from specinpaint.training.distributed import DistContext
    from specinpaint.training.quantizer_task import QuantizerTask

    batch = pick_size(tiny=2, small=8, full=16)
    repeats = pick_size(tiny=1, small=5, full=10)
    cpu = DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    torch.manual_seed(0)
    pipeline = build_pipeline("tiny")
    notes = [{"audio": 0.1 * torch.randn(pipeline.config.num_samples), "pitch": 60, "family": 0} for _ in range(batch)]
    task = QuantizerTask(pipeline, notes)  # a list of items is a dataset
    task.setup(cpu, resumed=False)  # fits the normaliser on these notes
    computed = task.collate(notes)
    with torch.no_grad():
        cached = AudioBatch(computed.audio, computed.pitch, computed.family, None, pipeline.spectrogram(computed.audio))
    optimizer = torch.optim.AdamW(pipeline.quantizer.parameters(), lr=1e-4)

    def step(audio_batch):
        loss, _ = task.compute_loss(pipeline.quantizer, task.prepare(audio_batch, cpu.device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step(computed)  # k-means initialisation of the codebooks
    computed_s = timer(lambda: step(computed), repeats)
    cached_s = timer(lambda: step(cached), repeats)
    benchmark.pedantic(lambda: step(cached), rounds=1, iterations=1)
    speedup = record_ratio("cached", cached_s, "computed", computed_s)
    benchmark.extra_info["batch"] = batch
    assert speedup > 0


def test_quantizer_memory_layout_speedup(benchmark, pick_size, timer, record_ratio):
    """One training step (forward, backward, AdamW) of tiny.yaml's quantizer in its channels-last
    layout against the same weights switched to the default layout, interleaved so both see the same
    machine load: ``channels_last_speedup`` is what the layout buys (about 1.2x at batch 16 on 2 CPU
    cores)."""
    from specinpaint.core.pipeline import build_pipeline

    batch = pick_size(tiny=1, small=8, full=16)
    rounds = pick_size(tiny=1, small=4, full=8)
    spec = torch.randn(batch, 2, 256, 128)
    steps, times = {}, {"channels_last": [], "contiguous": []}
    for layout in times:
        torch.manual_seed(0)
        quantizer = build_pipeline("tiny").quantizer.train()
        if layout == "contiguous":
            quantizer.use_memory_format(torch.contiguous_format)
        steps[layout] = _step_fn(quantizer, spec)
        steps[layout]()  # k-means initialisation of the codebooks
    for _ in range(rounds):
        for layout, step in steps.items():
            times[layout].append(timer(step, 1))
    benchmark.pedantic(steps["channels_last"], rounds=1, iterations=1)
    medians = {layout: statistics.median(t) for layout, t in times.items()}
    speedup = record_ratio("channels_last", medians["channels_last"], "contiguous", medians["contiguous"])
    benchmark.extra_info["batch"] = batch
    assert speedup > 0


def test_fused_optimizer_speedup(benchmark, pick_size, timer, record_ratio):
    """The engine's optimiser step (fused AdamW, also on CPU) against the per-tensor loop that
    ``torch.optim.AdamW`` runs on CPU by default, on tiny.yaml's bottom prior (88 tensors):
    ``fused_speedup``."""
    from specinpaint.core.pipeline import build_pipeline

    repeats = pick_size(tiny=1, small=20, full=50)
    prior = build_pipeline("tiny").priors["bottom"]
    params = list(prior.parameters())
    for p in params:
        p.grad = torch.randn_like(p)
    fused = torch.optim.AdamW(params, lr=1e-4, fused=True)
    looped = torch.optim.AdamW(params, lr=1e-4, foreach=False)
    fused.step(), looped.step()
    looped_s = timer(looped.step, repeats)
    fused_s = timer(fused.step, repeats)
    benchmark.pedantic(fused.step, rounds=1, iterations=1)
    speedup = record_ratio("fused", fused_s, "looped", looped_s)
    benchmark.extra_info["tensors"] = len(params)
    assert speedup > 0
