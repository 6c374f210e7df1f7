"""The shared skeleton of both bottom priors: a bidirectional encoder over the top map, a token
stack over the bottom sequence (patch-major) that cross-attends to it (unless
``cross_attention: false``, the original's aligned decoder), and, for every bottom slot i, the
memory vector of its own top token k(i) added to its input. The two priors differ only in
whether that stack is causal (autoregressive, `bottom-transformer`) or bidirectional over masked
tokens (`bottom-masked`)."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import torch
from torch import nn

from specinpaint.core.codemaps import Codemaps
from specinpaint.core.conditioning import Conditioning
from specinpaint.core.errors import SpecinpaintError
from specinpaint.core.linearize import linearizers
from specinpaint.core.prior import SamplingOptions

from .base import Guidance, TokenInput, TransformerPrior, class_embedding, doubled, init_weights
from .context import ContextEncoder
from .layers import Stack
from .params import ContextParams
from .rotary import RotaryTables, grid_positions
from .sampling import make_generator


class AlignedBottomPrior(TransformerPrior):
    """Bottom prior conditioned on the whole top map and on k(i); ``causal`` picks the stack."""

    causal: ClassVar[bool] = True

    def __init__(self, params: ContextParams) -> None:
        super().__init__(params)
        p = params
        lins = linearizers({p.context_level: tuple(p.top_shape), p.level: tuple(p.codemap_shape)})
        self.top_lin, self.lin = lins[p.context_level], lins[p.level]
        self.special_id = p.num_codes  # start token (causal) or mask token (bidirectional)
        self.classes = class_embedding(p)
        self.context = ContextEncoder(p, self.top_lin, self.lin)
        self.target = TokenInput(p.num_codes + 1, p, self.lin, p.max_time_offset)
        self.decoder = Stack(p.num_decoder_layers, p.d_model, p.num_heads, p.ffn_dim, p.dropout, p.mlp,
                             p.attention_backend, causal=self.causal, cross=p.cross_attention, norm=p.norm)
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

    def level_offsets(
        self, time_offset: int | torch.Tensor | None, batch: int
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """A window's start in this level's columns → (``[B]`` offsets of this level, ``[B]`` of the
        context level: floor-divided by the column ratio), or (None, None) when all are 0."""
        offsets = self.time_offsets(time_offset, batch)
        if offsets is None:
            return None, None
        return offsets, offsets // self.params.time_factor

    def inpaint(
        self, codes: Codemaps, mask: torch.Tensor, conditioning: Conditioning, options: SamplingOptions,
        time_offset: int | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Shared preparation (checks, sequences, guidance, top-map memory computed once); the
        subclass's `sample_sequence` fills the hidden bottom tokens."""
        self.check_sampler(options.sampler)
        top, bottom = self._inputs(codes)
        device_out = codes[self.level].device
        mask = self.check_mask(mask, bottom)
        conditioning = self.check_conditioning(conditioning, bottom.shape[0])
        offsets, top_offsets = self.level_offsets(time_offset, bottom.shape[0])
        with self.inference():
            seq, hidden = self.lin.to_sequence(bottom), self.lin.to_sequence(mask)
            generator = make_generator(options.seed, seq.device)
            classes, guided = self.class_vectors(self.classes, conditioning, options)
            if offsets is not None and top_offsets is not None:
                offsets, top_offsets = doubled(offsets, guided), doubled(top_offsets, guided)
            memory = self.context(doubled(self.top_lin.to_sequence(top), guided), classes, top_offsets)
            out = self.sample_sequence(seq, hidden, memory, classes, guided, options, generator, offsets)
            result = torch.where(mask, self.lin.to_map(out), bottom)
        return result.to(device_out)

    def check_sampler(self, sampler: str) -> None:
        if not self.supports_sampler(sampler):
            raise SpecinpaintError(f"{type(self).__name__} has no '{sampler}' sampler")

    @abstractmethod
    def sample_sequence(
        self, seq: torch.Tensor, hidden: torch.Tensor, memory: torch.Tensor, classes: torch.Tensor,
        guided: Guidance, options: SamplingOptions, generator: torch.Generator | None,
        offsets: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Bottom sequence [B, N] with ``hidden`` positions drawn (guided batches are repeated once per
        guidance pass, and
        so are ``offsets``, the windows' starts in this level's columns)."""
