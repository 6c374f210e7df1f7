"""Attenuate: lower the level inside a region by some dB (the original's "erase" brush).

The codes are decoded to a spectrogram window by window, the log-level channel is lowered inside
the region (at the finest level's resolution), and the window is re-encoded; only codes inside the
region (at each level's resolution) may change."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from specinpaint.core.codemaps import Codemaps

from .errors import EditError
from .geometry import Geometry
from .masks import RegionLike, coarse_any
from .results import EditResult

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .editor import Editor, Source

LN10 = math.log(10.0)


def attenuate(editor: Editor, source: Source, region: RegionLike, amount_db: float = 20.0, *,
              pitch: Any = None, family: Any = None, decode: bool = True) -> EditResult:
    if not math.isfinite(amount_db) or amount_db < 0:
        raise EditError(f"amount_db must be a finite number >= 0, got {amount_db}")
    geometry, pipeline = editor.geometry, editor.pipeline
    finest = geometry.levels[-1]
    codes, columns = editor.codes_of(source)
    conditioning = editor.labels.conditioning(pitch, family, codes.batch_size)  # for a decoder that takes labels
    masks = editor.region_masks(region, columns, level=finest, batch=codes.batch_size)
    masks = {lvl: m | coarse_any(masks[finest], m.shape[-2:]) for lvl, m in masks.items()}
    if amount_db == 0:  # nothing to lower: keep the codes (re-encoding is not idempotent)
        return editor.result(codes, columns, masks, decode, conditioning)
    channel = level_channel(pipeline.representation)
    db_per_unit = db_per_log_unit(pipeline.representation)
    w = geometry.window_columns
    maps = {lvl: codes[lvl].clone() for lvl in geometry.levels}
    device = pipeline.device
    with editor.inference():
        for start in geometry.window_starts(columns):
            window = geometry.slice(codes, start, w).to(device)
            spec = pipeline.normalizer.denormalize(pipeline.decode_codes(window, conditioning))
            cell = _spectrogram_mask(geometry, masks, start, spec.shape[-2:]).to(device)
            spec = spec.clone()
            spec[:, channel] = spec[:, channel] - cell.float() * amount_db / db_per_unit
            spec = pipeline.representation.clean(spec)
            new = pipeline.quantizer.encode(pipeline.normalizer.normalize(spec)).to("cpu")
            for lvl in geometry.levels:
                lo, hi = start * geometry.ratios[lvl], (start + w) * geometry.ratios[lvl]
                maps[lvl][..., lo:hi] = torch.where(masks[lvl][..., lo:hi], new[lvl], maps[lvl][..., lo:hi])
    return editor.result(Codemaps(maps), columns, masks, decode, conditioning)


def level_channel(representation) -> int:
    """Index of the representation's log-level channel."""
    return int(representation.level_channel)


def db_per_log_unit(representation) -> float:
    """dB per natural-log unit of the level channel: 10/ln 10 for a log *power* channel, 20/ln 10
    for a log magnitude."""
    return (10.0 if representation.level_is_power else 20.0) / LN10


def _spectrogram_mask(geometry: Geometry, masks: Mapping[str, torch.Tensor], start: int,
                      size: torch.Size) -> torch.Tensor:
    """The finest level's mask over one window, upsampled to spectrogram resolution [B, F, T]."""
    finest = geometry.levels[-1]
    r, w = geometry.ratios[finest], geometry.window_columns
    window = masks[finest][..., start * r:(start + w) * r].float().unsqueeze(1)
    up = torch.nn.functional.interpolate(window, size=tuple(size), mode="nearest")
    return up[:, 0].bool()
