"""Count the FLOPs of one training step of each paper-size model and turn the paper's budget into
GPU-hours under stated assumptions (an estimate, not a measurement).

    .venv/bin/python scripts/paper_budget.py [CONFIG] [--gpu NAME=TFLOPS ...] [--utilization LO HI]
        [--time-steps K [--time-batch STAGE=N ...]] [--stage STAGE ...]

For the VQ-VAE and each prior of CONFIG (default ``paper``) it runs one forward + backward pass at
batch 2 under ``torch.utils.flop_counter.FlopCounterMode`` (matmuls and convolutions, attention
counted through the ``math`` backend, whose matmuls the counter sees; the Mel-IF transform,
optimiser and codebook updates are not counted, they are small), scales to the configured
batch size and number of steps, and prints FLOPs per step, the budget's total FLOPs and, for each
GPU, GPU-hours = total / (peak × utilization) for the utilization range given (the range is the
assumption: small convolutions and short sequences keep a GPU far below its peak).
``--time-steps K`` also runs K AdamW training steps of each model at the configured batch on this
machine (random normalised spectrograms or random codes: the same arithmetic as real data; the Mel-IF
transform and data loading are not included) and reports the median wall seconds and process CPU
seconds (all threads) per step, and the FLOP rate they imply. CPU seconds barely depend on what else
runs on a shared machine; wall seconds do. ``--time-batch STAGE=N`` times that stage at N notes
instead and scales the seconds linearly to the configured batch (marked ``*`` in the table), for a
model whose configured batch does not fit in this machine's memory. ``--stage`` keeps only the named
stages (``vqvae``, ``prior-top``, ``prior-bottom``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from specinpaint.core import Codemaps, Conditioning, Pipeline, load_config
from specinpaint.priors.attention import ENV_VAR as ATTENTION_ENV
from specinpaint.training.stages import stage_level

COUNT_BATCH = 2


def _flops(step) -> int:
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def _inputs(pipeline: Pipeline, batch: int) -> tuple[torch.Tensor, Codemaps, Conditioning]:
    shapes, num_codes = pipeline.codemap_shapes, pipeline.quantizer.num_codes
    spec = torch.randn(batch, *pipeline.spectrogram_shape).clamp(-1, 1)
    codes = Codemaps({level: torch.randint(0, num_codes[level], (batch, *shape)) for level, shape in shapes.items()})
    return spec, codes, Conditioning(torch.full((batch,), 60), torch.zeros(batch, dtype=torch.long))


def _losses(pipeline: Pipeline, batch: int) -> dict[str, Callable[[], torch.Tensor]]:
    """A loss closure per stage (``vqvae``, ``prior-<level>``) on random inputs of ``batch`` notes."""
    spec, codes, conditioning = _inputs(pipeline, batch)
    quantizer = pipeline.quantizer.eval()  # eval: no k-means init or EMA update, the same arithmetic
    out: dict[str, Callable[[], torch.Tensor]] = {"vqvae": lambda: quantizer(spec).loss}
    for level, prior in pipeline.priors.items():
        prior.train()
        out[f"prior-{level}"] = lambda p=prior: p.loss(codes, conditioning).loss
    return out


def step_flops(pipeline: Pipeline) -> dict[str, int]:
    """FLOPs of one forward + backward pass per note, for ``vqvae`` and ``prior-<level>``."""
    torch.manual_seed(0)
    previous = os.environ.get(ATTENTION_ENV)
    os.environ[ATTENTION_ENV] = "math"  # fused SDPA kernels are invisible to the FLOP counter
    try:
        return {stage: _flops(lambda f=loss: f().backward()) // COUNT_BATCH
                for stage, loss in _losses(pipeline, COUNT_BATCH).items()}
    finally:
        if previous is None:
            os.environ.pop(ATTENTION_ENV)
        else:
            os.environ[ATTENTION_ENV] = previous


def time_steps(pipeline: Pipeline, stage: str, batch: int, steps: int) -> tuple[float, float]:
    """Median (wall seconds, process CPU seconds) of ``steps`` AdamW steps of one stage."""
    torch.manual_seed(0)
    loss_fn = _losses(pipeline, batch)[stage]
    module = pipeline.quantizer if stage == "vqvae" else pipeline.priors[stage.split("-", 1)[1]]
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-4)
    walls, cpus = [], []
    for _ in range(steps):
        wall, cpu = time.perf_counter(), time.process_time()
        loss = loss_fn()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
        optimizer.step()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", nargs="?", default="paper")
    parser.add_argument("--gpu", action="append", metavar="NAME=TFLOPS",
                        help="GPU and its dense bf16 peak (default A100=312 and H100=989)")
    parser.add_argument("--utilization", type=float, nargs=2, default=(0.1, 0.3), metavar=("LO", "HI"),
                        help="assumed fraction of the peak reached (default 0.1 0.3)")
    parser.add_argument("--time-steps", type=int, default=0, metavar="K",
                        help="also time K training steps of each model at the configured batch here")
    parser.add_argument("--stage", action="append", help="only this stage (repeatable; default all)")
    parser.add_argument("--time-batch", action="append", default=[], metavar="STAGE=N",
                        help="time STAGE at N notes per step and scale linearly (e.g. prior-bottom=8)")
    args = parser.parse_args()
    config = load_config(args.config)
    pipeline = Pipeline(config)
    gpus = {k: float(v) * 1e12 for k, v in (item.split("=", 1) for item in args.gpu or ["A100=312", "H100=989"])}
    low, high = sorted(args.utilization)
    print(f"config {config.name}; assumption: each GPU reaches {low:g}-{high:g} of its dense bf16 peak")
    names = list(gpus)
    time_batch = {k: int(v) for k, v in (item.split("=", 1) for item in args.time_batch)}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| stage | batch | steps | GFLOP/step | total PFLOP | wall s/step | CPU s/step | GFLOP/wall s | "
          + " | ".join(f"est. {name} GPU-hours" for name in names) + " |")
    print("|---" * (8 + len(names)) + "|")
    totals = dict.fromkeys(names, (0.0, 0.0))
    for stage, per_note in step_flops(pipeline).items():
        if args.stage and stage not in args.stage:
            continue
        level = stage_level(stage)
        training = config.training.quantizer if level is None else config.training.prior(level)
        per_step = per_note * training.batch_size
        total = per_step * training.steps
        measured = "- | - | -"
        if args.time_steps:
            batch = time_batch.get(stage, training.batch_size)
            wall, cpu = time_steps(pipeline, stage, batch, args.time_steps)
            scale, mark = training.batch_size / batch, "*" if batch != training.batch_size else ""
            wall, cpu = wall * scale, cpu * scale
            measured = f"{wall:.1f}{mark} | {cpu:.1f}{mark} | {per_step / wall / 1e9:.1f}"
        hours = {name: (total / (peak * high) / 3600, total / (peak * low) / 3600) for name, peak in gpus.items()}
        totals = {name: (totals[name][0] + hours[name][0], totals[name][1] + hours[name][1]) for name in names}
        print(f"| {stage} | {training.batch_size} | {training.steps} | {per_step / 1e9:.0f} | {total / 1e15:.0f} | "
              f"{measured} | " + " | ".join(f"{hours[n][0]:.0f}-{hours[n][1]:.0f}" for n in names) + " |")
    if time_batch:
        print("* timed at " + ", ".join(f"{k}: {v} notes" for k, v in time_batch.items()) + ", scaled linearly")
    print("total (estimate): " + ", ".join(f"{n} {totals[n][0]:.0f}-{totals[n][1]:.0f} GPU-hours" for n in names))


if __name__ == "__main__":
    main()
