"""The paper's 80/20 split of NSynth, written to disk as JSON lists of note names.

The paper (``create_nsynth_dataset_split.py``) merged the official *train* and *valid* metadata,
kept pitches 24..84, sorted the notes by name and called
``sklearn.model_selection.train_test_split(train_size=0.8, random_state=20200117, shuffle=True)``.
`paper_split` reproduces that call exactly with NumPy's legacy ``RandomState`` (the generator
sklearn uses), so on the real NSynth it yields the paper's own lists. The split is made before any
user filter, so a family or source filter never moves a note from one side to the other.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from specinpaint.core.atomic import atomic_write_text
from specinpaint.core.conditioning import PITCH_MAX, PITCH_MIN
from specinpaint.core.errors import DataError

PAPER_SEED = 20200117
PAPER_TRAIN_FRACTION = 0.8
PAPER_SOURCE_SPLITS = ("train", "valid")
PAPER_SPLIT_NAMES = ("train", "valid")
SPLIT_FORMAT = "specinpaint-nsynth-split/1"


def paper_split(
    note_names: Iterable[str], seed: int = PAPER_SEED, train_fraction: float = PAPER_TRAIN_FRACTION
) -> dict[str, list[str]]:
    """Seeded random split of notes → {"train": [...], "valid": [...]} (sklearn-identical)."""
    names = sorted(set(note_names))
    if len(names) < 2:
        raise DataError(f"the paper split needs at least 2 notes, got {len(names)}")
    if not 0.0 < train_fraction < 1.0:
        raise DataError(f"train_fraction must be in (0, 1), got {train_fraction}")
    n_train = math.floor(train_fraction * len(names))
    n_valid = len(names) - n_train
    if n_train == 0:
        raise DataError(f"train_fraction {train_fraction} leaves no training note out of {len(names)}")
    order = np.random.RandomState(seed).permutation(len(names))
    return {
        "train": [names[i] for i in order[n_valid:]],
        "valid": [names[i] for i in order[:n_valid]],
    }


def split_document(
    lists: dict[str, list[str]], *, seed: int, train_fraction: float, source_splits: Iterable[str]
) -> dict[str, Any]:
    """The JSON written to disk: the lists plus how they were made."""
    return {
        "format": SPLIT_FORMAT,
        "scheme": "paper",
        "seed": seed,
        "train_fraction": train_fraction,
        "source_splits": list(source_splits),
        "pitch_range": [PITCH_MIN, PITCH_MAX],
        "counts": {name: len(items) for name, items in lists.items()},
        "splits": lists,
    }


def write_split(path: str | Path, document: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(document, indent=1))


def read_split(path: str | Path) -> dict[str, Any]:
    """Read and check a split file written by `write_split`."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read split file ({exc})") from exc
    splits = document.get("splits") if isinstance(document, dict) else None
    if not isinstance(splits, dict) or not all(
        isinstance(v, list) and all(isinstance(n, str) for n in v) for v in splits.values()
    ):
        raise DataError(f"{path}: expected {{'splits': {{name: [note names]}}}}")
    seen: set[str] = set()
    for name, items in splits.items():
        overlap = seen.intersection(items)
        if overlap:
            raise DataError(f"{path}: split '{name}' shares notes with another split, e.g. {sorted(overlap)[0]}")
        seen.update(items)
    return document


def default_split_path(root: Path, seed: int, train_fraction: float) -> Path:
    suffix = "" if train_fraction == PAPER_TRAIN_FRACTION else f"-train{train_fraction:g}"
    return Path(root) / "splits" / f"paper-seed{seed}{suffix}.json"
