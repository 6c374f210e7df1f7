"""Training masks for the masked priors (top prior, bottom-masked prior).

``mixed`` (the project's default): users draw boxes (a time span, a frequency band, or both), and
the parallel sampler needs every masking ratio. Each example gets either a random mask with a ratio
drawn per example (cosine-distributed, as MaskGIT, so high ratios and near-full masks are common) or
a contiguous box: all frequencies over a time span, all times over a frequency band, or a rectangle.

``bernoulli`` / ``bernoulli_batch`` (the original's ``random_p_bernoulli``): a ratio p ~ U[0, 1],
then every token hidden independently with probability p. The original drew p once per batch
(``bernoulli_batch``); ``bernoulli`` draws it per example (less gradient noise, same marginal).
"""

from __future__ import annotations

import math
from typing import Literal

import torch

MaskSampler = Literal["mixed", "bernoulli", "bernoulli_batch"]


def with_one_hidden(mask: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """``mask [B, F, T]`` with one random token hidden in every example that hides none."""
    batch, f, t = mask.shape
    empty = ~mask.flatten(1).any(dim=1)
    if not empty.any():
        return mask
    pick = torch.randint(0, f * t, (batch,), device=mask.device, generator=generator)
    flat = mask.flatten(1).clone()
    flat[empty, pick[empty]] = True
    return flat.view(batch, f, t)


def _spans(n: int, size: int, device: torch.device, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Random [start, end) spans of length ≥ 1 on an axis of ``size`` cells, one per example."""
    length = torch.randint(1, size + 1, (n,), device=device, generator=generator)
    start = (torch.rand(n, device=device, generator=generator) * (size - length + 1)).long()
    return start, start + length


def draw_training_masks(
    batch: int,
    shape: tuple[int, int],
    box_prob: float = 0.5,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Bool ``[B, F, T]`` masks (True = hidden, to predict); every example hides at least one token."""
    device = torch.device(device)
    f, t = shape
    # random masks: ratio = cos(π/2 · u), u ~ U(0, 1)
    ratio = torch.cos(math.pi / 2 * torch.rand(batch, 1, 1, device=device, generator=generator))
    random_mask = torch.rand(batch, f, t, device=device, generator=generator) < ratio
    # boxes: kind 0 = time span (all rows), 1 = frequency band (all columns), 2 = rectangle
    kind = torch.randint(0, 3, (batch,), device=device, generator=generator)
    f0, f1 = _spans(batch, f, device, generator)
    t0, t1 = _spans(batch, t, device, generator)
    f0, f1 = torch.where(kind == 0, 0, f0), torch.where(kind == 0, f, f1)
    t0, t1 = torch.where(kind == 1, 0, t0), torch.where(kind == 1, t, t1)
    rows = torch.arange(f, device=device)[None, :, None]
    cols = torch.arange(t, device=device)[None, None, :]
    box = (rows >= f0[:, None, None]) & (rows < f1[:, None, None]) & (cols >= t0[:, None, None]) & (cols < t1[:, None, None])
    use_box = (torch.rand(batch, device=device, generator=generator) < box_prob)[:, None, None]
    return with_one_hidden(torch.where(use_box, box, random_mask), generator)


def draw_bernoulli_masks(
    batch: int,
    shape: tuple[int, int],
    per_batch: bool = False,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
    at_least_one: bool = True,
) -> torch.Tensor:
    """Bool ``[B, F, T]`` masks: p ~ U[0, 1] (one per example, or one for the batch with
    ``per_batch``), then each token hidden with probability p. ``at_least_one`` hides one random
    token of any example that would hide none (a loss on hidden tokens needs one; a loss on all
    positions does not, and the original never forced it)."""
    device = torch.device(device)
    f, t = shape
    ratio = torch.rand(1 if per_batch else batch, 1, 1, device=device, generator=generator)
    mask = torch.rand(batch, f, t, device=device, generator=generator) < ratio
    return with_one_hidden(mask, generator) if at_least_one else mask


def draw_masks(
    sampler: MaskSampler,
    batch: int,
    shape: tuple[int, int],
    box_prob: float = 0.5,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
    at_least_one: bool = True,
) -> torch.Tensor:
    """Training masks from the named sampler (``mixed`` always hides at least one token per example)."""
    if sampler == "mixed":
        return draw_training_masks(batch, shape, box_prob, device, generator)
    return draw_bernoulli_masks(batch, shape, sampler == "bernoulli_batch", device, generator, at_least_one)
