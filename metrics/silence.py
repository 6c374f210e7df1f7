"""Code entropy in silent regions: does a representation map silence to few codes?

The paper says its phase threshold turns silent zones into large regions of identical codes. To
measure that the same way for every variant, silence is defined on the **raw audio**, never on the
variant's own spectrogram (whose mel scale and clamping differ):

1. One fixed linear STFT of the raw audio (Hann, ``n_fft``/``hop`` from the study), levels in dB
   relative to a full-scale sine (a sine of amplitude 1 peaks at 0 dB).
2. Each cell of a codemap level covers a block of the variant's spectrogram rows and frames; the
   rows' centre frequencies (``Representation.bin_frequencies_hz``) and frame times
   (``frame_times_s``) turn the block into a span of Hz × seconds.
3. The cell is *silent* when the loudest STFT bin inside that span is below ``silence_db``.

The entropy (bits) of the histogram of codes over all silent cells of all notes is the score:
0 bits when silence always gets the same code.
"""

from __future__ import annotations

import math

import torch


def stft_level_db(audio: torch.Tensor, sample_rate: int, n_fft: int = 2048, hop: int = 512
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Audio [B, N] → (level dB [B, K, T'], bin frequencies Hz [K], frame centre times s [T'])."""
    window = torch.hann_window(n_fft, device=audio.device, dtype=audio.dtype)
    spec = torch.stft(audio, n_fft, hop, window=window, center=True, return_complex=True)
    amplitude = spec.abs() / (window.sum() / 2)  # full-scale sine → 1
    level = 20 * torch.log10(amplitude.clamp_min(1e-10))
    freqs = torch.arange(spec.shape[-2], dtype=torch.float64) * sample_rate / n_fft
    times = torch.arange(spec.shape[-1], dtype=torch.float64) * hop / sample_rate
    return level, freqs, times


def centre_edges(centres: torch.Tensor) -> torch.Tensor:
    """[F] increasing centres → [F + 1] edges at the midpoints (ends extended by half a step)."""
    c = centres.double().flatten()
    if c.numel() == 1:
        return torch.stack([c[0] - 0.5, c[0] + 0.5])
    mid = (c[1:] + c[:-1]) / 2
    return torch.cat([c[:1] - (c[1] - c[0]) / 2, mid, c[-1:] + (c[-1] - c[-2]) / 2])


def block_edges(centres: torch.Tensor, cells: int) -> torch.Tensor:
    """Edges [cells + 1] of ``cells`` equal blocks of consecutive rows (or frames)."""
    edges = centre_edges(centres)
    n = centres.numel()
    if cells < 1 or cells > n:
        raise ValueError(f"cannot split {n} rows into {cells} cells")
    index = torch.round(torch.linspace(0, n, cells + 1)).long()
    return edges[index]


def _span(axis: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    inside = (axis >= lo) & (axis < hi)
    if not bool(inside.any()):  # narrower than one STFT bin/frame: the nearest one
        inside = torch.zeros_like(inside)
        inside[int(torch.argmin((axis - (lo + hi) / 2).abs()))] = True
    return inside


def cell_max_db(level_db: torch.Tensor, freqs: torch.Tensor, times: torch.Tensor,
                row_edges_hz: torch.Tensor, col_edges_s: torch.Tensor) -> torch.Tensor:
    """Loudest level [B, R, C] inside each cell's frequency × time span."""
    rows = [level_db[:, _span(freqs, float(row_edges_hz[r]), float(row_edges_hz[r + 1])).to(level_db.device), :]
            .amax(dim=1) for r in range(row_edges_hz.numel() - 1)]
    by_row = torch.stack(rows, dim=1)  # [B, R, T']
    cols = [by_row[..., _span(times, float(col_edges_s[c]), float(col_edges_s[c + 1])).to(level_db.device)]
            .amax(dim=-1) for c in range(col_edges_s.numel() - 1)]
    return torch.stack(cols, dim=-1)


def silent_cells(audio: torch.Tensor, representation, codemap_shape: tuple[int, int], num_samples: int,
                 silence_db: float = -60.0, n_fft: int = 2048, hop: int = 512) -> torch.Tensor:
    """Boolean [B, Fl, Tl]: which cells of a codemap level cover silence in the raw ``audio``."""
    _, num_rows, num_frames = representation.output_shape(num_samples)
    centres = representation.bin_frequencies_hz().detach().cpu()
    times_centres = representation.frame_times_s(num_frames).detach().cpu()
    row_edges = block_edges(centres, codemap_shape[0])
    col_edges = block_edges(times_centres, codemap_shape[1])
    level, freqs, times = stft_level_db(audio.detach().float().cpu(), representation.sample_rate, n_fft, hop)
    return cell_max_db(level, freqs, times, row_edges, col_edges) < silence_db


def code_entropy_bits(codes: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[float, int, int]:
    """(entropy in bits, distinct codes, cells) of the codes where ``mask`` is True.
    No selected cells → (nan, 0, 0): undefined, reported as n/a."""
    selected = codes[mask] if mask is not None else codes.flatten()
    if selected.numel() == 0:
        return math.nan, 0, 0
    _, counts = torch.unique(selected, return_counts=True)
    p = counts.double() / counts.sum()
    entropy = float(-(p * torch.log2(p)).sum())
    return max(entropy, 0.0), int(counts.numel()), int(selected.numel())
