"""GANSynth's mel filterbank with a configurable break frequency (built once, in float64, with NumPy).

The recipe is magenta's ``linear_to_mel_weight_matrix`` (GANSynth's recipe, and the paper's
variant of it):

* mel(f) = Q·ln(1 + f/f_b); Q = 1127 at f_b = 700 Hz (GANSynth), otherwise Q = 1000/ln(1 + 1000/f_b)
  so that 1000 mel = 1000 Hz (the paper's PyTorch port).
* Matrix rows are the frequencies ``linspace(0, sr/2, n_fft//2)`` (not the true STFT bin centres:
  magenta's grid mismatch is kept on purpose), the first (DC) row is zero (HTK convention).
* ``n_mels + 2`` edges evenly spaced in mel between ``f_min`` and ``f_max``; each band narrower than
  ``min_band_width_bins × (sr/2)/(n_fft//2)`` Hz is widened symmetrically in mel.
* Triangle slopes are linear in Hz between the (widened) edges.

``magenta_edge_aliasing=True`` reproduces a quirk of magenta's TensorFlow-era NumPy code literally: its
lower/centre/upper edge arrays are *views* of one array, so widening band i moves the centre of band
i+1. The result is a quasi-linear filterbank (centres ~5.9 Hz apart up to ~5 kHz at 700 Hz, only 85 of
1024 centres below 500 Hz instead of 219). The paper's PyTorch port copied the arrays, so the default
(False) is the intended mel scale that both the port and the paper's figures show.
"""

from __future__ import annotations

import functools
import math

import numpy as np

GANSYNTH_BREAK_HZ = 700.0
GANSYNTH_Q = 1127.0


def mel_q(break_hz: float) -> float:
    """High-frequency Q for a break frequency (1127 at 700 Hz, else 1000 mel = 1000 Hz)."""
    if break_hz == GANSYNTH_BREAK_HZ:
        return GANSYNTH_Q
    return 1000.0 / math.log1p(1000.0 / break_hz)


def hz_to_mel(hz: np.ndarray | float, break_hz: float = GANSYNTH_BREAK_HZ) -> np.ndarray:
    return mel_q(break_hz) * np.log1p(np.asarray(hz, dtype=np.float64) / break_hz)


def mel_to_hz(mel: np.ndarray | float, break_hz: float = GANSYNTH_BREAK_HZ) -> np.ndarray:
    return break_hz * np.expm1(np.asarray(mel, dtype=np.float64) / mel_q(break_hz))


def _band_edges(
    n_mels: int, n_bins: int, sample_rate: int, f_min: float, f_max: float, break_hz: float,
    min_band_width_bins: float, aliasing: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower, centre, upper) band edges in Hz after widening, each [n_mels]."""
    q = mel_q(break_hz)
    edges = np.linspace(hz_to_mel(f_min, break_hz), hz_to_mel(f_max, break_hz), n_mels + 2)
    if aliasing:  # three overlapping views of one array, as in magenta
        lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    else:
        lower, centre, upper = edges[:-2].copy(), edges[1:-1].copy(), edges[2:].copy()
    threshold_hz = min_band_width_bins * (sample_rate / 2.0) / n_bins
    if threshold_hz > 0:
        for i in range(n_mels):  # sequential on purpose: with aliasing, band i changes band i+1
            if mel_to_hz(upper[i], break_hz) - mel_to_hz(lower[i], break_hz) < threshold_hz:
                rhs = 0.5 * threshold_hz / (mel_to_hz(centre[i], break_hz) + break_hz)
                half_width = q * math.asinh(rhs)
                lower[i] = centre[i] - half_width
                upper[i] = centre[i] + half_width
    return mel_to_hz(lower, break_hz), mel_to_hz(centre, break_hz), mel_to_hz(upper, break_hz)


@functools.lru_cache(maxsize=16)
def _cached(
    n_mels: int, n_fft: int, sample_rate: int, f_min: float, f_max: float, break_hz: float,
    min_band_width_bins: float, aliasing: bool,
) -> tuple[np.ndarray, np.ndarray]:
    n_bins = n_fft // 2
    lower, centre, upper = _band_edges(
        n_mels, n_bins, sample_rate, f_min, f_max, break_hz, min_band_width_bins, aliasing
    )
    freqs = np.linspace(0.0, sample_rate / 2.0, n_bins)[1:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        rising = (freqs - lower[None]) / (centre - lower)[None]
        falling = (upper[None] - freqs) / (upper - centre)[None]
    weights = np.nan_to_num(np.maximum(0.0, np.minimum(rising, falling)), nan=0.0, posinf=0.0)
    weights = np.concatenate([np.zeros((1, n_mels)), weights], axis=0)
    weights.setflags(write=False)
    centre.setflags(write=False)
    return weights, centre


def mel_weight_matrix(
    n_mels: int = 1024,
    n_fft: int = 2048,
    sample_rate: int = 16000,
    f_min_hz: float = 0.0,
    f_max_hz: float = 8000.0,
    break_hz: float = GANSYNTH_BREAK_HZ,
    min_band_width_bins: float = 1.5,
    magenta_edge_aliasing: bool = False,
) -> np.ndarray:
    """Float64 matrix ``M`` of shape [n_fft//2, n_mels]: ``mel_power = linear_power @ M``.

    Cached per argument tuple (several representations in one process share one build)."""
    if not 0.0 <= f_min_hz < f_max_hz <= sample_rate / 2.0:
        raise ValueError(f"mel band edges must satisfy 0 <= f_min < f_max <= sr/2, got {f_min_hz}, {f_max_hz}")
    weights, _ = _cached(
        n_mels, n_fft, sample_rate, float(f_min_hz), float(f_max_hz), float(break_hz),
        float(min_band_width_bins), bool(magenta_edge_aliasing),
    )
    return weights


def mel_band_centres_hz(
    n_mels: int = 1024,
    n_fft: int = 2048,
    sample_rate: int = 16000,
    f_min_hz: float = 0.0,
    f_max_hz: float = 8000.0,
    break_hz: float = GANSYNTH_BREAK_HZ,
    min_band_width_bins: float = 1.5,
    magenta_edge_aliasing: bool = False,
) -> np.ndarray:
    """Centre frequency (Hz) of each mel band, low → high, [n_mels]."""
    mel_weight_matrix(n_mels, n_fft, sample_rate, f_min_hz, f_max_hz, break_hz, min_band_width_bins,
                      magenta_edge_aliasing)
    _, centre = _cached(
        n_mels, n_fft, sample_rate, float(f_min_hz), float(f_max_hz), float(break_hz),
        float(min_band_width_bins), bool(magenta_edge_aliasing),
    )
    return centre


def magenta_pseudo_inverse(weights: np.ndarray) -> np.ndarray:
    """magenta's mel → linear map ``Mᵀ · diag(1/colsum(M·Mᵀ))`` ([n_mels, n_bins]); entries whose
    column sum is ≤ 1e-8 in magnitude keep the raw sum (as magenta does)."""
    gram = weights @ weights.T
    sums = gram.sum(axis=0)
    scale = np.where(np.abs(sums) > 1e-8, 1.0 / np.where(np.abs(sums) > 1e-8, sums, 1.0), sums)
    return weights.T * scale[None, :]
