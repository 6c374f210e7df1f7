"""Audio and codes of any length, through the fixed windows the models see.

The models see one window at a time (e.g. 4 top columns = 4 s). Longer audio is encoded window by
window, the last window overlapping its neighbour rather than padded; longer codes are decoded
through half-overlapping windows cross-faded with trapezoids, so long notes have no hard seams.
Callers run these inside `inference` with codes already checked (`Geometry.check_codes`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from specinpaint.core.audio import fit_length, prepare_batch
from specinpaint.core.codemaps import Codemaps
from specinpaint.core.conditioning import Conditioning

from .geometry import Geometry

if TYPE_CHECKING:  # pragma: no cover - typing only
    from specinpaint.core.pipeline import Pipeline


def encode_long(pipeline: Pipeline, geometry: Geometry, audio: torch.Tensor) -> Codemaps:
    """Audio [B, N] (or [N]) of any length → codemaps of ``max(W, ceil(N / column))`` coarsest
    columns; every window goes through the training path (``Pipeline.encode``)."""
    audio = prepare_batch(audio)
    n = audio.shape[-1]
    w = geometry.window_columns
    columns = max(w, math.ceil(n / geometry.column_samples(1) - 1e-9))
    audio = fit_length(audio, geometry.column_samples(columns))
    pieces: dict[str, list[torch.Tensor]] = {lvl: [] for lvl in geometry.levels}
    done = 0
    for start in geometry.window_starts(columns):
        offset = geometry.column_samples(start)
        chunk = fit_length(audio[:, offset:], geometry.num_samples)
        codes = pipeline.encode(chunk)
        keep_from = done - start  # columns already covered by the previous window
        for lvl in geometry.levels:
            pieces[lvl].append(codes[lvl][..., keep_from * geometry.ratios[lvl]:].cpu())
        done = start + w
    return Codemaps({lvl: torch.cat(pieces[lvl], -1) for lvl in geometry.levels})


def decode_long(
    pipeline: Pipeline, geometry: Geometry, codes: Codemaps, columns: int, length: int | None = None,
    conditioning: Conditioning | None = None,
) -> torch.Tensor:
    """Checked codemaps of ``columns`` (>= one window) coarsest columns → audio [B, length]
    (default: the columns' duration); ``conditioning``: the notes' labels, for a quantizer whose
    decoder takes them (`Pipeline.decode_codes`)."""
    if columns == geometry.window_columns:
        audio = pipeline.decode(codes, conditioning=conditioning).cpu()
    else:
        audio = _decode_overlapped(pipeline, geometry, codes, columns, conditioning)
    if length is not None:
        return fit_length(audio, length)
    return audio[..., :geometry.column_samples(columns)]


def _decode_overlapped(pipeline: Pipeline, geometry: Geometry, codes: Codemaps, columns: int,
                       conditioning: Conditioning | None) -> torch.Tensor:
    w, n = geometry.window_columns, geometry.num_samples
    hop = max(1, w // 2)
    starts = sorted(set(list(range(0, columns - w + 1, hop)) + [columns - w]))
    total = geometry.column_samples(columns)
    out = torch.zeros(codes.batch_size, total)
    weight = torch.zeros(total)
    fade = trapezoid(n, geometry.column_samples(hop))
    for start in starts:
        audio = pipeline.decode(geometry.slice(codes, start, w), conditioning=conditioning).cpu()
        offset = geometry.column_samples(start)
        span = min(n, total - offset)
        ramp = fade[:span].clone()
        if start == 0:
            ramp[: span // 2] = 1.0
        if start == starts[-1]:
            ramp[span // 2:] = 1.0
        out[:, offset:offset + span] += audio[:, :span] * ramp
        weight[offset:offset + span] += ramp
    return out / weight.clamp_min(1e-6)


def decode_spectrogram(pipeline: Pipeline, geometry: Geometry, codes: Codemaps, columns: int,
                       conditioning: Conditioning | None = None) -> torch.Tensor:
    """Checked codemaps of any length → the raw (denormalised, cleaned) spectrogram [B, C, F, T]
    of all columns, window by window (for images and analysis)."""
    w = geometry.window_columns
    pieces, done = [], 0
    device = pipeline.device
    for start in geometry.window_starts(columns):
        spec = pipeline.decode_codes(geometry.slice(codes, start, w).to(device), conditioning)
        spec = pipeline.representation.clean(pipeline.normalizer.denormalize(spec)).cpu()
        per_column = spec.shape[-1] // w
        pieces.append(spec[..., (done - start) * per_column:])
        done = start + w
    return torch.cat(pieces, -1)


def trapezoid(n: int, ramp: int) -> torch.Tensor:
    """Weights rising linearly over ``ramp`` samples, flat, then falling (cross-fades)."""
    ramp = max(1, min(ramp, n // 2))
    weights = torch.ones(n)
    edge = torch.linspace(0, 1, ramp + 2)[1:-1]
    weights[:ramp] = edge
    weights[n - ramp:] = edge.flip(0)
    return weights
