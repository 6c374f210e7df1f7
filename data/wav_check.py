"""Reading and checking NSynth WAV files (soundfile, no resampling: NSynth files must already match).

A file that is missing, unreadable, stereo, at another sample rate or of another length gets a
one-line `DataError` naming the file. `check_file` runs at dataset construction so these surface
before training starts, not inside a DataLoader worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from specinpaint.core.errors import DataError

CheckMode = Literal["none", "exists", "header", "full"]


def _expect(path: Path, samplerate: int, channels: int, frames: int, sample_rate: int, num_samples: int) -> None:
    if samplerate != sample_rate:
        raise DataError(f"{path}: sample rate {samplerate} Hz, expected {sample_rate} Hz")
    if channels != 1:
        raise DataError(f"{path}: {channels} channels, NSynth notes are mono")
    if frames != num_samples:
        raise DataError(f"{path}: {frames} samples, expected {num_samples}")


def read_note(path: str | Path, sample_rate: int, num_samples: int) -> np.ndarray:
    """The note as float32 [num_samples] in [-1, 1]; DataError naming the file otherwise."""
    import soundfile as sf

    path = Path(path)
    try:
        data, samplerate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # LibsndfileError, RuntimeError, OSError (missing file) ...
        if not path.exists():
            raise DataError(f"{path}: audio file is missing") from exc
        raise DataError(f"{path}: cannot read audio ({type(exc).__name__}: {exc})") from exc
    _expect(path, samplerate, data.shape[1], data.shape[0], sample_rate, num_samples)
    audio = np.ascontiguousarray(data[:, 0])
    if not np.isfinite(audio).all():
        raise DataError(f"{path}: contains NaN or infinite samples")
    return audio


def check_file(path: Path, mode: CheckMode, sample_rate: int, num_samples: int, listing: set[str] | None) -> str | None:
    """Why the file is unusable (a one-line message naming it), or None if it passes ``mode``.

    ``listing`` is the set of file names present in the audio directory (one scandir instead of
    one stat per file)."""
    import soundfile as sf

    if mode == "none":
        return None
    present = path.name in listing if listing is not None else path.is_file()
    if not present:
        return f"{path}: audio file is missing"
    if mode == "exists":
        return None
    try:
        if mode == "header":
            try:
                info = sf.info(str(path))
            except Exception as exc:
                raise DataError(f"{path}: cannot read audio header ({type(exc).__name__}: {exc})") from exc
            _expect(path, info.samplerate, info.channels, info.frames, sample_rate, num_samples)
        else:
            read_note(path, sample_rate, num_samples)
    except DataError as exc:
        return str(exc)
    return None


def list_audio_dir(directory: Path) -> set[str]:
    """File names in one audio directory (empty if it does not exist)."""
    import os

    try:
        with os.scandir(directory) as entries:
            return {entry.name for entry in entries}
    except (FileNotFoundError, NotADirectoryError):
        return set()
