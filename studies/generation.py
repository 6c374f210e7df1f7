"""Generation: notes sampled from scratch on a grid, checked against what was asked.

The grid is every family of the training data × ``pitches_per_family`` pitches spread over that
family's range in the training data × ``seeds`` samples, with the bundle's default sampling. Each
note is scored by pYIN (``pitch_accuracy``, ``octave_error_rate``, ``unvoiced_rate``) and by the
family classifier (``family_accuracy``; ``family_accuracy_ratio`` divides it by the classifier's
held-out accuracy on real notes, its ceiling), overall, per family and per register.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np
import torch

from specinpaint.core.conditioning import NSYNTH_FAMILIES
from specinpaint.editing import Editor

from . import notes
from .context import EvaluationContext
from .intervals import wilson_interval


def family_pitches(dataset: Any) -> dict[int, list[int]]:
    """Family index → sorted distinct pitches of that family in ``dataset``."""
    families = np.asarray(dataset.families)
    pitches = np.asarray(dataset.pitches)
    return {int(f): sorted({int(p) for p in pitches[families == f]}) for f in sorted(set(families.tolist()))}


def generation_grid(ranges: dict[int, list[int]], per_family: int, seeds: int) -> list[tuple[int, int, int]]:
    """(family, pitch, seed index) for every cell of the grid."""
    grid = []
    for family, pitches in ranges.items():
        chosen = [pitches[i] for i in notes.spread(len(pitches), per_family)]
        grid += [(family, pitch, seed) for seed in range(seeds) for pitch in chosen]
    return grid


def _rate(values: list[bool]) -> float:
    return sum(values) / len(values) if values else math.nan


def _add_interval(metrics: dict[str, float], name: str, successes: int, trials: int) -> None:
    """``{name}_low`` / ``{name}_high``: the grid's 95 % interval of that accuracy (Wilson)."""
    metrics[f"{name}_low"], metrics[f"{name}_high"] = wilson_interval(successes, trials)


@torch.no_grad()
def evaluate_generation(ctx: EvaluationContext) -> dict[str, Any]:
    pipeline, spec = ctx.pipeline, ctx.spec
    ctx.ready_pipeline()
    editor = Editor(pipeline)
    source = ctx.train_dataset if ctx.train_dataset is not None else ctx.dataset
    grid = generation_grid(family_pitches(source), spec.pitches_per_family, spec.seeds)
    audio_parts = []
    for seed in range(spec.seeds):
        cells = [cell for cell in grid if cell[2] == seed]
        for start in range(0, len(cells), spec.batch_size):
            chunk = cells[start:start + spec.batch_size]
            result = editor.generate([c[1] for c in chunk], [c[0] for c in chunk], n=len(chunk),
                                     sampling={**spec.sampling, "seed": spec.seed + 1000 * seed + start})
            audio_parts.append(result.audio.float().cpu())
    ordered = [cell for seed in range(spec.seeds) for cell in grid if cell[2] == seed]
    audio = torch.cat(audio_parts)
    target_pitch = torch.tensor([c[1] for c in ordered], dtype=torch.long)
    target_family = torch.tensor([c[0] for c in ordered], dtype=torch.long)
    scored = ctx.score_pitch(ctx.estimate_pitch(audio), target_pitch)
    voiced = torch.isfinite(scored["midi"])
    families = ctx.family_accuracy(audio, target_family)
    predicted = families[1] if families is not None else None

    metrics: dict[str, float] = {
        "notes": float(len(ordered)),
        "pitch_accuracy": float(scored["accuracy"]),
        "octave_error_rate": float(scored["octave_error_rate"]),
        "unvoiced_rate": float((~voiced).double().mean()),
    }
    _add_interval(metrics, "pitch_accuracy", int(torch.as_tensor(scored["correct"]).sum()), len(ordered))
    if families is not None and ctx.classifier is not None:
        ceiling = ctx.classifier.heldout_accuracy
        metrics["family_accuracy"] = families[0]
        _add_interval(metrics, "family_accuracy", int((families[1] == target_family).sum()), len(ordered))
        metrics["classifier_heldout_accuracy"] = ceiling
        metrics["family_accuracy_ratio"] = families[0] / ceiling if ceiling > 0 else math.nan

    groups: dict[str, dict[str, list[int]]] = {"per_family": defaultdict(list), "per_register": defaultdict(list)}
    for i, (family, pitch, _) in enumerate(ordered):
        groups["per_family"][NSYNTH_FAMILIES[family] if 0 <= family < len(NSYNTH_FAMILIES) else str(family)].append(i)
        groups["per_register"][notes.register_of(pitch)].append(i)
    breakdown: dict[str, dict[str, dict[str, float]]] = {}
    for group, members in groups.items():
        breakdown[group] = {}
        for name, rows in members.items():
            entry = {
                "notes": float(len(rows)),
                "pitch_accuracy": _rate([bool(scored["correct"][r]) for r in rows]),
                "octave_error_rate": _rate([bool(scored["octave_error"][r]) for r in rows]),
                "unvoiced_rate": _rate([not bool(voiced[r]) for r in rows]),
            }
            if predicted is not None:
                entry["family_accuracy"] = _rate([int(predicted[r]) == ordered[r][0] for r in rows])
            breakdown[group][name] = entry
    details = {
        "notes": [
            {"family": f, "pitch": p, "seed": s,
             "estimated_midi": None if not math.isfinite(float(m)) else round(float(m), 3),
             "predicted_family": None if predicted is None else int(predicted[i])}
            for i, ((f, p, s), m) in enumerate(zip(ordered, scored["midi"].tolist(), strict=True))
        ],
    }
    return {"metrics": metrics, **breakdown, "details": details}
