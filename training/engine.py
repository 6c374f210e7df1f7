"""The generic training loop shared by the VQ-VAE and the priors.

`train(task, config, out_dir)` runs AdamW with the configured LR schedule, gradient clipping, mixed
precision on CUDA (bf16, or fp16 with a gradient scaler), optional ``torch.compile``, DDP when
launched by torchrun, tqdm progress, a JSONL metrics log (plus TensorBoard when installed), periodic
evaluation, samples, and atomic checkpoints (``checkpoints/last.pt`` and ``best.pt``). With
``resume=True`` it continues from ``last.pt``: weights, EMA buffers, optimiser, scheduler, gradient
scaler, every rank's RNG states, the data position (= the step) and the partial sums of the current
logging window are restored, so the resumed run reproduces the loss curve of an uninterrupted one.
A learning rate changed on resume (``--resume training.quantizer.lr=1e-4``) applies from the first
resumed step. Temporary files that a kill during a checkpoint write left behind are removed when a
run starts or resumes.

Non-finite numbers never reach a checkpoint: every step's train loss is summed into the logging
window, whose sum is checked at each log and before every save; the weights are checked before
every save and the validation loss after every evaluation. On NaN/inf the run stops with a
one-line error naming the last good checkpoint and the resume command with a lower learning rate.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from specinpaint.core.atomic import remove_stale_temporaries
from specinpaint.core.config import TrainingConfig
from specinpaint.core.errors import BundleError, SpecinpaintError
from specinpaint.core.finite import all_finite, nonfinite_tensors

from .batches import eval_batches, train_batches
from .checkpoint import BEST, LAST, load_checkpoint, save_checkpoint
from .distributed import DistContext, setup_distributed
from .logger import MetricsLogger
from .rng import capture_rng, restore_rng, seed_everything
from .schedule import build_scheduler
from .task import LossModule, TrainingTask

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
CHECKPOINT_DIR = "checkpoints"
SAMPLES_DIR = "samples"


@dataclass
class TrainOutcome:
    """What a call to `train` did. ``steps`` is the global step reached; ``finished`` is False when
    ``stop_after`` ended the call early (resume to continue)."""

    task: str
    steps: int
    finished: bool
    resumed_from: int | None = None
    train_metrics: dict[str, float] = field(default_factory=dict)
    valid_metrics: dict[str, float] = field(default_factory=dict)
    best_valid_loss: float | None = None
    best_step: int | None = None
    last_checkpoint: Path | None = None
    best_checkpoint: Path | None = None
    seconds: float = 0.0
    items_per_second: float = 0.0

    def summary(self) -> dict[str, Any]:
        """JSON-friendly record (stored in the bundle's ``extras['trained']``)."""
        return {
            "steps": self.steps,
            "finished": self.finished,
            "train": self.train_metrics,
            "valid": self.valid_metrics,
            "best_valid_loss": self.best_valid_loss,
            "best_step": self.best_step,
            "seconds": round(self.seconds, 3),
            "items_per_second": round(self.items_per_second, 3),
        }


class _Averager:
    """Sums named values (tensors stay on the device until read, to avoid a sync per step)."""

    def __init__(self) -> None:
        self.sums: dict[str, Any] = {}
        self.count = 0

    def add(self, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            value = value.detach().float() if isinstance(value, torch.Tensor) else float(value)
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.count += 1

    def means(self, ctx: DistContext) -> dict[str, float]:
        local = {k: float(v) / max(self.count, 1) for k, v in self.sums.items()}
        if not ctx.distributed:
            return local
        summed = ctx.sum_floats(local)
        return {k: v / ctx.world_size for k, v in summed.items()}

    def reset(self) -> None:
        self.sums, self.count = {}, 0

    def loss_is_finite(self) -> bool:
        """Whether every train loss added since the last reset was finite (NaN/inf propagate
        into the sum); one device sync."""
        total = self.sums.get("loss")
        return total is None or math.isfinite(float(total))

    def state(self) -> dict[str, Any]:
        """The partial window for a checkpoint (CPU tensors and floats)."""
        sums = {k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in self.sums.items()}
        return {"sums": sums, "count": self.count}

    def load_state(self, state: Mapping[str, Any], device: torch.device) -> None:
        self.sums = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in state["sums"].items()}
        self.count = int(state["count"])


def _precision(config: TrainingConfig, device: torch.device) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, use a GradScaler). Mixed precision is CUDA-only."""
    if config.precision == "fp32":
        return None, False
    if device.type != "cuda":
        log.warning("training.precision=%s applies on CUDA only; training in fp32 on %s", config.precision, device)
        return None, False
    return (torch.bfloat16, False) if config.precision == "bf16" else (torch.float16, True)


class NonFiniteError(SpecinpaintError):
    """Training produced NaN/inf; nothing non-finite was saved."""


def _match_parameter_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give each restored moment its parameter's memory layout. The fused kernel walks a parameter,
    its gradient and its moments as flat arrays, so moments saved in another layout (a checkpoint
    from before the quantizer's weights became channels-last) would be silently misread."""
    for group in optimizer.param_groups:
        for param in group["params"]:
            for key, value in optimizer.state.get(param, {}).items():
                if torch.is_tensor(value) and value.shape == param.shape and value.stride() != param.stride():
                    optimizer.state[param][key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def _nonfinite_error(task_name: str, what: str, step: int, lr: float, saved_step: int | None) -> NonFiniteError:
    key = f"training.{task_name}.lr"
    where = (f"the last checkpoint (step {saved_step}) is intact; resume from it" if saved_step is not None
             else "no checkpoint was written; start again")
    return NonFiniteError(
        f"{task_name}: {what} by step {step}, so nothing was saved after step {saved_step or 0}; {where} with a lower "
        f"learning rate, e.g. --resume {key}={lr / 10:g} (or keep training.{task_name}.grad_clip, or use fp32)"
    )


def _evaluate(task: TrainingTask, config: TrainingConfig, ctx: DistContext, autocast) -> dict[str, float]:
    """Mean loss and metrics over the first ``eval_batches`` validation batches, with a fixed seed
    (the global RNG streams are left untouched, so evaluating never changes training)."""
    assert task.valid_set is not None
    module = task.module
    was_training = module.training
    module.eval()
    sums: dict[str, float] = {}
    count = 0.0
    devices = [ctx.device] if ctx.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(config.seed + 104729 + ctx.rank)
        for raw in eval_batches(
            task.valid_set, task.collate, batch_size=config.batch_size, max_batches=config.eval_batches,
            rank=ctx.rank, world_size=ctx.world_size, num_workers=config.num_workers,
        ):
            batch = task.prepare(raw, ctx.device)
            with autocast():
                loss, metrics = task.compute_loss(module, batch)
            for key, value in {"loss": loss, **metrics}.items():
                sums[key] = sums.get(key, 0.0) + float(value)
            count += 1
    module.train(was_training)
    keys = ctx.broadcast_object(sorted(sums))  # a rank without batches still joins the reduction
    totals = ctx.sum_floats({**{k: sums.get(k, 0.0) for k in keys}, "__count": count})  # type: ignore[union-attr]
    n = totals.pop("__count")
    return {k: v / n for k, v in totals.items()} if n else {}


def train(
    task: TrainingTask,
    config: TrainingConfig,
    out_dir: str | Path,
    *,
    resume: bool = True,
    progress: bool = True,
    stop_after: int | None = None,
    callback: Callable[[int, dict[str, float]], None] | None = None,
    ctx: DistContext | None = None,
) -> TrainOutcome:
    """Train ``task.module`` for ``config.steps`` global steps (see the module docstring).

    ``stop_after``: end this call once that global step is done (time-sliced jobs, tests);
    ``callback(step, train_values)`` runs after every step on every rank.
    """
    out = Path(out_dir)
    own_ctx = ctx is None
    ctx = ctx or setup_distributed(config.device)
    logger = MetricsLogger(out / METRICS_FILE, enabled=ctx.is_main, tensorboard_dir=out / "tensorboard")
    try:
        state = TrainingState(task, config, out, ctx, logger)
        state.resume(resume)
        return state.run(progress=progress, stop_after=stop_after, callback=callback)
    finally:
        logger.close()
        if own_ctx:
            ctx.close()


class TrainingState:
    """One call to `train`: the task on its device, the optimiser, LR schedule and gradient scaler,
    the logging window, the best validation loss and the step reached, with what the loop does to
    them: `resume`, `step`, `log`, `evaluate`, `checkpoint` and `write_samples` (`run` calls them
    in that order every step)."""

    def __init__(self, task: TrainingTask, config: TrainingConfig, out: Path, ctx: DistContext,
                 logger: MetricsLogger) -> None:
        self.task, self.config, self.out, self.ctx, self.logger = task, config, out, ctx, logger
        self.device = ctx.device
        task.to(self.device)
        self.module: nn.Module = task.module
        self.module.train()
        self.params = [p for p in self.module.parameters() if p.requires_grad]
        if not self.params:
            raise SpecinpaintError(f"{task.name}: the module has no trainable parameters")
        # The fused kernel on CPU too: one pass over all parameters instead of a dozen small ops per
        # tensor (the tiny priors' optimiser step takes 2.2 ms instead of 5.4 ms of an 80 ms step)
        self.optimizer = torch.optim.AdamW(
            self.params, lr=config.lr, betas=tuple(config.betas), weight_decay=config.weight_decay,
            fused=self.device.type in ("cuda", "cpu"),
        )
        self.scheduler = build_scheduler(self.optimizer, config)
        self.amp_dtype, use_scaler = _precision(config, self.device)
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None
        ckpt_dir = out / CHECKPOINT_DIR
        self.last_path, self.best_path = ckpt_dir / LAST, ckpt_dir / BEST
        self.window = _Averager()
        self.step_reached = 0
        self.best: float | None = None
        self.best_step: int | None = None
        self.resumed_from: int | None = None
        self.saved_step: int | None = None
        self.items_window = self.items_total = 0
        self.window_start = time.perf_counter()
        self.forward: nn.Module = LossModule(task)
        self.finite_keys: list[str] = []
        if ctx.is_main:
            stale = remove_stale_temporaries(ckpt_dir, (LAST, BEST)) + remove_stale_temporaries(out, (METRICS_FILE,))
            if stale:
                log.info("%s: removed %d temporary file(s) left by an interrupted write (e.g. %s)",
                         task.name, len(stale), stale[0].name)

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)

    # -- resume --------------------------------------------------------------------------------
    def resume(self, resume: bool) -> None:
        """Restore ``last.pt`` when ``resume`` and it exists, else seed a fresh run; then the
        task's setup."""
        config, ctx, task = self.config, self.ctx, self.task
        if resume and self.last_path.exists():
            self._restore()
        else:
            seed_everything(config.seed + 7919 * ctx.rank)
        task.setup(ctx, self.resumed_from is not None)

    def _restore(self) -> None:
        config, ctx, task, module, last_path = self.config, self.ctx, self.task, self.module, self.last_path
        header, state = load_checkpoint(last_path, task=task.name, signature=task.signature(),
                                        defaults=task.signature_defaults())
        damaged = nonfinite_tensors(state["module"], reference=module.state_dict())
        if damaged:
            raise BundleError(f"{last_path}: checkpoint holds NaN/inf (e.g. {damaged[0]}): it was written before "
                              "checkpoints were checked; delete it (and best.pt) to start again")
        before = header.get("training", {})
        changed = [k for k in ("batch_size", "seed", "steps", "lr", "schedule") if before.get(k) != getattr(config, k)]
        if changed and ctx.is_main:
            log.warning("%s: resuming with changed training settings (%s): the loss curve will differ from an "
                        "uninterrupted run", task.name, ", ".join(changed))
        module.load_state_dict(state["module"])
        task.load_extra_state(state["extra"])
        self.optimizer.load_state_dict(state["optimizer"])
        _match_parameter_layouts(self.optimizer)
        self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        start_step, self.best, self.best_step = state["step"], state["best"], state["best_step"]
        self.step_reached = self.resumed_from = self.saved_step = start_step
        if before.get("lr") != config.lr:  # e.g. the advice of a NaN error: --resume training.quantizer.lr=…
            self.scheduler = build_scheduler(self.optimizer, config, start_step)
        if state.get("window") is not None:
            if len(state["window"]) == ctx.world_size:
                self.window.load_state(state["window"][ctx.rank], self.device)
            elif ctx.is_main:
                log.warning("%s: resuming with another process count: the logging window at step %d restarts "
                            "(its average covers only the steps after the resume)", task.name, start_step)
        if state["world_size"] == ctx.world_size:
            restore_rng(state["rng"][ctx.rank])
        else:
            log.warning("resuming with %d processes (checkpoint: %d): RNG streams are re-seeded",
                        ctx.world_size, state["world_size"])
            seed_everything(config.seed + 7919 * ctx.rank + start_step)
        self.logger.truncate_after(start_step)
        if ctx.is_main:
            log.info("%s: resumed from %s at step %d", task.name, last_path, start_step)

    # -- the loop ------------------------------------------------------------------------------
    def run(self, *, progress: bool, stop_after: int | None,
            callback: Callable[[int, dict[str, float]], None] | None) -> TrainOutcome:
        config, ctx = self.config, self.ctx
        start_step = self.step_reached
        outcome = TrainOutcome(self.task.name, start_step, start_step >= config.steps, self.resumed_from,
                               best_valid_loss=self.best, best_step=self.best_step,
                               last_checkpoint=self.last_path if self.last_path.exists() else None,
                               best_checkpoint=self.best_path if self.best_path.exists() else None)
        if start_step >= config.steps:
            return outcome
        self._wrap()
        data: Iterator[Any] = train_batches(
            self.task.train_set, self.task.collate, batch_size=config.batch_size, seed=config.seed, rank=ctx.rank,
            world_size=ctx.world_size, start_step=start_step, num_workers=config.num_workers,
        )
        self.window_start = run_start = time.perf_counter()
        bar = None
        if progress and ctx.is_main:
            from tqdm.auto import tqdm

            bar = tqdm(total=config.steps, initial=start_step, desc=self.task.name, dynamic_ncols=True, leave=False)
        try:
            while self.step_reached < config.steps:
                self.step(next(data))
                step = self.step_reached
                if bar is not None:
                    bar.update(1)
                record: dict[str, float] = {}
                if step % config.log_every == 0 or step == config.steps:
                    record = outcome.train_metrics = self.log()
                    if bar is not None:
                        bar.set_postfix(loss=f"{record['loss']:.4g}")
                if self.task.valid_set is not None and (step % config.eval_every == 0 or step == config.steps):
                    valid, improved = self.evaluate()
                    if valid:
                        outcome.valid_metrics = valid
                    if improved:
                        self.checkpoint(self.best_path)
                        outcome.best_checkpoint = self.best_path
                if step % config.checkpoint_every == 0 or step == config.steps or step == stop_after:
                    self.checkpoint(self.last_path)
                    outcome.last_checkpoint = self.last_path
                if config.sample_every and step % config.sample_every == 0 and ctx.is_main:
                    self.write_samples()
                if callback is not None:
                    callback(step, record)
                if stop_after is not None and step >= stop_after:
                    break
        finally:
            if bar is not None:
                bar.close()
        seconds = time.perf_counter() - run_start
        outcome.steps = self.step_reached
        outcome.finished = self.step_reached >= config.steps
        outcome.best_valid_loss, outcome.best_step = self.best, self.best_step
        outcome.seconds = seconds
        outcome.items_per_second = self.items_total / max(seconds, 1e-9)
        return outcome

    def _wrap(self) -> None:
        """DDP and ``torch.compile`` around the loss module; remember which weights are finite now
        (NaN sentinels stay out of the checks)."""
        if self.ctx.distributed:
            self.forward = nn.parallel.DistributedDataParallel(
                self.forward,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=self.task.find_unused_parameters,
            )
        if self.config.compile:
            self.forward = torch.compile(self.forward)  # type: ignore[assignment]
        self.finite_keys = [k for k, v in self.module.state_dict().items() if all_finite(v)]

    def step(self, raw: Any) -> None:
        """One optimiser step on a raw batch; its values (device tensors, no sync) join the window."""
        config, optimizer, scaler = self.config, self.optimizer, self.scaler
        batch = self.task.prepare(raw, self.device)
        with self.autocast():
            loss, metrics = self.forward(batch)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        values: dict[str, Any] = {"loss": loss.detach(), **metrics}
        if config.grad_clip is not None:
            values["grad_norm"] = torch.nn.utils.clip_grad_norm_(self.params, config.grad_clip, foreach=True)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        values["lr"] = self.scheduler.get_last_lr()[0]
        self.scheduler.step()
        self.step_reached += 1
        self.window.add(values)
        items = self.task.items_in(batch) * self.ctx.world_size
        self.items_window += items
        self.items_total += items

    def log(self) -> dict[str, float]:
        """The window's means (one sync, reduced over the ranks) written to the log; a new window."""
        step = self.step_reached
        record = self.window.means(self.ctx)
        if not math.isfinite(record["loss"]):
            raise _nonfinite_error(self.task.name, f"the train loss became {record['loss']}", step, self.config.lr,
                                   self.saved_step)
        elapsed = time.perf_counter() - self.window_start
        record["items_per_s"] = self.items_window / max(elapsed, 1e-9)
        self.logger.log(step, "train", record)
        self.window.reset()
        self.items_window, self.window_start = 0, time.perf_counter()
        return record

    def evaluate(self) -> tuple[dict[str, float], bool]:
        """Validation metrics (logged) and whether they are the best so far."""
        step = self.step_reached
        valid = _evaluate(self.task, self.config, self.ctx, self.autocast)
        improved = False
        if valid:
            self.logger.log(step, "valid", valid)
            if not math.isfinite(valid["loss"]):
                raise _nonfinite_error(self.task.name, f"the validation loss became {valid['loss']}", step,
                                       self.config.lr, self.saved_step)
            if self.best is None or valid["loss"] < self.best:
                self.best, self.best_step, improved = valid["loss"], step, True
        return valid, improved

    def check_finite(self) -> None:
        """Raise before anything non-finite is saved (the same verdict on every rank)."""
        problem = None
        if not self.window.loss_is_finite():
            problem = "the train loss became NaN/inf"
        else:
            state = self.module.state_dict()
            bad = [k for k in self.finite_keys if not all_finite(state[k])]
            if bad:
                problem = f"the weights became NaN/inf (e.g. {bad[0]})"
        problems = [p for p in self.ctx.all_gather_object(problem) if p]
        if problems:
            raise _nonfinite_error(self.task.name, str(problems[0]), self.step_reached, self.config.lr,
                                   self.saved_step)

    def checkpoint(self, path: Path) -> None:
        """Save the state at the current step to ``path`` (rank 0 writes, atomically), after
        checking that everything is finite."""
        ctx, step, task = self.ctx, self.step_reached, self.task
        self.check_finite()
        rng_all = ctx.all_gather_object(capture_rng())
        windows = ctx.all_gather_object(self.window.state())
        if ctx.is_main:
            header = {"task": task.name, "signature": task.signature(), "step": step,
                      "training": self.config.model_dump(mode="json")}
            save_checkpoint(path, header, self._payload(rng_all, windows))
        ctx.barrier()
        if path == self.last_path:
            self.saved_step = step

    def _payload(self, rng_all: list[Any], windows: list[Any]) -> dict[str, Any]:
        return {
            "module": {k: v.detach().cpu() for k, v in self.task.module.state_dict().items()},
            "extra": {k: v.detach().cpu() for k, v in self.task.extra_state().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else {},
            "step": self.step_reached,
            "best": self.best,
            "best_step": self.best_step,
            "rng": rng_all,
            "world_size": self.ctx.world_size,
            "window": windows,  # every rank's partial logging window (sums and step count)
        }

    def write_samples(self) -> None:
        """The task's samples at this step (main rank), without touching the training RNG streams."""
        step, device = self.step_reached, self.device
        directory = self.out / SAMPLES_DIR / f"step_{step:07d}"
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            self.task.write_samples(step, directory)
        self.logger.log_samples(step, directory)
