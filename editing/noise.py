"""The noise brush: fill a region with uniformly random codes.

What it is for: the priors only ever propose codes they find likely; noise puts arbitrary codes
into a region (a burst, a rough texture) that a later inpaint can smooth into the note. Codes are
drawn uniformly from each level's codebook, seeded, at every level the region covers (the edited
level and the finer cells under it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from specinpaint.core.codemaps import Codemaps
from specinpaint.core.prior import MAX_SEED

from .errors import EditError
from .masks import RegionLike
from .results import EditResult

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .editor import Editor, Source


def noise(
    editor: Editor, source: Source, region: RegionLike, level: str = "top", seed: int | None = None, *,
    pitch: Any = None, family: Any = None, dilate: int = 0, decode: bool = True,
) -> EditResult:
    if seed is not None and not 0 <= int(seed) <= MAX_SEED:
        raise EditError(f"seed must be in 0..{MAX_SEED}, got {seed}")
    codes, columns = editor.codes_of(source)
    conditioning = editor.labels.conditioning(pitch, family, codes.batch_size)  # for a decoder that takes labels
    masks = editor.region_masks(region, columns, level=level, batch=codes.batch_size, dilate=dilate)
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(int(seed))
    maps = {}
    for lvl in editor.geometry.levels:
        drawn = torch.randint(0, editor.geometry.num_codes[lvl], codes[lvl].shape, generator=generator)
        maps[lvl] = torch.where(masks[lvl], drawn, codes[lvl])
    return editor.result(Codemaps(maps), columns, masks, decode, conditioning)
