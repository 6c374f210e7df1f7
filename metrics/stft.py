"""Batched STFT magnitudes shared by the spectral metrics (torch, any device)."""

from __future__ import annotations

import torch

from specinpaint.core.errors import AudioInputError


def check_pair(reference: torch.Tensor, estimate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both as float [B, N] with identical shapes (a [N] pair becomes [1, N])."""
    reference = torch.as_tensor(reference)
    estimate = torch.as_tensor(estimate)
    if reference.dim() == 1:
        reference = reference.unsqueeze(0)
    if estimate.dim() == 1:
        estimate = estimate.unsqueeze(0)
    if reference.dim() != 2 or reference.shape != estimate.shape:
        raise AudioInputError(
            f"metric inputs must both be [B, N] with the same shape, got {tuple(reference.shape)} "
            f"and {tuple(estimate.shape)}"
        )
    if reference.shape[-1] == 0:
        raise AudioInputError("metric inputs are empty")
    if not reference.is_floating_point():
        reference = reference.float()
    return reference, estimate.to(reference.dtype)


def magnitude(audio: torch.Tensor, n_fft: int, hop_length: int, win_length: int | None = None) -> torch.Tensor:
    """|STFT| of [B, N] → [B, F, T] (Hann window, centred, zero padding)."""
    win_length = win_length or n_fft
    window = torch.hann_window(win_length, device=audio.device, dtype=audio.dtype)
    spec = torch.stft(
        audio, n_fft, hop_length=hop_length, win_length=win_length, window=window,
        center=True, pad_mode="constant", return_complex=True,
    )
    return spec.abs()
