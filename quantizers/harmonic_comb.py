"""`harmonic_comb`: where a pitch's harmonics fall on a spectrogram's rows, as a soft 0..1 comb.

Why: the decoder has to put a note's harmonics on exact rows, finer than a code's span, and a
learned per-pitch table has to discover that layout from examples. The layout is known in
advance from the pitch and the representation's row frequencies, so the decoder can be handed it.
"""

from __future__ import annotations

import torch

from specinpaint.core.conditioning import NULL_LABEL

#: Harmonics placed per note (enough to reach 8 kHz from MIDI 24, 32.7 Hz).
MAX_HARMONICS = 256


def fractional_rows(hz: torch.Tensor, bin_hz: torch.Tensor) -> torch.Tensor:
    """Frequencies ``hz`` (any shape) → fractional row indices on rows centred at ``bin_hz`` [F]
    (increasing), linear between centres; below the first or above the last centre: NaN."""
    f = bin_hz.numel()
    upper = torch.searchsorted(bin_hz, hz.contiguous()).clamp(1, f - 1)
    lo, hi = bin_hz[upper - 1], bin_hz[upper]
    rows = upper - 1 + (hz - lo) / (hi - lo)
    outside = (hz < bin_hz[0]) | (hz > bin_hz[-1])
    return torch.where(outside, torch.full_like(rows, float("nan")), rows)


def harmonic_comb(pitch: torch.Tensor, bin_hz: torch.Tensor, width_rows: float = 0.5) -> torch.Tensor:
    """MIDI pitches [B] (NULL_LABEL: no pitch) → [B, F]: 1 on the rows of each harmonic, falling
    off as a Gaussian of ``width_rows`` rows; all zeros for the null pitch. Harmonics closer than
    a row blend into a plateau, as they do in the spectrogram."""
    bin_hz = bin_hz.float()
    f0 = 440.0 * 2.0 ** ((pitch.float() - 69.0) / 12.0)
    harmonics = torch.arange(1, MAX_HARMONICS + 1, dtype=torch.float32, device=pitch.device)
    rows = fractional_rows(f0[:, None] * harmonics, bin_hz)  # [B, H]
    grid = torch.arange(bin_hz.numel(), dtype=torch.float32, device=pitch.device)
    bumps = torch.exp(-0.5 * ((grid[None, None, :] - rows[:, :, None]) / width_rows) ** 2)
    comb = torch.nan_to_num(bumps, nan=0.0).amax(dim=1)
    return torch.where((pitch == NULL_LABEL)[:, None], torch.zeros_like(comb), comb)
