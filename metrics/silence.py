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
0 bits when silence always gets the same code. `SilentCodeEntropy` is the ``silent-code-entropy``
plugin of the ``metrics`` registry: ``silent_cells`` marks the cells of each batch, the call scores
the codes of every batch at once (an entropy does not add up over batches).
"""

from __future__ import annotations

import math
from typing import ClassVar, NamedTuple

import torch
from pydantic import BaseModel, ConfigDict, Field


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


class SilentCodes(NamedTuple):
    """The score of the codes in silent cells; ``entropy_bits`` is NaN (n/a) without any."""

    entropy_bits: float
    distinct_codes: int
    cells: int


class SilentCodeEntropy:
    """``metric(codes, silent) -> SilentCodes``: entropy of the codes where ``silent`` is True."""

    description = "entropy (bits) of the codes in codemap cells that are silent in the raw audio (lower is better)"
    higher_is_better: ClassVar[bool] = False
    unit: ClassVar[str] = "bits"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        silence_db: float = Field(-60.0, description="a cell is silent below this level of the raw audio (dBFS)")
        n_fft: int = Field(2048, ge=16, description="FFT size of the linear STFT that defines silence")
        hop: int = Field(512, ge=1)

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else self.Params()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"

    def silent_cells(self, audio: torch.Tensor, representation, codemap_shape: tuple[int, int],
                     num_samples: int) -> torch.Tensor:
        """Boolean [B, Fl, Tl]: which cells of a codemap level cover silence in the raw ``audio``
        (the cell geometry comes from ``representation``: rows' Hz and frames' times)."""
        p = self.params
        _, num_rows, num_frames = representation.output_shape(num_samples)
        centres = representation.bin_frequencies_hz().detach().cpu()
        times_centres = representation.frame_times_s(num_frames).detach().cpu()
        row_edges = block_edges(centres, codemap_shape[0])
        col_edges = block_edges(times_centres, codemap_shape[1])
        level, freqs, times = stft_level_db(audio.detach().float().cpu(), representation.sample_rate, p.n_fft, p.hop)
        return cell_max_db(level, freqs, times, row_edges, col_edges) < p.silence_db

    def __call__(self, codes: torch.Tensor, silent: torch.Tensor | None = None) -> SilentCodes:
        """Entropy, distinct codes and count of the ``codes`` where ``silent`` is True (all of them
        when None). No selected cell → (nan, 0, 0): undefined, reported as n/a."""
        selected = codes[silent] if silent is not None else codes.flatten()
        if selected.numel() == 0:
            return SilentCodes(math.nan, 0, 0)
        _, counts = torch.unique(selected, return_counts=True)
        p = counts.double() / counts.sum()
        entropy = float(-(p * torch.log2(p)).sum())
        return SilentCodes(max(entropy, 0.0), int(counts.numel()), int(selected.numel()))
