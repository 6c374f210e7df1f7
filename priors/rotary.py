"""2-D rotary position embedding over (frequency, time) cells.

Why 2-D and float positions: a codemap token has a frequency row and a time column, and moving one
column is not "32 tokens further" as in the paper's 1-D relative attention. Half of each head's
dimensions rotate with the frequency coordinate, the other half with the time coordinate. Positions
are floats so a coarse (top) cell can be placed at the centre of the fine (bottom) cells below it
for cross-attention between levels.
"""

from __future__ import annotations

import torch
from torch import nn

from specinpaint.core.errors import SpecinpaintError


class RotaryTables(nn.Module):
    """cos/sin tables ``[L, D]`` for positions ``[L, 2]`` (f, t); buffers, so they follow ``.to()``."""

    def __init__(self, positions: torch.Tensor, head_dim: int, base: float = 10000.0) -> None:
        super().__init__()
        if head_dim % 4:
            raise SpecinpaintError(f"2-D rotary positions need a head dim divisible by 4, got {head_dim}")
        quarter = head_dim // 4
        inv_freq = base ** (-torch.arange(quarter, dtype=torch.float64) / quarter)
        pos = positions.to(torch.float64)
        angles = [pos[:, axis, None] * inv_freq[None, :] for axis in (0, 1)]  # 2 × [L, D/4]
        # layout per head: [f-half (a | b), t-half (a | b)], each half rotated as "rotate half"
        full = torch.cat([angles[0], angles[0], angles[1], angles[1]], dim=-1)  # [L, D]
        self.register_buffer("cos", full.cos().float(), persistent=False)
        self.register_buffer("sin", full.sin().float(), persistent=False)

    def slice(self, start: int, end: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cos[start:end], self.sin[start:end]

    def all(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cos, self.sin


def _rotate_halves(x: torch.Tensor) -> torch.Tensor:
    a1, a2, b1, b2 = x.chunk(4, dim=-1)
    return torch.cat([-a2, a1, -b2, b1], dim=-1)


def apply_rotary(x: torch.Tensor, table: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Rotate ``x [B, H, L, D]`` by the tables ``([L, D], [L, D])``."""
    cos, sin = (t.to(x.dtype) for t in table)
    return x * cos + _rotate_halves(x) * sin


def grid_positions(coords: torch.Tensor, scale: tuple[int, int] = (1, 1)) -> torch.Tensor:
    """Integer (f, t) cells ``[L, 2]`` of a coarse map → float positions in a grid ``scale`` times
    finer, at the centre of the cells below (scale (1, 1): unchanged)."""
    s = torch.tensor(scale, dtype=torch.float64)
    return coords.to(torch.float64) * s + (s - 1) / 2
