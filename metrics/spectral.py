"""Spectral audio-quality metrics, batched in torch: reference [B, N], estimate [B, N] → [B].

* spectral convergence ‖|Y|−|X|‖_F / ‖|Y|‖_F (Y = reference), lower is better;
* log-spectral distance: per frame the RMS over bins of 20·log10(|Y|/|X|) in dB, averaged over
  frames; magnitudes are floored at ``eps`` first (a log without a floor gives NaN/inf on silence);
* multi-resolution STFT distance: mean over resolutions of SC + mean |ln|Y| − ln|X||, with the
  Parallel-WaveGAN / auraloss resolutions (FFT 1024/2048/512, hop 120/240/50, window 600/1200/240);
* masked log-spectral distance: the RMS of 20·log10(|Y|/|X|) over the bins a mask selects, pooled
  over frames (what an edit changed inside its region, or leaked outside it); NaN without any bin;
* SNR 10·log10(‖y‖² / ‖y − x‖²) in dB, higher is better.

Each measure is one class, the ``metrics`` registry plugin (``Params`` + ``higher_is_better``):
build it with ``registry("metrics").build(name, params)``, as a third-party metric is built.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from specinpaint.core.errors import AudioInputError

from .stft import check_pair, magnitude

EPS = 1e-8
PWG_FFT = (1024, 2048, 512)
PWG_HOP = (120, 240, 50)
PWG_WIN = (600, 1200, 240)


class _Metric:
    """Common shape of the metric plugins: ``metric(reference [B, N], estimate [B, N]) -> [B]``."""

    description: ClassVar[str] = ""
    higher_is_better: ClassVar[bool] = False
    unit: ClassVar[str] = ""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, params: BaseModel | None = None) -> None:
        self.params = params if params is not None else self.Params()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"


class SpectralConvergence(_Metric):
    description = "spectral convergence ||Y|-|X||_F / ||Y||_F of STFT magnitudes (lower is better)"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        n_fft: int = Field(2048, ge=16)
        hop_length: int = Field(512, ge=1)

    def __call__(self, reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        reference, estimate = check_pair(reference, estimate)
        ref = magnitude(reference, self.params.n_fft, self.params.hop_length)
        est = magnitude(estimate, self.params.n_fft, self.params.hop_length)
        return torch.linalg.vector_norm(ref - est, dim=(1, 2)) / (torch.linalg.vector_norm(ref, dim=(1, 2)) + EPS)


class LogSpectralDistance(_Metric):
    description = "log-spectral distance in dB (frame RMS of 20log10 magnitude ratios; lower is better)"
    unit = "dB"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        n_fft: int = Field(2048, ge=16)
        hop_length: int = Field(512, ge=1)
        eps: float = Field(1e-5, gt=0, description="magnitude floor (-100 dB) before the log")

    def __call__(self, reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        db = self.log_ratio_db(reference, estimate)  # [B, F, T]
        return db.pow(2).mean(dim=1).sqrt().mean(dim=1)

    def log_ratio_db(self, reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        """``[B, F, T]``: 20·log10 of the magnitude ratio per STFT bin, both floored at ``eps``."""
        p = self.params
        reference, estimate = check_pair(reference, estimate)
        ref = magnitude(reference, p.n_fft, p.hop_length).clamp_min(p.eps)
        est = magnitude(estimate, p.n_fft, p.hop_length).clamp_min(p.eps)
        return 20.0 * (torch.log10(ref) - torch.log10(est))


class MaskedLogSpectralDistance(LogSpectralDistance):
    """``metric(reference, estimate, where [B, F, T]) -> [B]``: LSD over the STFT bins ``where``
    selects (the bins of ``LogSpectralDistance``'s STFT with the same ``n_fft``/``hop_length``)."""

    description = "log-spectral distance in dB over the STFT bins a mask selects (RMS pooled over frames)"

    def __call__(self, reference: torch.Tensor, estimate: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        squared = self.log_ratio_db(reference, estimate).square()
        if tuple(where.shape) != tuple(squared.shape):
            raise AudioInputError(f"mask {tuple(where.shape)} does not match the STFT bins {tuple(squared.shape)}")
        count = where.sum(dim=(1, 2))
        total = torch.where(where, squared, torch.zeros_like(squared)).sum(dim=(1, 2))
        return (total / count.clamp_min(1)).sqrt().masked_fill(count == 0, float("nan"))


class MultiResolutionSTFTDistance(_Metric):
    description = "multi-resolution STFT distance (SC + log-magnitude L1, Parallel-WaveGAN resolutions)"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        fft_sizes: list[int] = Field(default_factory=lambda: list(PWG_FFT))
        hop_sizes: list[int] = Field(default_factory=lambda: list(PWG_HOP))
        win_lengths: list[int] = Field(default_factory=lambda: list(PWG_WIN))
        eps: float = Field(1e-7, gt=0)

        @model_validator(mode="after")
        def _same_length(self) -> MultiResolutionSTFTDistance.Params:
            if not len(self.fft_sizes) == len(self.hop_sizes) == len(self.win_lengths) or not self.fft_sizes:
                raise ValueError("fft_sizes, hop_sizes and win_lengths must have the same non-zero length")
            if any(w > n for w, n in zip(self.win_lengths, self.fft_sizes, strict=True)):
                raise ValueError("each win_length must be <= its fft_size")
            return self

    def __call__(self, reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        p = self.params
        reference, estimate = check_pair(reference, estimate)
        total = torch.zeros(reference.shape[0], dtype=reference.dtype, device=reference.device)
        for n_fft, hop, win in zip(p.fft_sizes, p.hop_sizes, p.win_lengths, strict=True):
            ref = magnitude(reference, n_fft, hop, win).clamp_min(p.eps)
            est = magnitude(estimate, n_fft, hop, win).clamp_min(p.eps)
            sc = torch.linalg.vector_norm(ref - est, dim=(1, 2)) / (torch.linalg.vector_norm(ref, dim=(1, 2)) + EPS)
            log_l1 = (ref.log() - est.log()).abs().mean(dim=(1, 2))
            total = total + sc + log_l1
        return total / len(p.fft_sizes)


class SignalToNoiseRatio(_Metric):
    description = "signal-to-noise ratio 10log10(|y|^2 / |y-x|^2) in dB (higher is better)"
    higher_is_better = True
    unit = "dB"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        eps: float = Field(1e-12, gt=0)

    def __call__(self, reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        reference, estimate = check_pair(reference, estimate)
        signal = reference.pow(2).sum(dim=-1)
        noise = (reference - estimate).pow(2).sum(dim=-1)
        return 10.0 * torch.log10((signal + self.params.eps) / (noise + self.params.eps))
