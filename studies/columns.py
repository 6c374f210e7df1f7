"""The column vocabulary of a study table: what each evaluation number means and which way is better.

Columns are the evaluation report's flat names (``section.metric``, `EvaluationReport.flat`) plus
the run's own ``train_s`` and ``eval_s``. The meanings restate the section modules' docstrings
(studies/reconstruction.py, generation.py, inpainting.py, priors.py) so the table, the plots and a
benchmark record use the same words. ``better`` is ``lower``, ``higher``, ``zero`` (closest to 0)
or ``""`` (context, not a score: counts, ceilings, shares).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

SECTIONS = ("reconstruction", "generation", "inpainting", "priors", "timing")
ARROWS = {"lower": "↓", "higher": "↑", "zero": "→0", "": ""}

_SPECTRAL = {
    "sc": "spectral convergence",
    "lsd_db": "log-spectral distance (dB)",
    "mrstft": "multi-resolution STFT distance",
}

RECONSTRUCTION: dict[str, tuple[str, str]] = {
    **{key: (f"{name}, decoded vs raw notes", "lower") for key, name in _SPECTRAL.items()},
    **{f"{key}_vs_roundtrip": (f"{name}, decoded vs the representation's own round trip: what the "
                               "quantizer alone loses", "lower") for key, name in _SPECTRAL.items()},
    **{f"roundtrip_{key}": (f"{name}, round trip (no quantizer) vs raw: what the representation alone loses",
                            "lower") for key, name in _SPECTRAL.items()},
    "level_error_db_mean": ("decoded over raw energy in dB, mean over notes (0 = same level)", "zero"),
    "level_error_db_std": ("spread over notes of that level error (dB)", "lower"),
    "pitch_accuracy": ("pYIN pitch of the decoded notes within the tolerance of the label (share)", "higher"),
    "raw_pitch_accuracy": ("the same estimator on the raw notes: the ceiling", ""),
    "octave_error_rate": ("decoded notes whose pitch is off by whole octaves (share)", "lower"),
    "family_accuracy": ("family classifier on the decoded notes (share right)", "higher"),
    "raw_family_accuracy": ("the classifier on the raw notes: the ceiling", ""),
    "unlabelled_sc": ("spectral convergence of the same notes decoded without their labels (only for a "
                      "decoder that takes labels)", "lower"),
    "unlabelled_pitch_accuracy": ("pitch accuracy of the notes decoded without their labels (only for a decoder "
                                  "that takes labels)", "higher"),
    "estimated_pitch_sc": ("spectral convergence of the same notes decoded with the pitch estimated from the raw "
                           "audio (pYIN) and no family, as unlabelled audio is decoded (only for a decoder that "
                           "takes labels)", "lower"),
    "estimated_pitch_accuracy": ("pitch accuracy of the notes decoded with the pitch estimated from the raw audio "
                                 "(only for a decoder that takes labels)", "higher"),
    "notes": ("held-out notes encoded and decoded", ""),
}
RECONSTRUCTION_LEVEL: dict[str, tuple[str, str]] = {
    "perplexity": ("codebook perplexity exp(H) of the codes of the held-out notes", "higher"),
    "dead_fraction": ("share of the codebook never used on the held-out notes", "lower"),
    "cell_entropy_bits": ("entropy (bits) of each cell's code across the held-out notes, averaged over cells "
                          "(0: every note gets the same map, a collapsed level)", "higher"),
    "silent_entropy_bits": ("entropy (bits) of the codes in cells that are silent in the raw audio "
                            "(few codes for silence = low)", "lower"),
    "silent_distinct_codes": ("distinct codes in silent cells", "lower"),
    "silent_fraction": ("share of code cells that are silent in the raw audio", ""),
}
GENERATION: dict[str, tuple[str, str]] = {
    "pitch_accuracy": ("generated notes whose pYIN pitch is the requested one (share)", "higher"),
    "pitch_accuracy_low": ("lower end of that share's 95 % interval over the grid's notes (Wilson)", ""),
    "pitch_accuracy_high": ("upper end of that interval", ""),
    "octave_error_rate": ("generated notes off by whole octaves (share)", "lower"),
    "unvoiced_rate": ("generated notes where pYIN finds no pitch (share)", "lower"),
    "family_accuracy": ("generated notes the classifier puts in the requested family (share)", "higher"),
    "family_accuracy_low": ("lower end of that share's 95 % interval over the grid's notes (Wilson)", ""),
    "family_accuracy_high": ("upper end of that interval", ""),
    "classifier_heldout_accuracy": ("the classifier on real held-out notes: the ceiling", ""),
    "family_accuracy_ratio": ("family accuracy over that ceiling", "higher"),
    "notes": ("notes generated (families × pitches × samples)", ""),
}
INPAINTING: dict[str, tuple[str, str]] = {
    "codes_outside_unchanged": ("notes whose codes outside the edited region are unchanged (must be 1)", "higher"),
    "outside_lsd_db": ("log-spectral distance (dB) outside the region, result vs decoded original: "
                       "what the edit leaks", "lower"),
    "inside_lsd_db": ("log-spectral distance (dB) inside the region: how much it changed", ""),
    "pitch_accuracy": ("pYIN pitch of the inpainted notes equals their label (share)", "higher"),
    "family_accuracy": ("the classifier on the inpainted notes (share right)", "higher"),
    "cells_changed_fraction": ("share of code cells inside the edited regions", ""),
    "notes": ("held-out notes inpainted (each with three regions)", ""),
}
PRIORS_LEVEL: dict[str, tuple[str, str]] = {
    "nll": ("prior NLL (nats per token) with every token of the level hidden", "lower"),
    "accuracy": ("prior next-token accuracy with every token hidden", "higher"),
    "nll_region": ("prior NLL (nats per token) with the middle box hidden", "lower"),
    "accuracy_region": ("prior accuracy with the middle box hidden", "higher"),
    "perplexity": ("codebook perplexity on the prior's held-out notes", "higher"),
    "dead_fraction": ("share of the codebook unused on those notes", "lower"),
}
PRIORS: dict[str, tuple[str, str]] = {"notes": ("held-out notes the priors are scored on", "")}
FIXED = {"reconstruction": RECONSTRUCTION, "generation": GENERATION, "inpainting": INPAINTING, "priors": PRIORS}
PER_LEVEL = {"reconstruction": RECONSTRUCTION_LEVEL, "priors": PRIORS_LEVEL}
RUN_TIMINGS: dict[str, tuple[str, str]] = {
    "train_s": ("wall seconds the run spent training (or loading a finished bundle)", ""),
    "eval_s": ("wall seconds the run spent evaluating and writing its report", ""),
}


def _per_level(metric: str, docs: dict[str, tuple[str, str]]) -> tuple[int, str, str] | None:
    """(index in ``docs``, level, suffix) of a per-level metric such as ``bottom_nll_region``;
    the longest matching suffix wins (``accuracy_region`` before ``accuracy``)."""
    best = None
    for index, suffix in enumerate(docs):
        if metric.endswith("_" + suffix) and len(metric) > len(suffix) + 1:
            if best is None or len(suffix) > len(best[2]):
                best = (index, metric[: -len(suffix) - 1], suffix)
    return best


def describe(column: str) -> tuple[str, str]:
    """(meaning, better) of a column; ``("", "")`` for a name outside the vocabulary."""
    if column in RUN_TIMINGS:
        return RUN_TIMINGS[column]
    section, _, metric = column.partition(".")
    if column == "timing.classifier":
        return "seconds training (or loading the cached) family classifier", ""
    if section == "timing" and metric:
        what = metric[len("train_"):] if metric.startswith("train_") else metric
        verb = "training the" if metric.startswith("train_") else "evaluating"
        return f"seconds {verb} {what.replace('_', ' ')}", ""
    if metric in FIXED.get(section, {}):
        return FIXED[section][metric]
    found = _per_level(metric, PER_LEVEL.get(section, {}))
    if found is not None:
        meaning, better = PER_LEVEL[section][found[2]]
        return f"{found[1]} level: {meaning}", better
    return "", ""


def order_key(column: str) -> tuple[int, int, int, str]:
    """Sections in evaluation order, the vocabulary's order inside each, unknown names last."""
    if column in RUN_TIMINGS:
        return (len(SECTIONS), 0, list(RUN_TIMINGS).index(column), "")
    section, _, metric = column.partition(".")
    rank = SECTIONS.index(section) if section in SECTIONS else len(SECTIONS) + 1
    fixed = list(FIXED.get(section, {}))
    if metric in fixed:
        return (rank, 0, fixed.index(metric), "")
    found = _per_level(metric, PER_LEVEL.get(section, {}))
    if found is not None:
        return (rank, 1, found[0], found[1])
    return (rank, 2, 0, metric)


def ordered(columns: Iterable[str]) -> list[str]:
    return sorted(dict.fromkeys(columns), key=order_key)


def section_of(column: str) -> str:
    """``reconstruction``, ..., ``timing`` (run timings count as timing)."""
    return "timing" if column in RUN_TIMINGS else column.partition(".")[0]


def best_index(means: list[float], better: str) -> int | None:
    """Index of the best finite mean for a direction, None when there is no direction or value."""
    finite = [(i, v) for i, v in enumerate(means) if math.isfinite(v)]
    if not finite or better not in ("lower", "higher", "zero"):
        return None
    key = {"lower": lambda iv: iv[1], "higher": lambda iv: -iv[1], "zero": lambda iv: abs(iv[1])}[better]
    return min(finite, key=key)[0]
