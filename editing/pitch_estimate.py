"""A pitch label for audio that comes without one (an uploaded sound, a WAV given to the CLI).

Why: a decoder that takes the note's pitch draws the harmonics where the label puts them; decoded
with a null pitch, a note is left to its codes alone, which at the CPU sizes loses its pitch most
of the time (the evaluation's ``unlabelled_*`` against ``estimated_pitch_*`` measures say how
much). pYIN's estimate of the audio (the same estimator the evaluation scores pitch with), rounded
to the nearest MIDI note, is the label the note most likely had. No estimate (silence, noise,
audio too short to analyse, or a pitch the bundle was not trained on) gives the null label, so
such audio decodes as before.
"""

from __future__ import annotations

from typing import Any

import torch

from specinpaint.core.conditioning import NULL_LABEL
from specinpaint.core.errors import AudioInputError
from specinpaint.core.registry import registry

#: The metrics plugin whose ``estimate(audio [B, N]) -> MIDI [B]`` gives the estimate (pYIN).
PITCH_METRIC = "pitch-accuracy"


def pitch_labels(estimated_midi: torch.Tensor, pitch_range: tuple[int, int]) -> torch.Tensor:
    """Fractional MIDI estimates ``[B]`` (NaN = unvoiced) → MIDI labels ``[B]`` (long): the nearest
    note, or `NULL_LABEL` where nothing was voiced or the note lies outside ``pitch_range``."""
    estimated = torch.as_tensor(estimated_midi, dtype=torch.float64).reshape(-1)
    low, high = pitch_range
    nearest = torch.round(torch.nan_to_num(estimated, nan=float(NULL_LABEL)))
    usable = torch.isfinite(estimated) & (nearest >= low) & (nearest <= high)
    return torch.where(usable, nearest, torch.full_like(nearest, NULL_LABEL)).long()


def estimate_pitch_labels(
    audio: torch.Tensor, sample_rate: int, pitch_range: tuple[int, int], estimator: Any | None = None,
) -> torch.Tensor:
    """Audio ``[B, N]`` (or ``[N]``) → MIDI labels ``[B]`` from its first second after the attack
    (the `PITCH_METRIC` plugin's analysis window, or ``estimator``'s); `NULL_LABEL` where there is
    no usable estimate."""
    audio = torch.as_tensor(audio)
    batch = 1 if audio.dim() == 1 else audio.shape[0]
    if estimator is None:
        estimator = registry("metrics").build(PITCH_METRIC, {"sample_rate": sample_rate})
    elif estimator.params.sample_rate != sample_rate:
        raise AudioInputError(f"the pitch estimator runs at {estimator.params.sample_rate} Hz, "
                              f"the audio is at {sample_rate} Hz")
    params = estimator.params
    if audio.shape[-1] < int(params.start_seconds * sample_rate) + params.frame_length:
        return torch.full((batch,), NULL_LABEL, dtype=torch.long)  # too short to analyse: no guess
    return pitch_labels(estimator.estimate(audio), pitch_range)
