"""Carrying out a sampling plan: the prior calls of every level, committed into the codes.

What generate, inpaint and sample packs share: the coarsest edited level is redrawn under its
mask, then every finer level under its mask, each prior seeing the codes already drawn above it.
Each window of a long codemap is given its start (``time_offset``, in columns of the level) when
its prior has learned time positions past a note's first window (``max_time_offset > 0``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from specinpaint.core.codemaps import Codemaps
from specinpaint.core.conditioning import Conditioning
from specinpaint.core.prior import Prior

from .geometry import Geometry
from .plan import LevelPlan
from .progress import progress_bar

#: seeds of successive windows differ by this prime (no repeated noise pattern across windows)
WINDOW_SEED_STEP = 7919


def resample(
    geometry: Geometry, codes: Codemaps, masks: Mapping[str, torch.Tensor], plan: Sequence[LevelPlan],
    conditioning: Conditioning, device: torch.device, progress: bool = False,
) -> Codemaps:
    """New codemaps: ``codes`` with every planned level resampled under its mask."""
    maps = {lvl: codes[lvl].clone().cpu() for lvl in codes.levels}
    with progress_bar(sum(len(step.windows) for step in plan), progress) as bar:
        for step in plan:
            if bar is not None:
                bar.set_description(f"sampling {step.level}")
            _resample_level(geometry, maps, step, masks[step.level].cpu(), conditioning, device, bar)
    return Codemaps(maps)


def window_offset(prior: Prior, start: int) -> dict[str, int]:
    """The ``time_offset`` keyword of a window starting at column ``start`` of the prior's level:
    passed only to priors that take one (``max_time_offset > 0``); others see every window as a
    note's start, as before the option."""
    return {"time_offset": start} if prior.max_time_offset > 0 else {}


def _resample_level(
    geometry: Geometry, maps: dict[str, torch.Tensor], step: LevelPlan, mask: torch.Tensor,
    conditioning: Conditioning, device: torch.device, bar: Any = None,
) -> None:
    """Resample ``maps[step.level]`` where ``mask`` (in place), one prior call per window."""
    ratios, level = geometry.ratios, step.level
    r, w = ratios[level], geometry.window_columns
    remaining = mask.clone()
    cond = conditioning.to(device)
    options = step.options
    for call, (start, first, end) in enumerate(step.windows):
        window = Codemaps({
            lvl: maps[lvl][..., start * ratios[lvl]:(start + w) * ratios[lvl]].to(device) for lvl in maps
        })
        wmask = remaining[..., start * r:(start + w) * r].to(device)
        seed = None if options.seed is None else options.seed + WINDOW_SEED_STEP * call
        extra = window_offset(step.prior, start * r)
        new = step.prior.inpaint(window, wmask, cond, options.model_copy(update={"seed": seed}), **extra).to("cpu")
        lo, hi = first * r, end * r
        commit = remaining[..., lo:hi]
        maps[level][..., lo:hi] = torch.where(commit, new[..., lo - start * r:hi - start * r], maps[level][..., lo:hi])
        remaining[..., lo:hi] = False
        if bar is not None:
            bar.update(1)
