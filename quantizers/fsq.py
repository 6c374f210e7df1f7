"""Finite scalar quantization (Mentzer et al., 2023): a drop-in for `EMACodebook`.

Each of ``len(levels)`` dimensions is bounded with a tanh and rounded to ``levels[i]`` values
(straight-through gradients); the integer code is the mixed-radix number of those digits, so the
implicit codebook has ``prod(levels)`` entries, no codebook parameters, no auxiliary loss and no
collapse. Learned linear projections map ``dim`` ↔ ``len(levels)``. Same interface as the EMA
codebook: ``forward(z) → (quantized, codes, None, stats)``, ``nearest``, ``lookup``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .codebook import CodebookStats, _all_reduce_sum


class FSQCodebook(nn.Module):
    """FSQ over ``dim``-d vectors with per-dimension ``levels`` (e.g. [8, 5, 5, 5] → 1000 codes)."""

    def __init__(self, levels: list[int], dim: int, *, dead_code_steps: int = 50) -> None:
        super().__init__()
        if not levels or any(n < 2 for n in levels):
            raise ValueError(f"FSQ levels must be >= 2, got {levels}")
        self.levels_list = list(levels)
        self.num_codes = math.prod(levels)
        self.dead_code_steps = dead_code_steps
        levels_t = torch.tensor(levels, dtype=torch.long)
        basis = torch.cumprod(torch.tensor([1, *levels[:-1]], dtype=torch.long), 0)
        self.register_buffer("levels", levels_t, persistent=False)
        self.register_buffer("basis", basis, persistent=False)
        self.register_buffer("unused_steps", torch.zeros(self.num_codes, dtype=torch.long))
        self.project_in = nn.Linear(dim, len(levels))
        self.project_out = nn.Linear(len(levels), dim)

    @property
    def _half_width(self) -> torch.Tensor:
        return (self.levels // 2).float()

    def _bound(self, z: torch.Tensor) -> torch.Tensor:
        """Squash each dimension into (-half_l, half_l) so rounding gives exactly L values."""
        levels = self.levels.float()
        half = (levels - 1) * (1 + 1e-3) / 2
        offset = torch.where(self.levels % 2 == 0, 0.5, 0.0)
        shift = torch.atanh(offset / half)
        return torch.tanh(z + shift) * half - offset

    def _digits_to_codes(self, digits: torch.Tensor) -> torch.Tensor:
        return (digits.long() * self.basis).sum(-1)

    def _codes_to_unit(self, codes: torch.Tensor) -> torch.Tensor:
        digits = (codes[..., None] // self.basis) % self.levels
        return (digits.float() - self._half_width) / self._half_width

    def _quantize_unit(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Projected [N, d] → (straight-through values in [-1, 1], integer codes)."""
        bounded = self._bound(z)
        rounded = bounded + (torch.round(bounded) - bounded).detach()
        digits = torch.round(bounded).detach() + self._half_width
        return rounded / self._half_width, self._digits_to_codes(digits)

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        return self._quantize_unit(self.project_in(z.float()))[1]

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.num_codes):
            raise ValueError(f"codes outside [0, {self.num_codes})")
        return self.project_out(self._codes_to_unit(codes))

    @torch.compiler.disable  # data-dependent control flow and statistics: always eager
    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None, CodebookStats]:
        with torch.autocast(device_type=z.device.type, enabled=False):
            unit, codes = self._quantize_unit(self.project_in(z.float()))
            out = self.project_out(unit)
            counts = torch.bincount(codes, minlength=self.num_codes).float()
            if self.training:
                _all_reduce_sum(counts)
                with torch.no_grad():
                    self.unused_steps.add_(1).masked_fill_(counts > 0, 0)
            threshold = max(self.dead_code_steps, 1)
            dead_fraction = (self.unused_steps >= threshold).float().mean()
            probs = counts / counts.sum().clamp(min=1.0)
            perplexity = torch.exp(-(probs * torch.log(probs + 1e-10)).sum())
            usage = (counts > 0).float().mean()
        return out.to(z.dtype), codes, None, CodebookStats(perplexity, usage, dead_fraction, 0)
