"""Multi-resolution STFT loss on decoded audio (optional term of the VQ-VAE objective).

Spectral convergence plus L1 on log magnitudes, averaged over FFT sizes (hop = n_fft / 4, Hann
window), the common recipe (DDSP/Parallel WaveGAN). It compares the decoded audio with the audio
that went in, so the representation's own inverse is inside the loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _magnitude(audio: torch.Tensor, n_fft: int) -> torch.Tensor:
    window = torch.hann_window(n_fft, device=audio.device, dtype=audio.dtype)
    spec = torch.stft(audio, n_fft, hop_length=n_fft // 4, window=window, center=True, return_complex=True)
    return spec.abs().clamp(min=1e-7)


def multi_resolution_stft_loss(
    prediction: torch.Tensor, target: torch.Tensor, fft_sizes: Sequence[int] = (512, 1024, 2048)
) -> torch.Tensor:
    """Audio [B, N] × [B, N] → scalar (fp32). FFT sizes longer than the signal are skipped."""
    prediction, target = prediction.float(), target.float()
    length = min(prediction.shape[-1], target.shape[-1])
    prediction, target = prediction[..., :length], target[..., :length]
    terms = []
    for n_fft in fft_sizes:
        if n_fft > length:
            continue
        pred, ref = _magnitude(prediction, n_fft), _magnitude(target, n_fft)
        convergence = torch.linalg.vector_norm(ref - pred, dim=(-2, -1)) / torch.linalg.vector_norm(ref, dim=(-2, -1))
        log_l1 = (ref.log() - pred.log()).abs().mean(dim=(-2, -1))
        terms.append((convergence + log_l1).mean())
    if not terms:
        return prediction.new_zeros(())
    return torch.stack(terms).mean()


def level_convergence_loss(prediction: torch.Tensor, target: torch.Tensor, power: bool) -> torch.Tensor:
    """Spectral convergence of the linear magnitudes behind a log level channel ``[B, F, T]``:
    ``‖exp(ŷ) − exp(y)‖ / ‖exp(y)‖`` per note, averaged (``power``: the channel is log power, so the
    magnitude is ``exp(y / 2)``).

    Why: a squared error on log levels treats a harmonic peak and the noise floor alike, and its
    blur lowers the peaks (the decoded note comes out quiet and its pitch fades). In linear
    magnitude the loud bins dominate, so this term keeps the harmonics and the level."""
    scale = 0.5 if power else 1.0
    pred, ref = (prediction.float() * scale).exp(), (target.float() * scale).exp()
    norm = torch.linalg.vector_norm(ref, dim=(-2, -1)).clamp_min(1e-7)
    return (torch.linalg.vector_norm(ref - pred, dim=(-2, -1)) / norm).mean()
