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

from specinpaint.core.codemaps import Codemaps
from specinpaint.core.conditioning import Conditioning
from specinpaint.core.errors import SpecinpaintError
from specinpaint.core.prior import PriorLoss, SamplingOptions

from .aligned_bottom import AlignedBottomPrior
from .base import Guidance, doubled, masked_cross_entropy
from .masking import draw_training_masks
from .parallel import decode_parallel, decode_sequential_masked
from .params import ContextParams
from .sampling import guide


class BottomMaskedPriorParams(ContextParams):
    mask_box_prob: float = Field(0.5, ge=0, le=1, description="training masks: share of contiguous boxes")


class BottomMaskedPrior(AlignedBottomPrior):
    """Masked bottom prior: sees the whole top map and the visible bottom tokens on both sides."""

    Params = BottomMaskedPriorParams
    description = "bottom-level masked prior: bidirectional, for parallel (MaskGIT) inpainting"
    samplers = ("autoregressive", "parallel")
    causal = False

    @property
    def mask_id(self) -> int:
        """The token that hides a bottom position from the bidirectional stack."""
        return self.special_id

    def logits(
        self, masked_seq: torch.Tensor, memory: torch.Tensor, classes: torch.Tensor, offsets: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Bottom sequence with mask ids ``[B, N]`` → logits ``[B, N, V]``."""
        n = masked_seq.shape[1]
        x = self.target(masked_seq, classes, 0, offsets) + self.context.aligned(memory, 0, n)
        rope_self = rope_cross = None
        if self.rope is not None:
            keys = self.context.key_table()
            assert keys is not None
            rope_self = self.rope.all()
            rope_cross = (rope_self, keys)
        return self.head(self.decoder(x, rope_self, memory, rope_cross))

    def loss(
        self, codes: Codemaps, conditioning: Conditioning, mask: torch.Tensor | None = None,
        time_offset: int | torch.Tensor | None = None,
    ) -> PriorLoss:
        p = self.params
        top, bottom = self._inputs(codes)
        conditioning = self.check_conditioning(conditioning, bottom.shape[0])
        offsets, top_offsets = self.level_offsets(time_offset, bottom.shape[0])
        if mask is None:
            mask = draw_training_masks(bottom.shape[0], self.codemap_shape, p.mask_box_prob, bottom.device)
        mask = self.check_mask(mask, bottom)
        if not mask.any():
            raise SpecinpaintError("bottom-masked prior loss: the mask hides no token")
        seq, hidden = self.lin.to_sequence(bottom), self.lin.to_sequence(mask)
        classes = self.classes(conditioning, p.class_dropout if self.training else 0.0)
        memory = self.context(self.top_lin.to_sequence(top), classes, top_offsets)
        logits = self.logits(seq.masked_fill(hidden, self.mask_id), memory, classes, offsets)
        loss, accuracy = masked_cross_entropy(logits[hidden], seq[hidden])
        return self.loss_result(loss, {"accuracy": accuracy, "mask_fraction": hidden.float().mean()})

    def sample_sequence(
        self, seq: torch.Tensor, hidden: torch.Tensor, memory: torch.Tensor, classes: torch.Tensor,
        guided: Guidance, options: SamplingOptions, generator: torch.Generator | None,
        offsets: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """MaskGIT passes (``parallel``) or one token per pass in sequence order, both bidirectional."""

        def logits_fn(tokens: torch.Tensor, unknown: torch.Tensor) -> torch.Tensor:
            logits = self.logits(doubled(tokens.masked_fill(unknown, self.mask_id), guided), memory, classes, offsets)
            return guide(logits, guided.scales) if guided else logits

        decode = decode_parallel if options.sampler == "parallel" else decode_sequential_masked
        return decode(seq, hidden, logits_fn, options, generator)
