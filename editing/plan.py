"""The sampling plan of an edit, decided before any sampling.

Which levels are resampled (the edited level and every finer level with selected cells), which
sampler each level's prior runs (the requested one where it supports it, else autoregressive: one
log line), and which prior calls cover the mask. Long codemaps are processed through overlapping
windows that keep context: each call sees already-final columns to its left (and unmasked columns
to its right) and commits only the columns in its middle, so a region spanning two windows is one
continuous edit. Known in advance, the plan also gives progress bars their totals.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from specinpaint.core.prior import Prior, SamplingOptions

from .errors import EditError
from .geometry import Geometry

log = logging.getLogger(__name__)

#: one prior call: window ``[start, start + W)`` shown, columns ``[first, end)`` committed
Window = tuple[int, int, int]


@dataclass(frozen=True)
class LevelPlan:
    """How one level is resampled: its prior, its sampling options and its prior calls."""

    level: str
    prior: Prior
    options: SamplingOptions
    windows: list[Window]


def plan_resample(
    geometry: Geometry, priors: Mapping[str, Prior], masks: Mapping[str, torch.Tensor], level: str,
    options: SamplingOptions,
) -> list[LevelPlan]:
    """The plan for resampling ``level`` under its mask, then every finer level under its mask."""
    if level not in geometry.levels:
        raise EditError(f"unknown level '{level}' (levels: {', '.join(geometry.levels)})")
    levels = [lvl for lvl in geometry.levels[geometry.levels.index(level):] if bool(masks[lvl].any())]
    per_level = level_options(priors, levels, options)
    return [
        LevelPlan(lvl, prior_of(priors, lvl), per_level[lvl], level_windows(geometry, lvl, masks[lvl].cpu()))
        for lvl in levels
    ]


def prior_of(priors: Mapping[str, Prior], level: str) -> Prior:
    if level not in priors:
        raise EditError(f"no prior for level '{level}' in this pipeline (priors: {', '.join(priors)})")
    return priors[level]


def level_options(
    priors: Mapping[str, Prior], levels: Sequence[str], options: SamplingOptions
) -> dict[str, SamplingOptions]:
    """Sampling options per level: the requested sampler where the level's prior supports it,
    else autoregressive (one log line per such level)."""
    out = {}
    unknown = sorted(set(options.levels) - set(priors))
    if unknown:
        raise EditError(f"sampling.levels: no level '{unknown[0]}' (levels: {', '.join(priors)})")
    for level in levels:
        prior = prior_of(priors, level)
        if prior.supports_sampler(options.sampler):
            out[level] = options.for_level(level)
            continue
        if not prior.supports_sampler("autoregressive"):
            raise EditError(f"the '{level}' prior ({type(prior).__name__}) supports neither "
                            f"'{options.sampler}' nor 'autoregressive' sampling")
        log.info("level '%s': %s has no '%s' sampler; sampling it autoregressively", level,
                 type(prior).__name__, options.sampler)
        out[level] = options.for_level(level).model_copy(update={"sampler": "autoregressive"})
    return out


def level_windows(geometry: Geometry, level: str, mask: torch.Tensor) -> list[Window]:
    """The prior calls needed to resample ``level`` under ``mask`` ``[B, F, T]``: each window
    keeps context on both sides; it depends only on the mask."""
    r, w = geometry.ratios[level], geometry.window_columns
    columns = mask.shape[-1] // r
    pending = mask.any(dim=(0, 1)).view(columns, r).any(-1).tolist()
    ctx = max(1, w // 4) if columns > w else 0
    plan, first = [], 0
    while True:
        first = next((c for c in range(first, columns) if pending[c]), columns)
        if first == columns:
            return plan
        start = min(max(first - ctx, 0), columns - w)
        end = columns if start + w >= columns else max(first + 1, start + w - ctx)
        plan.append((start, first, end))
        first = end
