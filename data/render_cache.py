"""Render once, reuse afterwards: the built-in dataset in a content-addressed cache directory.

The key hashes the spec, the SoundFonts' bytes (sha256) and `RENDERER_VERSION`, so any change
renders a new directory and a stale one is never reused. Rendering goes to a temporary sibling and
is renamed into place only when complete, so an interrupted render never leaves a half dataset
(and two processes racing to render the same key both end with one complete copy).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from specinpaint.core.atomic import sha256_file
from specinpaint.core.errors import DataError

from .render_spec import RenderSpec
from .renderer import RENDERER_VERSION, REPORT_FILE, _as_paths, render_into

CACHE_ENV = "SPECINPAINT_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$SPECINPAINT_CACHE_DIR``, else ``$XDG_CACHE_HOME/specinpaint``, else ``~/.cache/specinpaint``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "specinpaint"


def render_key(spec: RenderSpec, soundfonts: Sequence[Path]) -> str:
    payload = {
        "renderer_version": RENDERER_VERSION,
        "spec": spec.model_dump(mode="json"),
        "soundfonts": [sha256_file(p) for p in soundfonts],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def ensure_rendered(
    spec: RenderSpec | dict | None = None,
    cache_dir: str | Path | None = None,
    soundfont: str | Path | Sequence[str | Path] | None = None,
    *,
    workers: int | None = None,
) -> Path:
    """Path of the NSynth-format render of ``spec`` (default: the built-in dataset), rendering it
    into ``cache_dir`` (default `default_cache_dir()`) on first use."""
    if isinstance(spec, dict):
        spec = RenderSpec(**spec)
    spec = spec or RenderSpec()
    paths = _as_paths(soundfont)
    for path in paths:
        if not path.is_file():
            raise DataError(f"{path}: SoundFont file does not exist")
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    final = cache / f"nsynth-render-{render_key(spec, paths)}"
    if (final / REPORT_FILE).is_file():
        return final
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{cache}: cannot create render cache directory ({exc})") from exc
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=cache))
    try:
        render_into(tmp, spec, paths, workers)
        if final.exists() and not (final / REPORT_FILE).is_file():
            shutil.rmtree(final, ignore_errors=True)  # leftover without a report: incomplete
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / REPORT_FILE).is_file():  # not a lost race: a real failure
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final
