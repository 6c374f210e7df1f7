"""Inpaint: resample the codes inside a region under new labels.

``level='top'`` (the coarsest level): its masked tokens are redrawn by its prior, then the finer
tokens under the (upsampled) mask by their priors, conditioned on the new coarse codes.
``level='bottom'``: only that level's prior, on its own finer grid. Codes outside the region never
change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from specinpaint.core.prior import SamplingOptions

from .masks import RegionLike
from .results import EditResult

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .editor import Editor, Source


def inpaint(
    editor: Editor,
    source: Source,
    region: RegionLike,
    pitch: int | Sequence[int] | None = None,
    family: str | int | Sequence[str | int] | None = None,
    level: str = "top",
    sampler: str | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    *,
    sampling: SamplingOptions | Mapping[str, Any] | None = None,
    dilate: int = 0,
    decode: bool = True,
    progress: bool = False,
) -> EditResult:
    codes, columns = editor.codes_of(source)
    masks = editor.region_masks(region, columns, level=level, batch=codes.batch_size, dilate=dilate)
    options = editor.sampling_options(sampling, sampler=sampler, temperature=temperature, top_p=top_p, seed=seed)
    conditioning = editor.labels.conditioning(pitch, family, codes.batch_size)
    return editor.resample(codes, columns, masks, level, conditioning, options, decode=decode, progress=progress)
