"""NSynth-format datasets: loader, filters, splits, label encoders, SoundFont renderer, code store.

Names below are imported lazily (``from specinpaint.data import render_dataset``) so importing the
package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "NSynthDataset": "nsynth",
    "format_summary": "nsynth",
    "LabelEncoder": "labels",
    "LabelEncoders": "labels",
    "NoteFilter": "filters",
    "RenderSpec": "render_spec",
    "render_dataset": "renderer",
    "ensure_rendered": "render_cache",
    "default_cache_dir": "render_cache",
    "default_soundfont": "soundfont_synth",
    "paper_split": "splits",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
