"""Log-magnitude STFT representation with Griffin-Lim phase recovery.

Phase is discarded, so decode estimates it iteratively (Griffin & Lim, 1984). Quality is below the
IF-based representations; the point of this package is to show a third-party plugin.
"""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field

from specinpaint.core import AudioInputError, Representation


class LogStftGriffinLim(Representation):
    """Log-magnitude STFT (1 channel, DC dropped) with Griffin-Lim inversion."""

    description = "Log-magnitude STFT, Griffin-Lim inversion (example third-party plugin)"
    channel_names = ("log_magnitude",)

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        sample_rate: int = Field(16000, gt=0)
        n_fft: int = Field(1024, ge=16)
        hop_length: int = Field(256, ge=1)
        griffin_lim_iters: int = Field(32, ge=0)
        momentum: float = Field(0.99, ge=0, lt=1)
        eps: float = Field(1e-6, gt=0)

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self.register_buffer("window", torch.hann_window(params.n_fft), persistent=False)

    @property
    def sample_rate(self) -> int:
        return self.params.sample_rate

    def _stft(self, audio: torch.Tensor) -> torch.Tensor:
        p = self.params
        return torch.stft(audio, p.n_fft, p.hop_length, window=self.window, center=True, return_complex=True)

    def _istft(self, stft: torch.Tensor, length: int) -> torch.Tensor:
        p = self.params
        return torch.istft(stft, p.n_fft, p.hop_length, window=self.window, center=True, length=length)

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        if audio.dim() != 2:
            raise AudioInputError(f"audio must be [B, N], got {tuple(audio.shape)}")
        if not torch.isfinite(audio).all():
            raise AudioInputError("audio contains NaN or infinite samples")
        magnitude = self._stft(audio).abs()[:, 1:]  # drop DC: n_fft/2 rows
        return torch.log(magnitude + self.params.eps).unsqueeze(1)

    def decode(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        magnitude = (spec[:, 0].exp() - self.params.eps).clamp_min(0)
        magnitude = torch.cat([torch.zeros_like(magnitude[:, :1]), magnitude], dim=1)  # DC back
        angles = torch.exp(2j * torch.pi * torch.rand(magnitude.shape, generator=torch.Generator().manual_seed(0)))
        angles = angles.to(magnitude.device)
        previous = torch.zeros_like(magnitude, dtype=angles.dtype)
        for _ in range(self.params.griffin_lim_iters):  # fast Griffin-Lim (Perraudin et al. 2013)
            rebuilt = self._stft(self._istft(magnitude * angles, length))
            accelerated = rebuilt - self.params.momentum / (1 + self.params.momentum) * previous
            angles = accelerated / accelerated.abs().clamp_min(1e-16)
            previous = rebuilt
        return self._istft(magnitude * angles, length)

    def output_shape(self, num_samples: int) -> tuple[int, int, int]:
        return (1, self.params.n_fft // 2, num_samples // self.params.hop_length + 1)

    def bin_frequencies_hz(self) -> torch.Tensor:
        p = self.params
        return torch.arange(1, p.n_fft // 2 + 1, dtype=torch.float32) * p.sample_rate / p.n_fft

    def frame_times_s(self, num_frames: int) -> torch.Tensor:
        return torch.arange(num_frames, dtype=torch.float32) * self.params.hop_length / self.params.sample_rate
