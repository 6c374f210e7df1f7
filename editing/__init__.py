"""The editing room: `Editor(pipeline)` generates, inpaints, attenuates, adds noise and builds
sample packs with a pipeline's priors.

One concept per module: `geometry` (window/columns/level ratios/shapes/axes), `labels` (the
bundle's family names and pitch range), `masks` (regions → cells), `windows` (audio and codes of
any length), `plan` and `resample` (the prior calls of an edit), `options`, `inference`,
`progress`, `results`, and one module per operation (`generate`, `inpaint`, `attenuate`, `noise`,
`sample_pack`). Imports core only.
"""

from .editor import Editor, Source
from .errors import EditError
from .geometry import Geometry
from .labels import LabelVocabulary
from .masks import RegionLike
from .results import EditResult, SamplePack

__all__ = ["EditError", "EditResult", "Editor", "Geometry", "LabelVocabulary", "RegionLike", "SamplePack", "Source"]
