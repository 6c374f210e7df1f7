"""Deterministic synthetic instrument-like notes for tests and benchmarks (no data files needed):
harmonic partials with vibrato, an attack/decay envelope and a little noise."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def midi_to_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


def harmonic_note(
    pitch: float,
    num_samples: int = 64000,
    sample_rate: int = 16000,
    velocity: float = 1.0,
    vibrato_depth: float = 0.006,
    vibrato_hz: float = 5.0,
    decay_per_s: float = 1.2,
    noise_level: float = 1e-3,
    brightness: float = 0.6,
    seed: int = 0,
) -> torch.Tensor:
    """One note [num_samples]: partials k·f0 (amplitude brightness^k, below 0.95·Nyquist) with
    sinusoidal vibrato, 10 ms attack, exponential decay, a 0.3 s release to silence at the end, and
    white noise at ``noise_level`` (relative to full scale, also scaled by ``velocity``)."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(num_samples, dtype=torch.float64) / sample_rate
    f0 = midi_to_hz(pitch)
    freq = f0 * (1.0 + vibrato_depth * torch.sin(2 * math.pi * vibrato_hz * t))
    phase = 2 * math.pi * torch.cumsum(freq, 0) / sample_rate
    count = max(1, min(63, int(0.95 * sample_rate / 2 / (f0 * (1 + vibrato_depth)))))
    k = torch.arange(1, count + 1, dtype=torch.float64)[:, None]
    signal = (brightness ** (k - 1) * torch.sin(k * phase[None] + 0.7 * k)).sum(dim=0)
    duration = num_samples / sample_rate
    release = torch.clamp((duration - t) / 0.3, 0.0, 1.0)
    envelope = torch.clamp(t / 0.01, max=1.0) * torch.exp(-decay_per_s * t) * release
    note = 0.3 * signal / signal.abs().max().clamp_min(1e-9) * envelope
    noise = noise_level * torch.randn(num_samples, generator=generator, dtype=torch.float64)
    return (velocity * (note + noise)).float()


def note_batch(
    pitches: Sequence[float], num_samples: int = 64000, sample_rate: int = 16000, **kwargs
) -> torch.Tensor:
    """[len(pitches), num_samples] notes with different seeds."""
    return torch.stack(
        [harmonic_note(p, num_samples, sample_rate, seed=i, **kwargs) for i, p in enumerate(pitches)]
    )
