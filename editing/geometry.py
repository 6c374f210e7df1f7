"""`Geometry`: the sizes every edit needs, read once from a pipeline.

Why a value object: windows, masks, plans and long-audio code all ask the same questions (how many
columns per window, how many bottom columns per top column, which codes are valid, where each
spectrogram row and frame lies). Asking the pipeline's plugins each time tied the editing code to
the `Pipeline` class; a frozen snapshot answers them without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from specinpaint.core.codemaps import Codemaps
from specinpaint.core.errors import SpecinpaintError

from .errors import EditError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from specinpaint.core.pipeline import Pipeline


@dataclass(frozen=True, eq=False)
class Geometry:
    """``levels`` coarsest first; ``window_shapes`` the codemap (rows, columns) of each level for
    one model window of ``num_samples`` samples; ``bin_frequencies_hz`` the centre of every
    spectrogram row, ``window_frame_times_s`` the centre of every frame of one window."""

    levels: tuple[str, ...]
    window_shapes: Mapping[str, tuple[int, int]]
    num_codes: Mapping[str, int]
    num_samples: int
    sample_rate: int
    bin_frequencies_hz: torch.Tensor
    window_frame_times_s: torch.Tensor
    ratios: Mapping[str, int] = field(init=False)

    def __post_init__(self) -> None:
        base = self.window_shapes[self.levels[0]][1]
        ratios = {}
        for level in self.levels:
            columns = self.window_shapes[level][1]
            if columns % base:
                raise EditError(f"level '{level}' has {columns} columns, not a multiple of {base}")
            ratios[level] = columns // base
        object.__setattr__(self, "ratios", ratios)

    @classmethod
    def of(cls, pipeline: Pipeline) -> Geometry:
        shapes = pipeline.codemap_shapes
        rep = pipeline.representation
        frames = pipeline.spectrogram_shape[-1]
        levels = tuple(pipeline.quantizer.levels)
        return cls(
            levels=levels,
            window_shapes={lvl: tuple(shapes[lvl]) for lvl in levels},
            num_codes=dict(pipeline.quantizer.num_codes),
            num_samples=pipeline.config.num_samples,
            sample_rate=rep.sample_rate,
            bin_frequencies_hz=rep.bin_frequencies_hz().detach().double().cpu(),
            window_frame_times_s=rep.frame_times_s(frames).detach().double().cpu(),
        )

    # -- windows and columns -------------------------------------------------------------------
    @property
    def window_columns(self) -> int:
        """Columns of the coarsest level per model window (e.g. 4 top columns)."""
        return self.window_shapes[self.levels[0]][1]

    @property
    def window_seconds(self) -> float:
        """Duration the models see at once (``num_samples / sample_rate``)."""
        return self.num_samples / self.sample_rate

    @property
    def column_seconds(self) -> float:
        """Seconds per coarsest-level column (1 s for the paper)."""
        return self.window_seconds / self.window_columns

    def level_shapes(self, columns: int) -> dict[str, tuple[int, int]]:
        """Map sizes of every level for a codemap of ``columns`` coarsest columns."""
        return {lvl: (self.window_shapes[lvl][0], columns * self.ratios[lvl]) for lvl in self.levels}

    def column_samples(self, columns: int) -> int:
        """Audio samples spanned by ``columns`` coarsest columns."""
        return round(columns * self.num_samples / self.window_columns)

    def window_starts(self, columns: int) -> list[int]:
        """Non-overlapping window starts covering ``columns``; the last window is shifted left to
        end at ``columns`` (overlapping its neighbour) rather than padded."""
        width = self.window_columns
        starts = list(range(0, columns - width + 1, width))
        if starts[-1] + width < columns:
            starts.append(columns - width)
        return starts

    def slice(self, codes: Codemaps, start: int, width: int) -> Codemaps:
        """Coarsest columns ``[start, start + width)`` of every level."""
        return Codemaps({
            lvl: codes[lvl][..., start * self.ratios[lvl]:(start + width) * self.ratios[lvl]] for lvl in codes.levels
        })

    def check_codes(self, codes: Codemaps) -> int:
        """Validate levels, row counts, column alignment and code ranges; return the number of
        coarsest columns. Longer-than-window codemaps are allowed (>= one window)."""
        if set(codes.levels) != set(self.levels):
            raise EditError(f"codes have levels {codes.levels}, the pipeline expects {list(self.levels)}")
        columns = codes[self.levels[0]].shape[-1]
        if columns < self.window_columns:
            raise EditError(
                f"codemap '{self.levels[0]}' has {columns} columns, at least {self.window_columns} are needed"
            )
        try:
            codes.check(self.level_shapes(columns), self.num_codes)
        except SpecinpaintError as exc:
            raise EditError(str(exc)) from None
        return columns

    # -- time and frequency axes ---------------------------------------------------------------
    def bin_frequencies(self) -> torch.Tensor:
        """Centre frequency (Hz) of every spectrogram row, low to high."""
        return self.bin_frequencies_hz.clone()

    def frame_times(self, columns: int) -> torch.Tensor:
        """Centre time (s) of every spectrogram frame under a ``columns``-column codemap: the
        representation's own frame times for one window; for longer maps frames are spaced
        uniformly at the column rate, matching how long audio is cut into windows."""
        times = self.window_frame_times_s
        if columns == self.window_columns:
            return times.clone()
        frames = times.numel()
        step = self.column_seconds * self.window_columns / frames
        return times[0] + torch.arange(frames * columns // self.window_columns, dtype=torch.float64) * step
