"""Training masks for the masked priors (top prior, bottom-masked prior).

Why this mix: users draw boxes (a time span, a frequency band, or both), and the parallel sampler
needs every masking ratio. Each example gets either a random mask with a ratio drawn per example
(cosine-distributed, as MaskGIT, so high ratios and near-full masks are common) or a contiguous
box: all frequencies over a time span, all times over a frequency band, or a rectangle.
"""

from __future__ import annotations

import math

import torch


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
    mask = torch.where(use_box, box, random_mask)
    # guarantee at least one hidden token per example
    empty = ~mask.flatten(1).any(dim=1)
    if empty.any():
        pick = torch.randint(0, f * t, (batch,), device=device, generator=generator)
        flat = mask.flatten(1).clone()
        flat[empty, pick[empty]] = True
        mask = flat.view(batch, f, t)
    return mask
