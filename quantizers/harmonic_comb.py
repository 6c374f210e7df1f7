"""`harmonic_comb`: where a pitch's harmonics fall on a spectrogram's rows, as a soft 0..1 comb.

Why: the decoder has to put a note's harmonics on exact rows, finer than a code's span, and a
learned per-pitch table has to discover that layout from examples. The layout is known in
advance from the pitch and the representation's row frequencies, so the decoder can be handed it.

Each row is scored by its distance in Hz to the nearest harmonic, through a Gaussian as wide as
the wider of the analysis resolution (a steady tone spreads over a few FFT bins) and a share of
the row's own spacing (where rows are coarser than the analysis). Harmonics closer than that
blend into a plateau, as they do in the spectrogram.
"""

from __future__ import annotations

import torch

from specinpaint.core.conditioning import NULL_LABEL


def row_spacing_hz(bin_hz: torch.Tensor) -> torch.Tensor:
    """[F] increasing row centres → [F] distance between each row's neighbours, halved (the
    one-sided difference at both ends)."""
    if bin_hz.numel() < 2:
        return torch.ones_like(bin_hz)
    inner = (bin_hz[2:] - bin_hz[:-2]) / 2
    return torch.cat([bin_hz[1:2] - bin_hz[:1], inner, bin_hz[-1:] - bin_hz[-2:-1]])


def harmonic_comb(pitch: torch.Tensor, bin_hz: torch.Tensor, width_rows: float = 0.5,
                  width_hz: float = 0.0) -> torch.Tensor:
    """MIDI pitches [B] (NULL_LABEL: no pitch) → [B, F]: 1 on the rows of each harmonic, falling
    off as a Gaussian of ``max(width_hz, width_rows × row spacing)`` Hz; all zeros for the null
    pitch."""
    bin_hz = bin_hz.float().to(pitch.device)
    f0 = 440.0 * 2.0 ** ((pitch.float()[:, None] - 69.0) / 12.0)  # [B, 1]
    nearest = torch.clamp(torch.round(bin_hz[None, :] / f0), min=1.0)
    distance = bin_hz[None, :] - nearest * f0
    sigma = torch.clamp(width_rows * row_spacing_hz(bin_hz), min=width_hz)[None, :]
    comb = torch.exp(-0.5 * (distance / sigma) ** 2)
    return torch.where((pitch == NULL_LABEL)[:, None], torch.zeros_like(comb), comb)
