"""Sample packs: one note per pitch that share the coarsest codes of a given note.

Keeping the top codes keeps the note's structure (envelope, timbre outline); resampling the finer
levels under each pitch makes it playable across a keyboard. All pitches go in one batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch

from specinpaint.core.codemaps import Codemaps
from specinpaint.core.prior import SamplingOptions

from .errors import EditError
from .results import SamplePack

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .editor import Editor, Source


def sample_pack(
    editor: Editor,
    source: Source,
    pitches: Sequence[int],
    family: str | int | None = None,
    sampling: SamplingOptions | Mapping[str, Any] | None = None,
) -> SamplePack:
    """Keep the coarsest codes of the first example, resample every finer level once per pitch."""
    geometry = editor.geometry
    pitches = [int(p) for p in pitches]
    if not pitches:
        raise EditError("sample pack needs at least one pitch")
    codes, columns = editor.codes_of(source)
    base = codes.select(0)
    n = len(pitches)
    repeated = Codemaps({lvl: base[lvl].expand(n, -1, -1).clone() for lvl in geometry.levels})
    shapes = geometry.level_shapes(columns)
    masks = {lvl: torch.ones(n, *shapes[lvl], dtype=torch.bool) for lvl in geometry.levels}
    masks[geometry.levels[0]] = torch.zeros(n, *shapes[geometry.levels[0]], dtype=torch.bool)
    labels = editor.labels
    family_name = labels.family_name(labels.family_index(family)) if family is not None else "any"
    conditioning = labels.conditioning(pitches, family, n)
    options = editor.sampling_options(sampling)
    if len(geometry.levels) > 1:
        result = editor.resample(repeated, columns, masks, geometry.levels[1], conditioning, options)
    else:
        result = editor.result(repeated, columns, masks, decode=True)
    assert result.audio is not None
    return SamplePack(result.audio, result.codes, pitches, family_name, geometry.sample_rate)
