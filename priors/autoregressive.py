"""Autoregressive inpainting loop, with or without a KV cache.

Masked positions are visited in sequence order; unmasked tokens are kept. With the cache, the
decoder is fed each stretch of already known inputs once (a chunk up to the next masked position),
so a full resample costs one position per token. Without it, the whole decoder is re-run over the
full sequence for every masked token (the paper's method, kept as the baseline and as a check).
Decoder input slot j holds token j − 1 (slot 0 the start symbol), and its output predicts token j.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from specinpaint.core.prior import SamplingOptions

from .sampling import draw, probabilities

#: (inputs chunk [B, L] for slots [start, start + L), start) → logits [B, V] of the chunk's last slot
StepFn = Callable[[torch.Tensor, int], torch.Tensor]
#: (all inputs [B, N], slot p) → logits [B, V] at slot p, recomputing the whole decoder
FullFn = Callable[[torch.Tensor, int], torch.Tensor]


def shifted_inputs(seq: torch.Tensor, bos: int) -> torch.Tensor:
    """``[B, N]`` tokens → decoder inputs ``[B, N]``: the start symbol, then tokens 0 … N − 2."""
    start = torch.full_like(seq[:, :1], bos)
    return torch.cat([start, seq[:, :-1]], dim=1)


def decode_autoregressive(
    seq: torch.Tensor,
    seq_mask: torch.Tensor,
    options: SamplingOptions,
    bos: int,
    step_fn: StepFn | None,
    full_fn: FullFn,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """Resample ``seq [B, N]`` where ``seq_mask`` is True; ``step_fn`` (cached) is used when given
    and ``options.use_kv_cache`` is set, else ``full_fn``."""
    seq = seq.clone()
    positions = seq_mask.any(dim=0).nonzero().flatten().tolist()
    use_cache = options.use_kv_cache and step_fn is not None
    fed = 0
    for p in positions:
        if use_cache:
            assert step_fn is not None
            chunk = shifted_inputs(seq[:, : p + 1], bos)[:, fed:]  # slots fed … p (tokens up to p − 1 are final)
            logits = step_fn(chunk, fed)
            fed = p + 1
        else:
            logits = full_fn(shifted_inputs(seq, bos), p)
        token = draw(probabilities(logits, options), generator)
        seq[:, p] = torch.where(seq_mask[:, p], token, seq[:, p])
    return seq
