"""Generate: new notes from scratch, as one batch.

The coarsest level is drawn from its prior, then every finer level conditioned on it; a note
longer than one window continues window by window with context (see `plan`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch

from specinpaint.core.codemaps import Codemaps
from specinpaint.core.prior import SamplingOptions

from .errors import EditError
from .results import EditResult

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .editor import Editor


def generate(
    editor: Editor,
    pitch: int | Sequence[int] | None = None,
    family: str | int | Sequence[str | int] | None = None,
    n: int = 1,
    sampling: SamplingOptions | Mapping[str, Any] | None = None,
    *,
    columns: int | None = None,
    decode: bool = True,
    progress: bool = False,
) -> EditResult:
    geometry = editor.geometry
    if n < 1:
        raise EditError(f"n must be >= 1, got {n}")
    columns = geometry.window_columns if columns is None else columns
    if columns < geometry.window_columns:
        raise EditError(f"columns must be >= {geometry.window_columns}, got {columns}")
    conditioning = editor.labels.conditioning(pitch, family, n)
    options = editor.sampling_options(sampling)
    shapes = geometry.level_shapes(columns)
    blank = Codemaps({lvl: torch.zeros(n, *shape, dtype=torch.long) for lvl, shape in shapes.items()})
    masks = {lvl: torch.ones(n, *shape, dtype=torch.bool) for lvl, shape in shapes.items()}
    return editor.resample(blank, columns, masks, geometry.levels[0], conditioning, options,
                           decode=decode, progress=progress)
