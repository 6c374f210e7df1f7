"""Regions in seconds × Hz and the codemap masks they select.

Why here: the app, the CLI and the priors must agree on which tokens a drawn box touches. The
mapping uses only what the contracts give: the representation's row centre frequencies
(``bin_frequencies_hz()``), frame centre times (``frame_times_s(T)``) and each level's codemap
shape. A code cell covers a proportional block of rows × frames; it is selected when that block's
extent (edges half-way between centres) overlaps the region by at least a quarter of the cell or
half of the region (see `_axis_mask`).

With ``aligned=True`` (the default) the finer levels get exactly the upsampled coarser mask: every
bottom token under a resampled top token is resampled too, since it was conditioned on the old one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .errors import SpecinpaintError

#: a cell is selected when the region covers this share of it ...
MIN_CELL_SHARE = 0.25
#: ... or this share of the region lies inside the cell
MIN_SPAN_SHARE = 0.5


def _range(value: object, name: str) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        lo, hi = (float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise SpecinpaintError(f"region {name} must be a (start, end) pair of numbers, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise SpecinpaintError(f"region {name} must be finite, got ({lo}, {hi})")
    if lo < 0:
        raise SpecinpaintError(f"region {name} starts below 0: ({lo}, {hi})")
    if hi <= lo:
        raise SpecinpaintError(f"region {name} is empty or inverted: ({lo}, {hi}) (needs start < end)")
    return lo, hi


@dataclass(frozen=True)
class Region:
    """A box in time (seconds) × frequency (Hz); ``None`` on an axis means the whole axis."""

    time_s: tuple[float, float] | None = None
    freq_hz: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "time_s", _range(self.time_s, "time_s"))
        object.__setattr__(self, "freq_hz", _range(self.freq_hz, "freq_hz"))


def axis_edges(centres: torch.Tensor, name: str = "axis") -> torch.Tensor:
    """``[N]`` increasing centres → ``[N + 1]`` cell edges half-way between them (the outer
    edges mirrored)."""
    c = torch.as_tensor(centres, dtype=torch.float64).flatten().cpu()
    if c.numel() == 0:
        raise SpecinpaintError(f"{name} centres are empty")
    if not torch.isfinite(c).all():
        raise SpecinpaintError(f"{name} centres contain NaN or inf")
    if c.numel() == 1:
        return torch.stack([c[0] - 0.5, c[0] + 0.5])
    if not (c[1:] > c[:-1]).all():
        raise SpecinpaintError(f"{name} centres must be strictly increasing")
    mid = (c[1:] + c[:-1]) / 2
    return torch.cat([c[:1] - (mid[:1] - c[:1]), mid, c[-1:] + (c[-1:] - mid[-1:])])


def cell_extents(edges: torch.Tensor, cells: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Low and high edge of each of ``cells`` codes over ``len(edges) - 1`` rows/frames (code c
    covers rows ⌊c·N/cells⌋ … ⌊(c+1)·N/cells⌋ − 1)."""
    n = edges.numel() - 1
    if not 1 <= cells <= n:
        raise SpecinpaintError(f"cannot split {n} rows/frames into {cells} codemap cells")
    bounds = torch.div(torch.arange(cells + 1) * n, cells, rounding_mode="floor")
    return edges[bounds[:-1]], edges[bounds[1:]]


def _axis_mask(edges: torch.Tensor, cells: int, span: tuple[float, float] | None) -> torch.Tensor:
    """Cells whose overlap with ``span`` is a real share of the cell (≥ 1/4) or of the span (≥ 1/2),
    so a box ending a few frames into the next cell does not select it, yet a narrow band inside
    one cell still does."""
    if span is None:
        return torch.ones(cells, dtype=torch.bool)
    lo, hi = cell_extents(edges, cells)
    start, end = max(span[0], float(edges[0])), min(span[1], float(edges[-1]))  # the part on this axis
    overlap = torch.minimum(hi, torch.tensor(end, dtype=hi.dtype)) - torch.maximum(lo, torch.tensor(start, dtype=lo.dtype))
    needed = torch.minimum((hi - lo) * MIN_CELL_SHARE, torch.tensor(max(end - start, 0.0) * MIN_SPAN_SHARE))
    return (overlap > 0) & (overlap >= needed * (1 - 1e-9))


def dilate_mask(mask: torch.Tensor, tokens: int = 1) -> torch.Tensor:
    """Grow a bool mask ``[..., F, T]`` by ``tokens`` cells in frequency and time (a box)."""
    if tokens < 0:
        raise SpecinpaintError(f"dilation must be >= 0, got {tokens}")
    if tokens == 0:
        return mask.clone()
    shape = mask.shape
    x = mask.reshape(-1, 1, *shape[-2:]).float()
    x = F.max_pool2d(x, kernel_size=2 * tokens + 1, stride=1, padding=tokens)
    return x.reshape(shape) > 0


def upsample_mask(mask: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """``[..., Fc, Tc]`` → ``[..., F, T]``: each cell repeated over the finer cells below it."""
    (fc, tc), (f, t) = tuple(mask.shape[-2:]), tuple(shape)
    if f % fc or t % tc:
        raise SpecinpaintError(f"cannot upsample a {fc}×{tc} mask to {f}×{t} (needs integer factors)")
    return mask.repeat_interleave(f // fc, dim=-2).repeat_interleave(t // tc, dim=-1)


def downsample_mask(mask: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """``[..., F, T]`` → ``[..., Fc, Tc]``: a coarse cell is selected when any cell below it is."""
    (f, t), (fc, tc) = tuple(mask.shape[-2:]), tuple(shape)
    if f % fc or t % tc:
        raise SpecinpaintError(f"cannot downsample a {f}×{t} mask to {fc}×{tc} (needs integer factors)")
    x = mask.reshape(*mask.shape[:-2], fc, f // fc, tc, t // tc)
    return x.any(dim=-1).any(dim=-2)


def aligned_masks(
    mask: torch.Tensor, level: str, codemap_shapes: Mapping[str, tuple[int, int]]
) -> dict[str, torch.Tensor]:
    """A mask on one ``level`` → masks on every level (coarsest first): coarser levels select a cell
    when any cell below it is selected; finer levels get the upsampled mask of the level above."""
    levels = list(codemap_shapes)
    if level not in codemap_shapes:
        raise SpecinpaintError(f"no codemap level '{level}' (levels: {', '.join(levels)})")
    if tuple(mask.shape[-2:]) != tuple(codemap_shapes[level]):
        raise SpecinpaintError(
            f"mask shape {tuple(mask.shape[-2:])} does not match level '{level}' {tuple(codemap_shapes[level])}"
        )
    index = levels.index(level)
    out = {level: mask.bool()}
    for name in reversed(levels[:index]):
        out[name] = downsample_mask(mask.bool(), codemap_shapes[name])
    previous = mask.bool()
    for name in levels[index + 1:]:
        previous = upsample_mask(previous, codemap_shapes[name])
        out[name] = previous
    return {name: out[name] for name in levels}


def region_to_masks(
    region: Region,
    bin_frequencies_hz: torch.Tensor,
    frame_times_s: torch.Tensor,
    codemap_shapes: Mapping[str, tuple[int, int]],
    dilation: int = 0,
    aligned: bool = True,
) -> dict[str, torch.Tensor]:
    """Bool masks ``[F, T]`` per level (True = to resample) for the cells the region touches.

    ``codemap_shapes`` lists levels coarsest first. ``dilation`` grows the mask by that many tokens
    (on the coarsest level when aligned, else on each level). Raises when the region touches no cell.
    """
    if not codemap_shapes:
        raise SpecinpaintError("region_to_masks needs at least one codemap level")
    f_edges = axis_edges(bin_frequencies_hz, "bin frequency")
    t_edges = axis_edges(frame_times_s, "frame time")
    masks: dict[str, torch.Tensor] = {}
    for level, (f, t) in codemap_shapes.items():
        rows = _axis_mask(f_edges, int(f), region.freq_hz)
        cols = _axis_mask(t_edges, int(t), region.time_s)
        masks[level] = rows[:, None] & cols[None, :]
    first = next(iter(codemap_shapes))
    if not masks[first].any():
        raise SpecinpaintError(
            f"region {region.time_s} s × {region.freq_hz} Hz lies outside the spectrogram "
            f"({float(t_edges[0]):.3g}–{float(t_edges[-1]):.3g} s, "
            f"{float(f_edges[0]):.4g}–{float(f_edges[-1]):.4g} Hz)"
        )
    if aligned:
        return aligned_masks(dilate_mask(masks[first], dilation), first, codemap_shapes)
    return {level: dilate_mask(m, dilation) for level, m in masks.items()}


def mask_to_region(
    mask: torch.Tensor, bin_frequencies_hz: torch.Tensor, frame_times_s: torch.Tensor
) -> Region | None:
    """The bounding box (seconds × Hz) of the selected cells of a ``[F, T]`` mask on any level, or
    None for an empty mask. Inverse of `region_to_masks` up to cell rounding."""
    if mask.dim() != 2:
        raise SpecinpaintError(f"mask must be [F, T], got {tuple(mask.shape)}")
    if not mask.any():
        return None
    f_lo, f_hi = cell_extents(axis_edges(bin_frequencies_hz, "bin frequency"), mask.shape[0])
    t_lo, t_hi = cell_extents(axis_edges(frame_times_s, "frame time"), mask.shape[1])
    rows = mask.any(dim=1).cpu().nonzero().flatten()
    cols = mask.any(dim=0).cpu().nonzero().flatten()
    return Region(
        time_s=(max(0.0, float(t_lo[cols[0]])), float(t_hi[cols[-1]])),
        freq_hz=(max(0.0, float(f_lo[rows[0]])), float(f_hi[rows[-1]])),
    )
