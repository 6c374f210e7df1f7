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
import logging
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

log = logging.getLogger(__name__)


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


def paper_lists(
    basis: set[str], root: Path, sources: Iterable[str], *, seed: int = PAPER_SEED,
    train_fraction: float = PAPER_TRAIN_FRACTION, splits_file: str | Path | None = None,
    tolerate_absent: bool = False,
) -> tuple[dict[str, list[str]], Path | None]:
    """The paper lists of the notes in ``basis``, and the split file they came from or went to.

    The file (``splits_file``, default `default_split_path`) is read when it exists; it must cover
    ``basis`` and name no other note (unless ``tolerate_absent``: notes whose metadata was dropped).
    Otherwise the lists are computed and written there; None when the default place is not
    writable (the lists stay in memory)."""
    path = Path(splits_file).expanduser() if splits_file else default_split_path(root, seed, train_fraction)
    if path.is_file():
        lists = read_split(path)["splits"]
        missing = [n for n in PAPER_SPLIT_NAMES if n not in lists]
        if missing:
            raise DataError(f"{path}: split file lacks list(s) {', '.join(missing)}")
        listed = set().union(*(set(v) for v in lists.values()))
        absent = sorted(listed - basis)
        if absent and not tolerate_absent:
            raise DataError(
                f"{path}: names {len(absent)} note(s) absent from {root} (e.g. {absent[0]}); "
                "is it the split of another dataset?"
            )
        unassigned = sorted(basis - listed)
        if unassigned:
            raise DataError(
                f"{path}: {len(unassigned)} note(s) of {root} are in no split (e.g. {unassigned[0]}); "
                "delete the file to recompute it"
            )
        return {name: [n for n in items if n in basis] for name, items in lists.items()}, path
    lists = paper_split(basis, seed, train_fraction)
    document = split_document(lists, seed=seed, train_fraction=train_fraction, source_splits=sources)
    try:
        write_split(path, document)
    except OSError as exc:
        if splits_file:
            raise DataError(f"{path}: cannot write split file ({exc})") from exc
        log.info("paper split kept in memory (cannot write %s: %s)", path, exc)
        return lists, None
    return lists, path
