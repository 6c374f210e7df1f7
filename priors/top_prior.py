"""Top prior p(c^T_i | c^T_<i, c^T_>i): encoder over the masked top map + causal decoder.

The paper's design, with its flaw fixed. The encoder reads the top map with the hidden tokens
replaced by a mask token (bidirectional: every prediction sees past and future known tokens); the
causal decoder predicts the map in column order, attending to the encoder memory and receiving, at
slot i, the memory vector of cell i. The loss counts only hidden positions (the original also
trained on visible tokens it could copy: ``loss_positions: all`` reproduces that).

An extra head on the encoder predicts the hidden tokens directly (a masked-token objective on the
same masks). It costs nothing at AR sampling time and gives the parallel (MaskGIT) sampler a
bidirectional model: ``SamplingOptions.sampler = 'parallel'``.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from specinpaint.core.codemaps import Codemaps
from specinpaint.core.conditioning import Conditioning
from specinpaint.core.errors import SpecinpaintError
from specinpaint.core.linearize import Linearizer
from specinpaint.core.prior import PriorLoss, SamplingOptions

from .autoregressive import decode_autoregressive, shifted_inputs
from .base import TokenInput, TransformerPrior, class_embedding, doubled, init_weights, masked_cross_entropy
from .kv_cache import KVCache
from .layers import Stack
from .masking import MaskSampler, draw_masks
from .parallel import decode_parallel
from .params import TransformerParams
from .rotary import RotaryTables, grid_positions
from .sampling import guide, make_generator


class TopPriorParams(TransformerParams):
    mask_sampler: MaskSampler = Field(
        "mixed", description="training masks: mixed (cosine ratios and boxes), bernoulli (p ~ U[0,1] per example, "
        "then per token), bernoulli_batch (one p per batch, the original's)",
    )
    mask_box_prob: float = Field(0.5, ge=0, le=1, description="mixed training masks: share of contiguous boxes")
    loss_positions: Literal["hidden", "all"] = Field(
        "hidden", description="positions the decoder's loss counts: hidden only, or all (the original's: visible "
        "tokens can be copied from the encoder input)",
    )
    mlm_loss_weight: float = Field(1.0, ge=0, description="weight of the encoder's masked-token loss (parallel sampler)")


class TopPrior(TransformerPrior):
    """Inpaints the top codemap with past and future context (autoregressive or parallel)."""

    Params = TopPriorParams
    description = "top-level prior: masked-map encoder + causal decoder (AR with KV cache, or MaskGIT)"
    samplers = ("autoregressive", "parallel")

    def __init__(self, params: TopPriorParams) -> None:
        super().__init__(params)
        p = params
        self.lin = Linearizer.columns(tuple(p.codemap_shape))
        self.mask_id = self.bos_id = p.num_codes
        self.classes = class_embedding(p)
        self.source = TokenInput(p.num_codes + 1, p, self.lin, p.max_time_offset)
        self.target = TokenInput(p.num_codes + 1, p, self.lin, p.max_time_offset)
        common = dict(d_model=p.d_model, num_heads=p.num_heads, ffn_dim=p.ffn_dim, dropout=p.dropout,
                      mlp=p.mlp, backend=p.attention_backend, norm=p.norm)
        self.encoder = Stack(p.num_encoder_layers, causal=False, cross=False, **common)
        self.decoder = Stack(p.num_decoder_layers, causal=True, cross=True, **common)
        self.align = nn.Linear(p.d_model, p.d_model)
        self.head = nn.Linear(p.d_model, p.num_codes)
        # only built when trained (an unused head would break DDP without find_unused_parameters)
        self.mlm_head = nn.Linear(p.d_model, p.num_codes) if p.mlm_loss_weight > 0 else None
        self.rope = (
            RotaryTables(grid_positions(self.lin.coords), p.d_model // p.num_heads) if p.positions == "rope" else None
        )
        init_weights(self)

    def supports_sampler(self, sampler: str) -> bool:
        """Parallel sampling needs the encoder head, absent when ``mlm_loss_weight`` is 0."""
        return super().supports_sampler(sampler) and (sampler != "parallel" or self.mlm_head is not None)

    # -- network pieces ----------------------------------------------------------------------
    def encode(self, masked_seq: torch.Tensor, classes: torch.Tensor, offsets: torch.Tensor | None = None) -> torch.Tensor:
        """Masked top sequence ``[B, N]`` (mask id at hidden cells) → memory ``[B, N, d]``."""
        x = self.source(masked_seq, classes, 0, offsets)
        return self.encoder(x, self.rope.all() if self.rope else None)

    def decode(
        self, inputs: torch.Tensor, memory: torch.Tensor, classes: torch.Tensor, start: int = 0,
        cache: KVCache | None = None, offsets: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Decoder inputs for slots ``[start, start + L)`` → hidden states ``[B, L, d]``."""
        end = start + inputs.shape[1]
        x = self.target(inputs, classes, start, offsets) + self.align(memory[:, start:end])
        rope_self = rope_cross = None
        if self.rope is not None:
            rope_self = self.rope.slice(start, end)
            rope_cross = (rope_self, self.rope.all())
        return self.decoder(x, rope_self, memory, rope_cross, cache)

    # -- training ----------------------------------------------------------------------------
    def loss(
        self, codes: Codemaps, conditioning: Conditioning, mask: torch.Tensor | None = None,
        time_offset: int | torch.Tensor | None = None,
    ) -> PriorLoss:
        p = self.params
        top = self.level_codes(codes, self.level, self.codemap_shape, p.num_codes)
        conditioning = self.check_conditioning(conditioning, top.shape[0])
        offsets = self.time_offsets(time_offset, top.shape[0])
        needs_hidden = p.loss_positions == "hidden" or self.mlm_head is not None
        if mask is None:
            mask = draw_masks(p.mask_sampler, top.shape[0], self.codemap_shape, p.mask_box_prob, top.device,
                              at_least_one=needs_hidden)
        mask = self.check_mask(mask, top)
        if needs_hidden and not mask.any():
            raise SpecinpaintError("top prior loss: the mask hides no token (the loss counts hidden ones)")
        seq, hidden = self.lin.to_sequence(top), self.lin.to_sequence(mask)
        classes = self.classes(conditioning, p.class_dropout if self.training else 0.0)
        memory = self.encode(seq.masked_fill(hidden, self.mask_id), classes, offsets)
        states = self.decode(shifted_inputs(seq, self.bos_id), memory, classes, offsets=offsets)
        scored = hidden if p.loss_positions == "hidden" else torch.ones_like(hidden)
        logits = self.head(states[scored])
        ar_loss, accuracy = masked_cross_entropy(logits, seq[scored])
        metrics = {"ar_loss": ar_loss.detach(), "accuracy": accuracy, "mask_fraction": hidden.float().mean()}
        if p.loss_positions == "all":  # visible tokens can be copied: accuracy on hidden ones is the real measure
            right = (logits.detach().argmax(dim=-1) == seq.flatten())[hidden.flatten()]
            metrics["hidden_accuracy"] = right.float().sum() / max(right.numel(), 1)
        loss = ar_loss
        if self.mlm_head is not None:
            mlm_loss, mlm_accuracy = masked_cross_entropy(self.mlm_head(memory[hidden]), seq[hidden])
            loss = loss + p.mlm_loss_weight * mlm_loss
            metrics.update(mlm_loss=mlm_loss.detach(), mlm_accuracy=mlm_accuracy)
        return self.loss_result(loss, metrics)

    # -- sampling ----------------------------------------------------------------------------
    def inpaint(
        self, codes: Codemaps, mask: torch.Tensor, conditioning: Conditioning, options: SamplingOptions,
        time_offset: int | torch.Tensor | None = None,
    ) -> torch.Tensor:
        top = self.level_codes(codes, self.level, self.codemap_shape, self.params.num_codes)
        device_out = codes[self.level].device
        mask = self.check_mask(mask, top)
        conditioning = self.check_conditioning(conditioning, top.shape[0])
        offsets = self.time_offsets(time_offset, top.shape[0])
        with self.inference():
            seq, hidden = self.lin.to_sequence(top), self.lin.to_sequence(mask)
            generator = make_generator(options.seed, seq.device)
            classes, guided = self.class_vectors(self.classes, conditioning, options)
            offsets = doubled(offsets, guided) if offsets is not None else None
            if options.sampler == "parallel":
                mlm_head = self.mlm_head
                if mlm_head is None:
                    raise SpecinpaintError("top prior: parallel sampling needs the encoder head (mlm_loss_weight > 0)")

                def logits_fn(tokens: torch.Tensor, unknown: torch.Tensor) -> torch.Tensor:
                    memory = self.encode(doubled(tokens.masked_fill(unknown, self.mask_id), guided), classes, offsets)
                    logits = mlm_head(memory)
                    return guide(logits, guided.scales) if guided else logits

                out = decode_parallel(seq, hidden, logits_fn, options, generator)
            else:
                memory = self.encode(doubled(seq.masked_fill(hidden, self.mask_id), guided), classes, offsets)
                cache = self.decoder.new_cache(self.lin.length)

                def step_fn(chunk: torch.Tensor, start: int) -> torch.Tensor:
                    states = self.decode(doubled(chunk, guided), memory, classes, start, cache, offsets)
                    logits = self.head(states[:, -1])
                    return guide(logits, guided.scales) if guided else logits

                def full_fn(inputs: torch.Tensor, slot: int) -> torch.Tensor:
                    logits = self.head(self.decode(doubled(inputs, guided), memory, classes, offsets=offsets)[:, slot])
                    return guide(logits, guided.scales) if guided else logits

                out = decode_autoregressive(seq, hidden, options, self.bos_id, step_fn, full_fn, generator)
            result = self.lin.to_map(out)
            result = torch.where(mask, result, top)
        return result.to(device_out)
