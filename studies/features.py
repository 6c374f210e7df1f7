"""Fixed audio features for the evaluation's classifiers: a plain log-mel spectrogram.

Fixed on purpose: the classifier must judge audio the same way whatever representation a
pipeline uses, so its features come from the waveform, never from the pipeline."""

from __future__ import annotations

import functools

import torch

SAMPLE_RATE = 16000
N_FFT = 1024
HOP = 512
N_MELS = 64


@functools.lru_cache(maxsize=4)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int) -> torch.Tensor:
    import librosa

    basis = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=20.0, fmax=sample_rate / 2)
    return torch.from_numpy(basis).float()


def log_mel(audio: torch.Tensor, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Audio ``[B, N]`` → log-mel power in dB relative to full scale, ``[B, 1, N_MELS, frames]``,
    floored at -100 dB so silence is a constant."""
    audio = torch.as_tensor(audio, dtype=torch.float32)
    if audio.dim() == 1:
        audio = audio[None]
    window = torch.hann_window(N_FFT, device=audio.device)
    spec = torch.stft(audio, N_FFT, HOP, window=window, center=True, return_complex=True)
    power = spec.real.square() + spec.imag.square()
    mel = torch.matmul(_mel_basis(sample_rate, N_FFT, N_MELS).to(audio.device), power)
    return (10.0 * torch.log10(mel.clamp_min(1e-10))).clamp_min(-100.0)[:, None]
