"""Turning logits into codes: temperature, top-k, top-p, classifier-free guidance, seeded draws.

Draws use the inverse CDF of one uniform number per token from a per-call ``torch.Generator``, so
two decoders that compute (numerically) the same distributions draw the same tokens: the KV-cache
and the full-recompute paths agree token for token under the same seed.
"""

from __future__ import annotations

import torch

from specinpaint.core.prior import SamplingOptions


def make_generator(seed: int | None, device: torch.device) -> torch.Generator | None:
    """A generator seeded for this call, or None (global RNG) when ``seed`` is None."""
    if seed is None:
        return None
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    return generator


def guide(logits: torch.Tensor, scale: float | tuple[float, ...]) -> torch.Tensor:
    """Classifier-free guidance of ``logits`` stacked along the batch.

    * one scale, [cond; null] → null + scale · (cond − null);
    * two scales ``(family, pitch)``, [cond; pitch only; no label] → none + pitch · (pitch only − none)
      + family · (cond − pitch only): each label's own direction with its own strength (equal scales
      give classic guidance, a pitch scale of 1 the family-only guidance)."""
    scales = (scale,) if isinstance(scale, (int, float)) else tuple(scale)
    if len(scales) == 1:
        cond, null = logits.chunk(2, dim=0)
        return null + scales[0] * (cond - null)
    family_scale, pitch_scale = scales
    cond, pitch_only, none = logits.chunk(3, dim=0)
    return none + pitch_scale * (pitch_only - none) + family_scale * (cond - pitch_only)


def filter_logits(logits: torch.Tensor, top_k: int = 0, top_p: float = 0.0) -> torch.Tensor:
    """Set to −inf every logit outside the top-k and/or outside the smallest set whose probability
    reaches top-p (0 disables either filter). The most likely token always survives."""
    if top_k > 0 and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if 0.0 < top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        remove = cumulative - sorted_logits.softmax(dim=-1) >= top_p  # mass before this token already ≥ p
        remove[..., 0] = False
        logits = logits.masked_fill(remove.scatter(-1, order, remove), float("-inf"))
    return logits


def probabilities(logits: torch.Tensor, options: SamplingOptions) -> torch.Tensor:
    """Filtered, temperature-scaled probabilities (float32) over the last dimension."""
    scaled = logits.float() / options.temperature
    return filter_logits(scaled, options.top_k, options.top_p).softmax(dim=-1)


def draw(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One sample per row of ``probs [..., V]`` by inverse CDF (zero-probability tokens are never drawn)."""
    cdf = probs.cumsum(dim=-1)
    u = torch.rand(probs.shape[:-1], device=probs.device, generator=generator, dtype=cdf.dtype)
    target = (u * cdf[..., -1]).unsqueeze(-1)
    index = torch.searchsorted(cdf.contiguous(), target.contiguous(), right=True).squeeze(-1)
    return index.clamp_(max=probs.shape[-1] - 1)
