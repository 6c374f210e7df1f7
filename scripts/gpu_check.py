"""The GPU check (issue 14): what to run, in one go, when a GPU machine is lent (≤ 8 minutes on one
GPU), written as one JSON report. Called by ``scripts/gpu-check.sh``; not part of the wheel.

GPU parts (``skipped`` with a reason where CUDA or xformers is missing):

* ``cuda_tests``: ``pytest tests -m cuda``;
* ``xformers_parity``: xformers against sdpa, forward and backward, on the priors' attention shapes
  (causal self-attention, cross-attention to the top memory, one query and a chunk of queries
  against a KV cache), fp16 and bf16;
* ``amp_training_steps``: bf16-autocast training steps at the paper's sizes of the VQ-VAE-2 and
  both priors, for paper.yaml and specinpaint.yaml (finite losses, peak memory, notes/s);
* ``paper_edit_latency``: one region edit (top and bottom priors, decode) at the paper's sizes;
* ``cuda_benchmarks``: the speed suites that use the GPU, as a pytest-benchmark record.

CPU parts (always run, short; they check the machinery the GPU parts share): ``environment``,
``sdpa_parity`` (sdpa against math, fp32), ``training_steps_smoke`` (tiny.yaml, fp32) and
``tiny_edit_latency``.

Report (``format`` 1)::

    {"format": 1, "started": ISO time, "seconds": float, "status": "pass" | "fail",
     "device": {"cuda": bool, "gpu": str | null, "torch": str, "cuda_version": str | null},
     "parts": {NAME: {"gpu": bool, "status": "pass" | "fail" | "skipped",
                      "reason": str | null, "seconds": float, "results": {...}}}}

``status`` is ``fail`` when any part failed (skips do not fail); the exit code is 1 then. The
report is rewritten after every part, so a run cut short keeps what it finished.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

FORMAT = 1
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REPORT = ROOT / "outputs" / "gpu-check.json"
BUDGET_S = 450.0  # the whole check, under the 8-minute limit with room for start-up
GPU_BENCHMARKS = (
    "bench_priors_attention.py", "bench_priors_kv_cache.py", "bench_priors_parallel.py",
    "bench_quantizer_latency.py", "bench_training_throughput.py", "bench_app_edit.py",
)
PAPER_SIZES = {"quantizer_batch": 64, "prior_batch": 32}  # the original's batch sizes


class Skip(Exception):
    """A part that cannot run here; the message is the reason."""


@dataclass
class Context:
    """What every part may use: the device, the deadline and where the report lives."""

    device: torch.device
    deadline: float
    report_path: Path

    @property
    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def need_cuda(self) -> None:
        if self.device.type != "cuda":
            raise Skip("no CUDA device (torch.cuda.is_available() is False)")


@dataclass
class Part:
    name: str
    gpu: bool
    run: Callable[[Context], tuple[bool, dict[str, Any]]]
    limit_s: float  # expected upper bound: skipped when less time is left
    results: dict[str, Any] = field(default_factory=dict)


# -- shared harnesses ---------------------------------------------------------------------------
ATTENTION_CASES = {  # name: (queries, keys, causal), at the priors' sizes (16 heads of 32 dims)
    "causal": (512, 512, True),  # bottom decoder self-attention
    "cross": (512, 128, False),  # bottom decoder slots against the top memory
    "cached_step": (1, 300, True),  # one new query against a KV cache
    "cached_chunk": (4, 300, True),  # a chunk of new queries against a KV cache
}
TOLERANCES = {  # (forward, backward), relative to the largest reference value
    torch.float32: (1e-4, 1e-4), torch.float16: (1e-2, 2e-2), torch.bfloat16: (4e-2, 8e-2),
}


def _attention(backend: str) -> Callable[..., torch.Tensor]:
    from specinpaint.priors import attention

    if backend == "xformers":  # called directly: a silent fallback to sdpa would fake the parity
        return lambda q, k, v, mask: attention._xformers(q, k, v, mask, 0.0, None)
    return lambda q, k, v, mask: attention.attend(q, k, v, mask, backend=backend)


def _relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max() / b.float().abs().max().clamp_min(1e-6))


def attention_parity(device: torch.device, dtypes: list[torch.dtype], backend: str, reference: str,
                     batch: int = 2, heads: int = 16, head_dim: int = 32) -> tuple[bool, dict[str, Any]]:
    """``backend`` against ``reference``: outputs and the gradients of q, k, v, every case and dtype."""
    from specinpaint.priors.attention import AttnMask

    run, ref = _attention(backend), _attention(reference)
    results: dict[str, Any] = {}
    ok = True
    for dtype in dtypes:
        fwd_tol, bwd_tol = TOLERANCES[dtype]
        for case, (lq, lk, causal) in ATTENTION_CASES.items():
            g = torch.Generator().manual_seed(0)
            shapes = [(batch, heads, n, head_dim) for n in (lq, lk, lk)]
            inputs = [torch.randn(s, generator=g).to(device, dtype) for s in shapes]
            upstream = torch.randn(batch, heads, lq, head_dim, generator=g).to(device, dtype)
            mask = AttnMask(causal=causal)
            outs, grads = [], []
            for fn in (run, ref):
                q, k, v = (t.clone().requires_grad_() for t in inputs)
                out = fn(q, k, v, mask)
                outs.append(out.detach())
                grads.append(torch.autograd.grad((out * upstream).sum(), (q, k, v)))
            fwd = _relative_error(outs[0], outs[1])
            bwd = max(_relative_error(a, b) for a, b in zip(grads[0], grads[1], strict=True))
            good = fwd <= fwd_tol and bwd <= bwd_tol and math.isfinite(fwd) and math.isfinite(bwd)
            ok &= good
            results[f"{case}/{str(dtype).replace('torch.', '')}"] = {
                "queries": lq, "keys": lk, "causal": causal, "forward_error": fwd, "backward_error": bwd,
                "tolerance": [fwd_tol, bwd_tol], "pass": good,
            }
    return ok, {"backend": backend, "reference": reference, "cases": results}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _pipeline(config: str, overrides: list[str], device: torch.device):
    from specinpaint.core import Pipeline, load_config

    torch.manual_seed(0)
    pipe = Pipeline(load_config(config, overrides)).to(device)
    if pipe.normalizer.needs_fit:  # paper.yaml fits it on data; any statistics do for speed and memory
        pipe.fit_normalizer([0.1 * torch.randn(2, pipe.config.num_samples)])
    return pipe


def _timed_steps(loss_fn: Callable[[], torch.Tensor], params: list[torch.nn.Parameter], device: torch.device,
                 amp: bool, clip: float | None, steps: int, items: int) -> dict[str, Any]:
    """One untimed warm-up step, then ``steps`` timed AdamW steps (autocast bf16 when ``amp``).
    Memory (CUDA): the peak while this model trains, and that peak above what was allocated before
    (its gradients, optimiser state and activations)."""
    cuda = device.type == "cuda"
    if cuda:
        _sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    losses: list[float] = []

    def step() -> torch.Tensor:
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
            loss = loss_fn()
        optimizer.zero_grad(set_to_none=True)
        loss.float().backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(params, clip)
        optimizer.step()
        return loss.detach().float()

    losses.append(float(step()))
    _sync(device)
    start = time.perf_counter()
    timed = [step() for _ in range(steps)]
    _sync(device)
    seconds = time.perf_counter() - start
    losses += [float(t) for t in timed]
    out = {"losses": losses, "finite": all(math.isfinite(x) for x in losses), "steps": steps, "batch": items,
           "seconds": seconds, "notes_per_s": items * steps / seconds}
    if cuda:
        peak = torch.cuda.max_memory_allocated(device)
        out.update(peak_memory_mib=peak / 2**20, training_memory_mib=(peak - before) / 2**20)
    for param in params:  # the next model's memory figures should not carry these
        param.grad = None
    return out


def training_steps(config: str, overrides: list[str], device: torch.device, amp: bool, steps: int,
                   quantizer_batch: int, prior_batch: int) -> tuple[bool, dict[str, Any]]:
    """Training steps of the config's quantizer (through the quantizer task, so trainer-side loss
    options apply) and of each prior, on random inputs of the config's shapes."""
    from specinpaint.core import Codemaps, Conditioning
    from specinpaint.training.quantizer_task import QuantizerTask, SpecBatch

    pipe = _pipeline(config, overrides, device)
    training = pipe.config.training
    results: dict[str, Any] = {}
    g = torch.Generator().manual_seed(0)
    task = QuantizerTask(pipe, [])
    task.to(device)  # the trainer-side aids (timbre critic, discriminator) too
    spec = (0.5 * torch.randn(quantizer_batch, *pipe.spectrogram_shape, generator=g)).to(device)
    batch = SpecBatch(torch.zeros(quantizer_batch, pipe.config.num_samples, device=device), spec)
    quantizer = pipe.quantizer.train()
    results["quantizer"] = _timed_steps(lambda: task.compute_loss(quantizer, batch)[0], list(quantizer.parameters()),
                                        device, amp, training.quantizer.grad_clip, steps, quantizer_batch)
    shapes, num_codes = pipe.codemap_shapes, pipe.quantizer.num_codes
    codes = Codemaps({level: torch.randint(0, num_codes[level], (prior_batch, *shape), generator=g)
                      for level, shape in shapes.items()}).to(device)
    cond = Conditioning.make(torch.randint(24, 85, (prior_batch,), generator=g).tolist(),
                             torch.randint(0, 11, (prior_batch,), generator=g).tolist(), prior_batch).to(device)
    for level, prior in pipe.priors.items():
        prior.train()
        clip = training.prior(level).grad_clip
        results[f"prior_{level}"] = _timed_steps(lambda p=prior: p.loss(codes, cond).loss, list(prior.parameters()),
                                                 device, amp, clip, steps, prior_batch)
    return all(r["finite"] for r in results.values()), {"config": config, "amp_bf16": amp, **results}


def edit_latency(config: str, overrides: list[str], device: torch.device, rounds: int) -> tuple[bool, dict[str, Any]]:
    """Region edits (top prior on the box, bottom prior under it, decode to audio): p50/p95 seconds."""
    from specinpaint.core.region import Region
    from specinpaint.editing import Editor

    editor = Editor(_pipeline(config, overrides, device).eval())
    pipe = editor.pipeline
    codes = editor.generate(60, "brass", sampling={"seed": 0}, decode=False).codes
    seconds, top_hz = editor.geometry.window_seconds, float(editor.geometry.bin_frequencies()[-1])
    region = Region(time_s=(0.25 * seconds, 0.5 * seconds), freq_hz=(0.0, 0.12 * top_hz))
    editor.inpaint(codes, region, pitch=62, family="organ", seed=0)  # warm-up
    edits, decodes = [], []
    for i in range(rounds):
        _sync(device)
        start = time.perf_counter()
        out = editor.inpaint(codes, region, pitch=62, family="organ", seed=i + 1)
        _sync(device)
        edits.append(time.perf_counter() - start)
        start = time.perf_counter()
        pipe.decode(codes)
        _sync(device)
        decodes.append(time.perf_counter() - start)
    new, mask, old = out.codes["top"].cpu(), out.masks["top"].cpu(), codes["top"].cpu()
    kept = bool(torch.equal(new[~mask], old[~mask]))
    ordered = sorted(edits)
    ok = kept and out.audio.shape[-1] == pipe.config.num_samples and bool(torch.isfinite(out.audio).all())
    return ok, {"config": config, "rounds": rounds, "edit_p50_s": statistics.median(edits),
                "edit_p95_s": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
                "decode_p50_s": statistics.median(decodes), "unmasked_codes_kept": kept}


def _pytest(args: list[str], timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider"], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# -- the parts ----------------------------------------------------------------------------------
def environment(ctx: Context) -> tuple[bool, dict[str, Any]]:
    from specinpaint.priors.attention import backend_report

    return True, {"python": platform.python_version(), "torch": torch.__version__, "cpu_count": os.cpu_count(),
                  "device": str(ctx.device), "attention_backends": backend_report()}


def sdpa_parity(ctx: Context) -> tuple[bool, dict[str, Any]]:
    return attention_parity(torch.device("cpu"), [torch.float32], "sdpa", "math", batch=1)


def training_steps_smoke(ctx: Context) -> tuple[bool, dict[str, Any]]:
    return training_steps("tiny", [], torch.device("cpu"), amp=False, steps=1, quantizer_batch=2, prior_batch=2)


def tiny_edit_latency(ctx: Context) -> tuple[bool, dict[str, Any]]:
    return edit_latency("tiny", [], torch.device("cpu"), rounds=2)


def cuda_tests(ctx: Context) -> tuple[bool, dict[str, Any]]:
    ctx.need_cuda()
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        proc = _pytest(["tests", "-m", "cuda", "-q", f"--junitxml={junit}"], timeout=min(150.0, ctx.remaining))
        counts: dict[str, int] = {}
        if junit.is_file():
            suite = ET.parse(junit).getroot().iter("testsuite")
            for s in suite:
                for key in ("tests", "failures", "errors", "skipped"):
                    counts[key] = counts.get(key, 0) + int(s.get(key, 0))
    ok = proc.returncode == 0 and counts.get("tests", 0) > 0
    return ok, {"returncode": proc.returncode, **counts, "output_tail": _tail(proc.stdout + proc.stderr)}


def xformers_parity(ctx: Context) -> tuple[bool, dict[str, Any]]:
    ctx.need_cuda()
    from specinpaint.priors.attention import xformers_usable

    for dtype in (torch.float16, torch.bfloat16):
        usable, detail = xformers_usable(ctx.device, dtype)
        if not usable:
            raise Skip(f"xformers cannot run {dtype} here: {detail}")
    return attention_parity(ctx.device, [torch.float16, torch.bfloat16], "xformers", "sdpa")


def amp_training_steps(ctx: Context) -> tuple[bool, dict[str, Any]]:
    ctx.need_cuda()
    results, ok = {}, True
    for config in ("paper", "specinpaint"):
        good, results[config] = training_steps(config, [], ctx.device, amp=True, steps=5,
                                               quantizer_batch=PAPER_SIZES["quantizer_batch"],
                                               prior_batch=PAPER_SIZES["prior_batch"])
        ok &= good
        torch.cuda.empty_cache()  # the next config's memory figures start from its own models
    return ok, results


def paper_edit_latency(ctx: Context) -> tuple[bool, dict[str, Any]]:
    ctx.need_cuda()
    results, ok = {}, True
    for config in ("paper", "specinpaint"):
        good, results[config] = edit_latency(config, [], ctx.device, rounds=10)
        ok &= good
    return ok, results


def cuda_benchmarks(ctx: Context) -> tuple[bool, dict[str, Any]]:
    ctx.need_cuda()
    timeout = min(240.0, ctx.remaining - 15.0)
    if timeout < 60:
        raise Skip(f"only {ctx.remaining:.0f} s of the check's budget left")
    record = ctx.report_path.with_name(ctx.report_path.stem + "-benchmarks.json")
    files = [f"benchmarks/{name}" for name in GPU_BENCHMARKS]
    proc = _pytest([*files, "-q", f"--benchmark-json={record}"], timeout=timeout,
                   env={"SPECINPAINT_BENCH_DEVICE": "cuda"})
    medians: dict[str, Any] = {}
    if record.is_file():
        for bench in json.loads(record.read_text()).get("benchmarks", []):
            ratios = {k: v for k, v in bench.get("extra_info", {}).items()
                      if isinstance(v, (int, float)) and (k.endswith("_speedup") or k.endswith("_p50_s"))}
            medians[bench["fullname"]] = {"median_s": bench["stats"]["median"], **ratios}
    ok = proc.returncode == 0 and bool(medians)
    return ok, {"returncode": proc.returncode, "record": str(record), "benchmarks": medians,
                "output_tail": _tail(proc.stdout + proc.stderr)}


PARTS = [
    Part("environment", False, environment, 10),
    Part("sdpa_parity", False, sdpa_parity, 20),
    Part("training_steps_smoke", False, training_steps_smoke, 30),
    Part("tiny_edit_latency", False, tiny_edit_latency, 30),
    Part("cuda_tests", True, cuda_tests, 150),
    Part("xformers_parity", True, xformers_parity, 30),
    Part("amp_training_steps", True, amp_training_steps, 90),
    Part("paper_edit_latency", True, paper_edit_latency, 90),
    Part("cuda_benchmarks", True, cuda_benchmarks, 60),
]


# -- running ----------------------------------------------------------------------------------
def _device_info(device: torch.device) -> dict[str, Any]:
    cuda = device.type == "cuda"
    return {"cuda": cuda, "gpu": torch.cuda.get_device_name(device) if cuda else None,
            "torch": torch.__version__, "cuda_version": torch.version.cuda if cuda else None}


def _write(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=1, sort_keys=False, default=str))
    tmp.replace(path)


def run_check(report_path: Path, budget_s: float = BUDGET_S, parts: list[Part] | None = None) -> dict[str, Any]:
    """Every part in order, the report rewritten after each; returns the report."""
    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    start = time.monotonic()
    ctx = Context(device, start + budget_s, report_path)
    report: dict[str, Any] = {"format": FORMAT, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seconds": 0.0,
                              "status": "pass", "device": _device_info(device), "parts": {}}
    for part in parts or PARTS:
        entry: dict[str, Any] = {"gpu": part.gpu, "status": "skipped", "reason": None, "seconds": 0.0, "results": {}}
        t0 = time.monotonic()
        threads = torch.get_num_threads()
        try:
            if ctx.remaining < part.limit_s:
                raise Skip(f"only {max(ctx.remaining, 0):.0f} s of the check's {budget_s:.0f} s budget left")
            if not part.gpu:  # tiny CPU models: one intra-op thread is faster than contending ones
                torch.set_num_threads(1)
            ok, entry["results"] = part.run(ctx)
            entry["status"] = "pass" if ok else "fail"
        except Skip as skip:
            entry["reason"] = str(skip)
        except Exception as exc:  # a broken part is reported, and the others still run
            entry["status"], entry["reason"] = "fail", f"{type(exc).__name__}: {exc}"
            entry["results"] = {"traceback": _tail(traceback.format_exc(), 12)}
        finally:
            torch.set_num_threads(threads)
        entry["seconds"] = round(time.monotonic() - t0, 3)
        report["parts"][part.name] = entry
        if entry["status"] == "fail":
            report["status"] = "fail"
        report["seconds"] = round(time.monotonic() - start, 3)
        _write(report_path, report)
        print(f"gpu-check: {part.name}: {entry['status']}" + (f" ({entry['reason']})" if entry["reason"] else ""),
              file=sys.stderr, flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", nargs="?", type=Path, default=DEFAULT_REPORT,
                        help=f"JSON report path (default {DEFAULT_REPORT.relative_to(ROOT)})")
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds for the whole check (default %(default)s)")
    args = parser.parse_args(argv)
    report = run_check(args.report, args.budget)
    print(f"gpu-check: {report['status']} in {report['seconds']:.0f} s -> {args.report}", file=sys.stderr)
    return 0 if report["status"] == "pass" else 1


if __name__ == "__main__":
    sys.exit(main())
