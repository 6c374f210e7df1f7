"""Region masks: which cells of every codemap level an edit may change.

A region is a `Region` (seconds × Hz, an axis may be None = the whole axis), any object with
``time_s``/``freq_hz`` attributes, or explicit 0/1 masks by level name ([F, T] or [B, F, T]: the
web app's painted cells). The level being edited gets the region on its own grid; coarser levels
get empty masks; finer levels get its upsampled mask (every token conditioned on a changed coarser
token is redrawn).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from specinpaint.core.errors import SpecinpaintError
from specinpaint.core.region import (
    Region,
    aligned_masks,
    dilate_mask,
    downsample_mask,
    region_to_masks,
    upsample_mask,
)

from .errors import EditError
from .geometry import Geometry

#: A region: a ``Region``, an object with ``time_s``/``freq_hz``, or explicit masks by level name.
RegionLike = Region | Mapping[str, Any] | Any


def region_masks(
    geometry: Geometry, region: RegionLike, columns: int, *, level: str | None = None, batch: int = 1,
    dilate: int = 0,
) -> dict[str, torch.Tensor]:
    """Bool masks [B, F_l, T_l] for every level of a ``columns``-column codemap, True where the
    edit may change codes. ``level``: the level being edited (default: the coarsest); a missing
    ``level`` mask among explicit ones is derived (pooled or upsampled) from the others;
    ``dilate`` grows the ``level`` mask by that many cells."""
    levels = geometry.levels
    level = level or levels[0]
    if level not in levels:
        raise EditError(f"unknown level '{level}' (levels: {', '.join(levels)})")
    shapes = geometry.level_shapes(columns)
    try:
        if isinstance(region, Mapping):
            base = _explicit_mask(region, shapes, level, batch)
        else:
            masks = region_to_masks(
                as_region(region), geometry.bin_frequencies_hz, geometry.frame_times(columns), shapes, aligned=False
            )
            base = masks[level].expand(batch, *shapes[level])
        base = dilate_mask(base, dilate)
        out = aligned_masks(base, level, shapes)
    except EditError:
        raise
    except SpecinpaintError as exc:
        raise EditError(str(exc)) from None
    for lvl in levels[:levels.index(level)]:
        out[lvl] = torch.zeros_like(out[lvl])
    if not bool(out[level].any()):
        raise EditError(f"region selects no '{level}' cell (it lies outside the note's time or frequency range)")
    return {lvl: out[lvl].clone() for lvl in levels}


def as_region(region: Any) -> Region:
    """A `Region` from a `Region` or any object with ``time_s``/``freq_hz`` attributes."""
    if isinstance(region, Region):
        return region
    time_s = getattr(region, "time_s", None)
    freq_hz = getattr(region, "freq_hz", None)
    if time_s is None and freq_hz is None:
        raise EditError(
            f"region must be a Region (time_s, freq_hz), an object with those attributes or a mapping "
            f"of level masks, got {type(region).__name__}"
        )
    return Region(time_s=time_s, freq_hz=freq_hz)


def coarse_any(mask: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Coarser-level cells that hold any selected finer cell."""
    return downsample_mask(mask, tuple(shape))


def _explicit_mask(
    given: Mapping[str, Any], shapes: Mapping[str, tuple[int, int]], level: str, batch: int
) -> torch.Tensor:
    """The ``level`` mask [B, F, T] from explicit level masks (upsampled from the nearest coarser
    given level, else pooled from the nearest finer one)."""
    unknown = set(given) - set(shapes)
    if unknown:
        raise EditError(f"mask levels {sorted(unknown)} are not codemap levels ({', '.join(shapes)})")
    if not given:
        raise EditError("explicit region needs at least one level mask")
    masks: dict[str, torch.Tensor] = {}
    for lvl, value in given.items():
        try:
            mask = torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise EditError(f"mask '{lvl}' is not a rectangular array of booleans ({exc})") from None
        if mask.dtype.is_floating_point or mask.dtype.is_complex:
            raise EditError(f"mask '{lvl}' must hold booleans or 0/1 integers")
        if mask.dtype != torch.bool and mask.numel():
            odd = mask[(mask != 0) & (mask != 1)]
            if odd.numel():
                raise EditError(f"mask '{lvl}' must hold booleans or 0/1 integers, found {int(odd[0])}")
        if mask.dim() == 2:
            mask = mask.unsqueeze(0)
        if mask.dim() != 3 or tuple(mask.shape[-2:]) != tuple(shapes[lvl]):
            raise EditError(f"mask '{lvl}' has shape {tuple(mask.shape)}, expected {tuple(shapes[lvl])}")
        if mask.shape[0] not in (1, batch):
            raise EditError(f"mask '{lvl}' has batch {mask.shape[0]}, expected 1 or {batch}")
        masks[lvl] = mask.bool().expand(batch, *shapes[lvl])
    if level in masks:
        return masks[level]
    order = list(shapes)
    index = order.index(level)
    coarser = [lvl for lvl in order[:index] if lvl in masks]
    if coarser:
        return upsample_mask(masks[coarser[-1]], shapes[level])
    finer = next(lvl for lvl in order[index + 1:] if lvl in masks)
    return aligned_masks(masks[finer], finer, shapes)[level]
