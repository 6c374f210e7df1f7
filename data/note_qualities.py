"""NSynth note qualities that can be measured on a rendered note (the rest stay 0).

NSynth's qualities were annotated by people; for rendered notes we measure the two that are defined
by the envelope and take one from the GM program:

* ``fast_decay``: the level just before note-off (2.5–3.0 s) is more than 30 dB below the loudest
  frame ("decays substantially before the note-off point at 3 seconds");
* ``long_release``: the last 0.25 s is still within 40 dB of the loudest frame ("still present at
  the end of the sample");
* ``distortion``: overdriven/distortion guitar and the charang lead (`DISTORTED_PROGRAMS`).
"""

from __future__ import annotations

import numpy as np

from .gm_programs import DISTORTED_PROGRAMS
from .nsynth_format import NOTE_OFF_SECONDS, QUALITIES

FRAME = 512
FAST_DECAY_DB = -30.0
LONG_RELEASE_DB = -40.0


def _frame_rms(audio: np.ndarray) -> np.ndarray:
    n = len(audio) // FRAME
    frames = audio[: n * FRAME].astype(np.float64).reshape(n, FRAME)
    return np.sqrt((frames**2).mean(axis=1))


def note_qualities(audio: np.ndarray, program: int, sample_rate: int) -> list[int]:
    """The 10-bit NSynth ``qualities`` vector of one rendered note."""
    rms = _frame_rms(audio)
    bits = dict.fromkeys(QUALITIES, 0)
    peak = float(rms.max()) if rms.size else 0.0
    if peak > 0:
        per_second = sample_rate / FRAME
        off = int(NOTE_OFF_SECONDS * per_second)
        before_off = rms[max(off - int(0.5 * per_second), 0) : off]
        tail = rms[-max(int(0.25 * per_second), 1) :]
        if before_off.size and before_off.max() < peak * 10 ** (FAST_DECAY_DB / 20):
            bits["fast_decay"] = 1
        if tail.max() > peak * 10 ** (LONG_RELEASE_DB / 20):
            bits["long_release"] = 1
    if program in DISTORTED_PROGRAMS:
        bits["distortion"] = 1
    return [bits[name] for name in QUALITIES]
