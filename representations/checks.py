"""Input checks and the phase threshold shared by every representation.

Bad-input policy (module-level so every entry point applies the same rules):

* Audio must be a float tensor ``[B, N]`` at the representation's sample rate. Other ranks raise
  ``AudioInputError`` (use ``specinpaint.core.audio.prepare_batch`` for [N] arrays, stereo → mono
  averaging, resampling and pad/crop; those policies live in ``core/audio.py`` and are not duplicated).
* NaN or ±inf anywhere raises ``AudioInputError``. Silence is fine (no NaN anywhere, IF = 0).
* Spectrograms must be ``[B, C, F, T]`` with the representation's C and F; otherwise ``SpecinpaintError``.
"""

from __future__ import annotations

import torch

from specinpaint.core.audio import check_finite
from specinpaint.core.errors import AudioInputError, SpecinpaintError


def check_audio(audio: torch.Tensor, min_samples: int = 1) -> torch.Tensor:
    if not isinstance(audio, torch.Tensor):
        raise AudioInputError(f"audio must be a torch tensor [B, N], got {type(audio).__name__}")
    if audio.dim() != 2:
        raise AudioInputError(f"audio must be [B, N] (batch, samples), got shape {tuple(audio.shape)}")
    if audio.shape[-1] < min_samples:
        raise AudioInputError(f"audio needs at least {min_samples} samples, got {audio.shape[-1]}")
    if not audio.is_floating_point():
        audio = audio.float()
    check_finite(audio)
    return audio


def check_spectrogram(spec: torch.Tensor, channels: int, bins: int, what: str) -> None:
    if not isinstance(spec, torch.Tensor) or spec.dim() != 4:
        shape = tuple(spec.shape) if isinstance(spec, torch.Tensor) else type(spec).__name__
        raise SpecinpaintError(f"{what} expects a spectrogram [B, {channels}, {bins}, T], got {shape}")
    if spec.shape[1] != channels or spec.shape[2] != bins:
        raise SpecinpaintError(
            f"{what} expects a spectrogram [B, {channels}, {bins}, T], got {tuple(spec.shape)}"
        )


def apply_phase_threshold(spec: torch.Tensor, threshold: float | None) -> torch.Tensor:
    """The paper's "masked phase": where channel 0 (log power / log magnitude) is at or below
    ``threshold``, clamp it to ``threshold`` and set channel 1 (IF) to exactly 0. Idempotent."""
    if threshold is None:
        return spec
    level, inst_freq = spec[:, 0], spec[:, 1]
    below = level <= threshold
    level = torch.clamp(level, min=threshold)
    inst_freq = torch.where(below, torch.zeros_like(inst_freq), inst_freq)
    return torch.stack([level, inst_freq], dim=1)
