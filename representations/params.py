"""Pydantic parameter models shared by the STFT-IF and Mel-IF representations."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PAPER_PHASE_THRESHOLD = math.log(2e-6)
"""log(2·1e-6) ≈ -13.12: the paper's threshold on log-mel power (GANsynth-pytorch ``mask_phase``)."""


class StftParams(BaseModel):
    """STFT geometry and the log/IF recipe (defaults: GANSynth at 16 kHz)."""

    model_config = ConfigDict(extra="forbid")

    sample_rate: int = Field(16000, gt=0, description="Hz; audio at other rates is resampled by core.audio")
    n_fft: int = Field(2048, ge=16, description="FFT and window length (even); n_fft/2 frequency rows")
    hop_length: int = Field(512, ge=1, description="frame step in samples (at most n_fft/2)")
    eps: float = Field(1e-6, gt=0, description="offset inside log(|X| + eps) and log(mel power + eps)")
    phase_threshold: float | None = Field(
        None, description="channel-0 level at or below which IF is set to 0 and the level clamped to it; "
        "null disables (the paper: log(2e-6) on log-mel power)",
    )
    layout: Literal["magenta", "notono"] = Field(
        "magenta", description="magenta: periodic Hann, left pad, DC dropped; notono: the paper's PyTorch "
        "port (symmetric Hann, centred STFT, Nyquist dropped, last frame repeated twice)",
    )
    restore_dropped_bin: bool = Field(
        True, description="inverse rebuilds the dropped DC/Nyquist bin exactly from the window's zero first "
        "sample (False: zeros, as magenta and the port do). Exact for spectrograms of real audio; on "
        "inconsistent ones (model outputs) the rebuilt bin absorbs their error, so Mel-IF defaults to False",
    )

    @model_validator(mode="after")
    def _check_geometry(self) -> StftParams:
        if self.n_fft % 2:
            raise ValueError(f"n_fft must be even, got {self.n_fft}")
        if self.hop_length > self.n_fft // 2:
            raise ValueError(f"hop_length {self.hop_length} must be at most n_fft/2 = {self.n_fft // 2}")
        return self
