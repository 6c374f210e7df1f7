"""Bidirectional bottom prior for parallel (MaskGIT) decoding: p(c^B_hidden | c^B_visible, c^T).

Same top-map encoder and k(i) alignment as the autoregressive bottom prior, but the bottom stack is
bidirectional over a bottom map whose hidden tokens are replaced by a mask token, so an inpainted
region sees the bottom tokens after it too (the original never did). Trained on random-ratio and
box masks, loss on hidden tokens only. ``sampler='parallel'`` runs MaskGIT in ``num_steps`` passes;
``'autoregressive'`` fills one hidden token per pass in sequence order.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from specinpaint.core.codemaps import Codemaps
from specinpaint.core.conditioning import Conditioning
from specinpaint.core.errors import SpecinpaintError
from specinpaint.core.linearize import linearizers
from specinpaint.core.prior import PriorLoss, SamplingOptions

from .base import TokenInput, TransformerPrior, doubled, init_weights, masked_cross_entropy
from .class_embedding import ClassEmbedding
from .context import ContextEncoder
from .layers import Stack
from .masking import draw_training_masks
from .parallel import decode_parallel, decode_sequential_masked
from .params import ContextParams
from .rotary import RotaryTables, grid_positions
from .sampling import guide, make_generator


class BottomMaskedPriorParams(ContextParams):
    mask_box_prob: float = Field(0.5, ge=0, le=1, description="training masks: share of contiguous boxes")


class BottomMaskedPrior(TransformerPrior):
    """Masked bottom prior: sees the whole top map and the visible bottom tokens on both sides."""

    Params = BottomMaskedPriorParams
    description = "bottom-level masked prior: bidirectional, for parallel (MaskGIT) inpainting"
    samplers = ("autoregressive", "parallel")

    def __init__(self, params: BottomMaskedPriorParams) -> None:
        super().__init__(params)
        p = params
        lins = linearizers({p.context_level: tuple(p.top_shape), p.level: tuple(p.codemap_shape)})
        self.top_lin, self.lin = lins[p.context_level], lins[p.level]
        self.mask_id = p.num_codes
        self.classes = ClassEmbedding(p.d_model)
        self.context = ContextEncoder(p, self.top_lin, self.lin)
        self.target = TokenInput(p.num_codes + 1, p.d_model, self.lin)
        self.body = Stack(p.num_decoder_layers, p.d_model, p.num_heads, p.ffn_dim, p.dropout, p.mlp,
                          p.attention_backend, causal=False, cross=True)
        self.head = nn.Linear(p.d_model, p.num_codes)
        self.rope = (
            RotaryTables(grid_positions(self.lin.coords), p.d_model // p.num_heads) if p.positions == "rope" else None
        )
        init_weights(self)

    @property
    def context_levels(self) -> tuple[str, ...]:
        return (self.params.context_level,)

    def logits(self, masked_seq: torch.Tensor, memory: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """Bottom sequence with mask ids ``[B, N]`` → logits ``[B, N, V]``."""
        n = masked_seq.shape[1]
        x = self.target(masked_seq) + classes[:, None] + self.context.aligned(memory, 0, n)
        rope_self = rope_cross = None
        if self.rope is not None:
            keys = self.context.key_table()
            assert keys is not None
            rope_self = self.rope.all()
            rope_cross = (rope_self, keys)
        return self.head(self.body(x, rope_self, memory, rope_cross))

    def _inputs(self, codes: Codemaps) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.params
        top = self.level_codes(codes, p.context_level, tuple(p.top_shape), p.top_num_codes)
        bottom = self.level_codes(codes, self.level, self.codemap_shape, p.num_codes)
        return top, bottom

    def loss(self, codes: Codemaps, conditioning: Conditioning, mask: torch.Tensor | None = None) -> PriorLoss:
        p = self.params
        top, bottom = self._inputs(codes)
        conditioning = self.check_conditioning(conditioning, bottom.shape[0])
        if mask is None:
            mask = draw_training_masks(bottom.shape[0], self.codemap_shape, p.mask_box_prob, bottom.device)
        mask = self.check_mask(mask, bottom)
        if not mask.any():
            raise SpecinpaintError("bottom-masked prior loss: the mask hides no token")
        seq, hidden = self.lin.to_sequence(bottom), self.lin.to_sequence(mask)
        classes = self.classes(conditioning, p.class_dropout if self.training else 0.0)
        memory = self.context(self.top_lin.to_sequence(top), classes)
        logits = self.logits(seq.masked_fill(hidden, self.mask_id), memory, classes)
        loss, accuracy = masked_cross_entropy(logits[hidden], seq[hidden])
        return self.loss_result(loss, {"accuracy": accuracy, "mask_fraction": hidden.float().mean().item()})

    def inpaint(
        self, codes: Codemaps, mask: torch.Tensor, conditioning: Conditioning, options: SamplingOptions
    ) -> torch.Tensor:
        top, bottom = self._inputs(codes)
        device_out = codes[self.level].device
        mask = self.check_mask(mask, bottom)
        conditioning = self.check_conditioning(conditioning, bottom.shape[0])
        with self.inference():
            seq, hidden = self.lin.to_sequence(bottom), self.lin.to_sequence(mask)
            generator = make_generator(options.seed, seq.device)
            classes, guided = self.class_vectors(self.classes, conditioning, options.guidance_scale)
            scale = options.guidance_scale
            memory = self.context(doubled(self.top_lin.to_sequence(top), guided), classes)

            def logits_fn(tokens: torch.Tensor, unknown: torch.Tensor) -> torch.Tensor:
                logits = self.logits(doubled(tokens.masked_fill(unknown, self.mask_id), guided), memory, classes)
                return guide(logits, scale) if guided else logits

            decode = decode_parallel if options.sampler == "parallel" else decode_sequential_masked
            out = decode(seq, hidden, logits_fn, options, generator)
            result = torch.where(mask, self.lin.to_map(out), bottom)
        return result.to(device_out)
