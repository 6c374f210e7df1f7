"""The coarse (top) map as context for a finer level: a bidirectional encoder over the whole top
map, cross-attention keys placed at the centre of the fine cells below each top cell, and the
explicit k(i) alignment (each fine token receives the memory vector of the top token above it)."""

from __future__ import annotations

import torch
from torch import nn

from specinpaint.core.linearize import Linearizer

from .base import TokenInput
from .layers import Stack
from .params import ContextParams
from .rotary import RotaryTables, grid_positions


class ContextEncoder(nn.Module):
    """Encodes the top sequence and hands each fine slot its aligned top memory vector."""

    def __init__(self, p: ContextParams, top_lin: Linearizer, fine_lin: Linearizer) -> None:
        super().__init__()
        assert fine_lin.parent_index is not None
        self.input = TokenInput(p.top_num_codes, p, top_lin, p.max_time_offset // p.time_factor)
        self.encoder = Stack(p.num_encoder_layers, p.d_model, p.num_heads, p.ffn_dim, p.dropout, p.mlp,
                             p.attention_backend, causal=False, cross=False, norm=p.norm)
        self.align = nn.Linear(p.d_model, p.d_model)
        self.register_buffer("parent_index", fine_lin.parent_index.clone(), persistent=False)
        head_dim = p.d_model // p.num_heads
        self.rope_top = self.rope_keys = None
        if p.positions == "rope":
            self.rope_top = RotaryTables(grid_positions(top_lin.coords), head_dim)
            self.rope_keys = RotaryTables(grid_positions(top_lin.coords, fine_lin.factors), head_dim)

    def forward(self, top_seq: torch.Tensor, classes: torch.Tensor, offsets: torch.Tensor | None = None) -> torch.Tensor:
        """Top sequence ``[B, Nt]`` (``offsets [B]``: each window's start in top columns) → memory
        ``[B, Nt, d]``."""
        x = self.input(top_seq, classes, 0, offsets)
        return self.encoder(x, self.rope_top.all() if self.rope_top is not None else None)

    def aligned(self, memory: torch.Tensor, start: int, end: int) -> torch.Tensor:
        """``align(memory[k(i)])`` for fine slots i in ``[start, end)``: ``[B, end - start, d]``."""
        return self.align(memory[:, self.parent_index[start:end]])

    def key_table(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        return self.rope_keys.all() if self.rope_keys is not None else None
