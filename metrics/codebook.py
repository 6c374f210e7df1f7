"""Codebook statistics from integer code tensors: usage histogram, perplexity, dead-code fraction.

Perplexity = exp(entropy of the code-usage distribution): K when every code is used equally, 1
when a single code is used (collapse). A code is *dead* when it is used at most ``dead_threshold``
times in the codes given.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from specinpaint.core.errors import SpecinpaintError


def usage_histogram(codes: torch.Tensor, codebook_size: int) -> torch.Tensor:
    """Counts per code, LongTensor [codebook_size], from codes of any shape."""
    codes = torch.as_tensor(codes)
    if codes.is_floating_point() or codes.is_complex():
        raise SpecinpaintError(f"codes must be an integer tensor, got {codes.dtype}")
    flat = codes.reshape(-1).long()
    if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= codebook_size):
        raise SpecinpaintError(
            f"codes must lie in 0..{codebook_size - 1}, got {int(flat.min())}..{int(flat.max())}"
        )
    return torch.bincount(flat, minlength=codebook_size)


@dataclass(frozen=True)
class CodebookStats:
    histogram: torch.Tensor  # [K] counts
    perplexity: float
    dead_fraction: float
    used: int
    codebook_size: int


def codebook_stats(codes: torch.Tensor, codebook_size: int, dead_threshold: int = 0) -> CodebookStats:
    """Usage histogram, perplexity, dead fraction and used codes of ``codes`` (any shape) in one pass."""
    counts = usage_histogram(codes, codebook_size)
    total = counts.sum()
    if total > 0:
        p = counts.double() / total
        ppl = float((-(p[p > 0] * p[p > 0].log()).sum()).exp())
    else:
        ppl = 0.0
    return CodebookStats(
        histogram=counts, perplexity=ppl, dead_fraction=float((counts <= dead_threshold).double().mean()),
        used=int((counts > 0).sum()), codebook_size=codebook_size,
    )


def cell_entropy_bits(codes: torch.Tensor, codebook_size: int) -> float:
    """Mean over codemap cells of the entropy (bits) of that cell's code across the notes of
    ``codes [N, F, T]``: how much a level's codes differ from note to note. 0 = every note gets
    the same map (the level has collapsed and carries nothing about the note, whatever its
    perplexity over positions); at most log2(N)."""
    codes = torch.as_tensor(codes)
    if codes.dim() != 3 or codes.shape[0] == 0:
        raise SpecinpaintError(f"cell entropy needs codes [N, F, T] of at least one note, got {tuple(codes.shape)}")
    usage_histogram(codes, codebook_size)  # range and dtype checks
    cells = codes.reshape(codes.shape[0], -1).long().T  # [cells, N]
    counts = torch.zeros(cells.shape[0], codebook_size, dtype=torch.float64)
    counts.scatter_add_(1, cells, torch.ones_like(cells, dtype=torch.float64))
    p = counts / codes.shape[0]
    entropy = -(p * torch.log2(p.clamp_min(1e-300))).sum(dim=1)
    return float(entropy.mean())
