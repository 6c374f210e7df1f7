"""Priors and codebooks on held-out notes: per level, the prior's negative log-likelihood (nats per
token) and next-token accuracy, and the codebook's perplexity and dead-code fraction.

Two settings per prior, both deterministic: ``nll`` with every token of the level hidden (what
generating from scratch asks of it; a bottom prior sees the true coarser map) and ``nll_region``
with one fixed box hidden (the middle half of the map: what an inpainting edit asks).

And how much the prior uses its labels: ``pitch_gain`` is the all-hidden NLL with the pitch label
made null minus the NLL with the true labels (nats per token the pitch is worth), ``label_gain``
the same with both labels null. A prior that ignores the requested pitch has a gain near 0 —
the first thing to look at when generated notes miss their pitch. (Class dropout trains the null
labels, so these inputs are ones the prior has seen.)"""

from __future__ import annotations

from typing import Any

import torch

from specinpaint.core.conditioning import NULL_LABEL, Conditioning
from specinpaint.core.errors import SpecinpaintError
from specinpaint.metrics.codebook import codebook_stats

from . import notes
from .context import EvaluationContext


def middle_box(batch: int, shape: tuple[int, int]) -> torch.Tensor:
    """Bool ``[B, F, T]``: the middle half of the rows × the middle half of the columns."""
    f, t = shape
    mask = torch.zeros(batch, f, t, dtype=torch.bool)
    mask[:, f // 4: max(f // 4 + 1, 3 * f // 4), t // 4: max(t // 4 + 1, 3 * t // 4)] = True
    return mask


@torch.no_grad()
def evaluate_priors(ctx: EvaluationContext) -> dict[str, Any]:
    pipeline, spec = ctx.pipeline, ctx.spec
    device = ctx.ready_pipeline()
    indices = notes.spread(len(ctx.dataset), spec.prior_notes)
    codes_parts, labels = [], []
    for batch in notes.batches(ctx.dataset, indices, ctx.num_samples, spec.batch_size):
        codes_parts.append(pipeline.encode(batch.audio.to(device)).to("cpu"))
        labels.append(batch.conditioning())
    metrics: dict[str, float] = {"notes": float(len(indices))}
    levels = list(pipeline.quantizer.levels)
    num_codes = pipeline.quantizer.num_codes
    for level in levels:
        level_codes = torch.cat([c[level] for c in codes_parts])
        stats = codebook_stats(level_codes, num_codes[level])
        metrics[f"{level}_perplexity"] = stats.perplexity
        metrics[f"{level}_dead_fraction"] = stats.dead_fraction
        if level not in pipeline.priors:
            continue
        prior = pipeline.priors[level]
        measured: dict[str, tuple[float, float]] = {}  # setting -> (NLL, accuracy) over the notes
        for setting in ("nll", "nll_region", "nll_no_pitch", "nll_no_labels"):
            total = accuracy = 0.0
            for codes, conditioning in zip(codes_parts, labels, strict=True):
                shape = tuple(codes[level].shape[1:])
                b = codes.batch_size
                mask = middle_box(b, shape) if setting == "nll_region" else torch.ones(b, *shape, dtype=torch.bool)
                try:
                    out = prior.loss(codes.to(device), nulled(conditioning, setting).to(device), mask.to(device))
                except SpecinpaintError:
                    break
                # the autoregressive term when the prior adds others (e.g. the top prior's encoder head)
                total += float(out.metrics.get("ar_loss", out.loss)) * b
                accuracy += float(out.metrics.get("accuracy", float("nan"))) * b
            else:
                measured[setting] = (total / len(indices), accuracy / len(indices))
        for setting in ("nll", "nll_region"):
            if setting in measured:
                metrics[f"{level}_{setting}"], metrics[f"{level}_{setting.replace('nll', 'accuracy')}"] = measured[setting]
        if {"nll", "nll_no_pitch", "nll_no_labels"} <= measured.keys():
            metrics[f"{level}_pitch_gain"] = measured["nll_no_pitch"][0] - measured["nll"][0]
            metrics[f"{level}_label_gain"] = measured["nll_no_labels"][0] - measured["nll"][0]
    return {"metrics": metrics}


def nulled(conditioning: Conditioning, setting: str) -> Conditioning:
    """The labels a setting evaluates with: the true ones, or with the pitch (or both) made null."""
    null = torch.full_like(conditioning.pitch, NULL_LABEL)
    if setting == "nll_no_pitch":
        return Conditioning(pitch=null, family=conditioning.family)
    if setting == "nll_no_labels":
        return Conditioning(pitch=null, family=null.clone())
    return conditioning
