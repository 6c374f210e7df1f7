"""Learning-rate schedules from `TrainingConfig`: constant, cosine and one-cycle, with warm-up."""

from __future__ import annotations

import math

import torch

from specinpaint.core.config import TrainingConfig


def lr_factor(step: int, config: TrainingConfig) -> float:
    """Multiplier of ``config.lr`` for optimizer step ``step`` (0-based).

    * ``constant``: linear warm-up over ``warmup_steps``, then 1.
    * ``cosine``: linear warm-up, then cosine decay to 0 at ``steps``.
    * ``onecycle`` (the original's CycleScheduler): warm-up from lr/25 to lr over ``warmup_steps``
      (30 % of the run when 0), then cosine down to lr/25/1e4.
    """
    total = config.steps
    if config.schedule == "onecycle":
        warm = config.warmup_steps or max(1, int(0.3 * total))
        start, end = 1 / 25, 1 / 25 / 1e4
        if step < warm:
            return start + (1 - start) * step / warm
        progress = min((step - warm) / max(1, total - warm), 1.0)
        return end + (1 - end) * 0.5 * (1 + math.cos(math.pi * progress))
    warm = config.warmup_steps
    if step < warm:
        return (step + 1) / warm
    if config.schedule == "constant":
        return 1.0
    progress = min((step - warm) / max(1, total - warm), 1.0)
    return 0.5 * (1 + math.cos(math.pi * progress))


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainingConfig, start_step: int = 0
) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR over a plain function (so its state_dict holds only counters, never the config).
    With ``start_step`` > 0 it starts there with ``config.lr`` as the base rate (a rate changed on
    resume; the optimiser state from the checkpoint carries the old one)."""

    def factor(step: int) -> float:
        return lr_factor(step, config)

    if start_step <= 0:
        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    for group in optimizer.param_groups:
        group["initial_lr"] = config.lr
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor, last_epoch=start_step - 1)
