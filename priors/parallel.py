"""Masked (bidirectional) decoding: MaskGIT's parallel confidence schedule, and a one-token-per-pass
sequential variant.

Why: a masked model sees the tokens on both sides of a hole, and MaskGIT fills a whole map in a
fixed number of passes (``options.num_steps``) instead of one pass per token. Each pass samples every
hidden token, keeps the most confident ones and hides the rest again (cosine schedule; Gumbel noise
scaled by ``choice_temperature`` and annealed to 0 so early choices are diverse). Known tokens never
change.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from specinpaint.core.prior import SamplingOptions

from .sampling import draw, probabilities

#: (tokens [B, N], hidden [B, N] bool) → logits [B, N, V]
LogitsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def cosine_schedule(ratio: float) -> float:
    """Fraction of the initially hidden tokens still hidden after progress ``ratio`` ∈ [0, 1]."""
    return math.cos(math.pi / 2 * ratio)


def decode_parallel(
    seq: torch.Tensor,
    seq_mask: torch.Tensor,
    logits_fn: LogitsFn,
    options: SamplingOptions,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """Fill the hidden positions of ``seq [B, N]`` in ``options.num_steps`` passes."""
    tokens, hidden = seq.clone(), seq_mask.clone()
    total = hidden.sum(dim=1)  # [B] initially hidden per example
    steps = options.num_steps
    for step in range(steps):
        if not hidden.any():
            break
        probs = probabilities(logits_fn(tokens, hidden), options)  # [B, N, V]
        sampled = draw(probs, generator)
        confidence = probs.gather(-1, sampled.unsqueeze(-1)).squeeze(-1).clamp_min(1e-30).log()
        tokens = torch.where(hidden, sampled, tokens)
        remaining = hidden.sum(dim=1)
        if step == steps - 1:
            break
        keep_hidden = torch.floor(total.double() * cosine_schedule((step + 1) / steps)).long()
        keep_hidden = torch.minimum(keep_hidden.clamp_min(1), remaining - 1).clamp_min(0)
        temperature = options.choice_temperature * (1.0 - (step + 1) / steps)
        if temperature > 0:
            u = torch.rand(confidence.shape, device=confidence.device, generator=generator)
            confidence = confidence + temperature * -torch.log(-torch.log(u.clamp(1e-20, 1 - 1e-7)))
        confidence = confidence.masked_fill(~hidden, float("inf"))
        rank = confidence.argsort(dim=1).argsort(dim=1)  # 0 = least confident
        hidden = rank < keep_hidden[:, None]
    return tokens


def decode_sequential_masked(
    seq: torch.Tensor,
    seq_mask: torch.Tensor,
    logits_fn: LogitsFn,
    options: SamplingOptions,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """Fill hidden positions one per pass in sequence order with a masked model (every pass sees the
    known tokens on both sides; no cache is possible since earlier outputs change)."""
    tokens, hidden = seq.clone(), seq_mask.clone()
    for p in seq_mask.any(dim=0).nonzero().flatten().tolist():
        logits = logits_fn(tokens, hidden)[:, p]
        token = draw(probabilities(logits, options), generator)
        tokens[:, p] = torch.where(hidden[:, p], token, tokens[:, p])
        hidden[:, p] = False
    return tokens
