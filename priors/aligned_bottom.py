"""The shared skeleton of both bottom priors: a bidirectional encoder over the top map, a token
stack over the bottom sequence (patch-major) that cross-attends to it, and, for every bottom slot
i, the memory vector of its own top token k(i) added to its input. The two priors differ only in
whether that stack is causal (autoregressive, `bottom-transformer`) or bidirectional over masked
tokens (`bottom-masked`)."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from specinpaint.core.codemaps import Codemaps
from specinpaint.core.errors import SpecinpaintError
from specinpaint.core.linearize import linearizers

from .base import TokenInput, TransformerPrior, init_weights
from .class_embedding import ClassEmbedding
from .context import ContextEncoder
from .layers import Stack
from .params import ContextParams
from .rotary import RotaryTables, grid_positions


class AlignedBottomPrior(TransformerPrior):
    """Bottom prior conditioned on the whole top map and on k(i); ``causal`` picks the stack."""

    causal: ClassVar[bool] = True

    def __init__(self, params: ContextParams) -> None:
        super().__init__(params)
        p = params
        lins = linearizers({p.context_level: tuple(p.top_shape), p.level: tuple(p.codemap_shape)})
        self.top_lin, self.lin = lins[p.context_level], lins[p.level]
        self.special_id = p.num_codes  # start token (causal) or mask token (bidirectional)
        self.classes = ClassEmbedding(p.d_model)
        self.context = ContextEncoder(p, self.top_lin, self.lin)
        self.target = TokenInput(p.num_codes + 1, p.d_model, self.lin)
        self.decoder = Stack(p.num_decoder_layers, p.d_model, p.num_heads, p.ffn_dim, p.dropout, p.mlp,
                             p.attention_backend, causal=self.causal, cross=True)
        self.head = nn.Linear(p.d_model, p.num_codes)
        self.rope = (
            RotaryTables(grid_positions(self.lin.coords), p.d_model // p.num_heads) if p.positions == "rope" else None
        )
        init_weights(self)

    @property
    def context_levels(self) -> tuple[str, ...]:
        return (self.params.context_level,)

    def _inputs(self, codes: Codemaps) -> tuple[torch.Tensor, torch.Tensor]:
        """(top [B, Ft, Tt], bottom [B, F, T]) checked against the params."""
        p = self.params
        top = self.level_codes(codes, p.context_level, tuple(p.top_shape), p.top_num_codes)
        bottom = self.level_codes(codes, self.level, self.codemap_shape, p.num_codes)
        if top.shape[0] != bottom.shape[0]:
            raise SpecinpaintError(f"codemaps '{p.context_level}' and '{self.level}' have different batch sizes")
        return top, bottom
