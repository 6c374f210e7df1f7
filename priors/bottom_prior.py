"""Bottom prior p(c^B_i | c^B_<i, c^T): causal over bottom tokens, the whole top map visible.

The top map goes through a bidirectional encoder; the causal decoder reads the bottom tokens in
patch-major order and cross-attends to that memory. Decoder slot i (which predicts bottom token i)
also receives the memory vector of its own top token k(i) = ⌊i/4⌋, *including the first token of
each 2×2 patch* (the original fed slot i the vector of the previous token's top cell, so a patch's
first token never saw its own top token directly).

Sampling is autoregressive with a KV cache (encoder memory and cross keys computed once); for the
parallel sampler use the ``bottom-masked`` prior.
"""

from __future__ import annotations

import torch

from specinpaint.core.codemaps import Codemaps
from specinpaint.core.conditioning import Conditioning
from specinpaint.core.errors import SpecinpaintError
from specinpaint.core.prior import PriorLoss, SamplingOptions

from .aligned_bottom import AlignedBottomPrior
from .autoregressive import decode_autoregressive, shifted_inputs
from .base import Guidance, doubled, masked_cross_entropy
from .kv_cache import KVCache
from .params import ContextParams
from .sampling import guide


class BottomPriorParams(ContextParams):
    pass


class BottomPrior(AlignedBottomPrior):
    """Autoregressive bottom prior conditioned on the whole top map and on k(i)."""

    Params = BottomPriorParams
    description = "bottom-level prior: top-map encoder + causal bottom decoder aligned on k(i) (KV cache)"
    samplers = ("autoregressive",)
    causal = True

    @property
    def bos_id(self) -> int:
        """The start token that shifts the bottom sequence right for teacher forcing."""
        return self.special_id

    def decode(
        self, inputs: torch.Tensor, memory: torch.Tensor, classes: torch.Tensor, start: int = 0,
        cache: KVCache | None = None, offsets: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Decoder inputs for slots ``[start, start + L)`` → hidden states ``[B, L, d]``."""
        end = start + inputs.shape[1]
        x = self.target(inputs, classes, start, offsets) + self.context.aligned(memory, start, end)
        rope_self = rope_cross = None
        if self.rope is not None:
            rope_self = self.rope.slice(start, end)
            keys = self.context.key_table()
            assert keys is not None
            rope_cross = (rope_self, keys)
        return self.decoder(x, rope_self, memory, rope_cross, cache)

    def loss(
        self, codes: Codemaps, conditioning: Conditioning, mask: torch.Tensor | None = None,
        time_offset: int | torch.Tensor | None = None,
    ) -> PriorLoss:
        """Teacher-forced loss over all bottom tokens (or only ``mask``'s ones) given the true top."""
        top, bottom = self._inputs(codes)
        conditioning = self.check_conditioning(conditioning, bottom.shape[0])
        offsets, top_offsets = self.level_offsets(time_offset, bottom.shape[0])
        seq = self.lin.to_sequence(bottom)
        if mask is None:
            selected = torch.ones_like(seq, dtype=torch.bool)
        else:
            selected = self.lin.to_sequence(self.check_mask(mask, bottom))
            if not selected.any():
                raise SpecinpaintError("bottom prior loss: the mask selects no token")
        classes = self.classes(conditioning, self.params.class_dropout if self.training else 0.0)
        memory = self.context(self.top_lin.to_sequence(top), classes, top_offsets)
        states = self.decode(shifted_inputs(seq, self.bos_id), memory, classes, offsets=offsets)
        loss, accuracy = masked_cross_entropy(self.head(states[selected]), seq[selected])
        return self.loss_result(loss, {"accuracy": accuracy})

    def check_sampler(self, sampler: str) -> None:
        if not self.supports_sampler(sampler):
            raise SpecinpaintError(
                f"bottom-transformer samples autoregressively only (got sampler '{sampler}'); "
                "use the bottom-masked prior for parallel decoding"
            )

    def sample_sequence(
        self, seq: torch.Tensor, hidden: torch.Tensor, memory: torch.Tensor, classes: torch.Tensor,
        guided: Guidance, options: SamplingOptions, generator: torch.Generator | None,
        offsets: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Left to right with a KV cache (cross-attention keys of the top memory computed once)."""
        cache = self.decoder.new_cache(self.lin.length)

        def step_fn(chunk: torch.Tensor, start: int) -> torch.Tensor:
            logits = self.head(self.decode(doubled(chunk, guided), memory, classes, start, cache, offsets)[:, -1])
            return guide(logits, guided.scales) if guided else logits

        def full_fn(inputs: torch.Tensor, slot: int) -> torch.Tensor:
            logits = self.head(self.decode(doubled(inputs, guided), memory, classes, offsets=offsets)[:, slot])
            return guide(logits, guided.scales) if guided else logits

        return decode_autoregressive(seq, hidden, options, self.bos_id, step_fn, full_fn, generator)
