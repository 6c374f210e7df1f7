"""`harmonic_comb`: where a pitch's harmonics fall on a spectrogram's rows, as a soft 0..1 comb.

Why: the decoder has to put a note's harmonics on exact rows, finer than a code's span, and a
learned per-pitch table has to discover that layout from examples. The layout is known in
advance from the pitch and the representation's row frequencies, so the decoder can be handed it.
The mel inversion uses the same comb on the STFT's bins (``harmonic_inverse``), to put a band's
energy back on the partials it pooled.

Each row is scored by its distance in Hz to the nearest harmonic, through a Gaussian as wide as
the wider of the analysis resolution (a steady tone spreads over a few FFT bins) and a share of
the row's own spacing (where rows are coarser than the analysis). Harmonics closer than that
blend into a plateau, as they do in the spectrogram.
"""

from __future__ import annotations

import torch

from .conditioning import NULL_LABEL
from .region import axis_edges


def comb_widths_hz(bin_hz: torch.Tensor, width_rows: float = 0.5, width_hz: float = 0.0) -> torch.Tensor:
    """[F] increasing row centres → [F] Gaussian width of a harmonic on each row (Hz): the wider of
    ``width_hz`` and ``width_rows`` times the row's extent."""
    extent = axis_edges(bin_hz, "row frequency").diff().to(dtype=torch.float32, device=bin_hz.device)
    return (width_rows * extent).clamp_min(width_hz)


def harmonic_comb(pitch: torch.Tensor, bin_hz: torch.Tensor, width_rows: float = 0.5,
                  width_hz: float = 0.0, widths: torch.Tensor | None = None) -> torch.Tensor:
    """MIDI pitches [B] (NULL_LABEL: no pitch) → [B, F]: 1 on the rows of each harmonic, falling
    off as a Gaussian of ``max(width_hz, width_rows × row spacing)`` Hz (or of ``widths`` [F], from
    `comb_widths_hz`, when the caller keeps them); all zeros for the null pitch."""
    if widths is None:
        widths = comb_widths_hz(bin_hz, width_rows, width_hz)
    bin_hz = bin_hz.float().to(pitch.device)
    f0 = 440.0 * 2.0 ** ((pitch.float()[:, None] - 69.0) / 12.0)  # [B, 1]
    nearest = torch.clamp(torch.round(bin_hz[None, :] / f0), min=1.0)
    distance = bin_hz[None, :] - nearest * f0
    comb = torch.exp(-0.5 * (distance / widths.to(pitch.device)[None, :]) ** 2)
    return torch.where((pitch == NULL_LABEL)[:, None], torch.zeros_like(comb), comb)
