"""The index of an NSynth-layout root: every split directory's metadata, read and checked once.

`NSynthIndex.read` parses ``examples.json`` of every split directory (a note in two directories is
an error; a malformed record goes to ``report``, which raises or counts it). `split_members` picks the
notes of one split (``official``: a directory as it is; ``paper``: the seeded 80/20 split of
official train ∪ valid, from `splits.paper_lists`). `check_audio` drops (or refuses) notes whose
WAV is missing or malformed. `NSynthDataset` composes them and only reads afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from specinpaint.core.conditioning import PITCH_MAX, PITCH_MIN
from specinpaint.core.errors import DataError

from .nsynth_format import AUDIO_DIR, NoteRecord, read_examples, split_directories, validate_record
from .splits import PAPER_SOURCE_SPLITS, PAPER_SPLIT_NAMES, paper_lists
from .wav_check import CheckMode, check_file, list_audio_dir

Report = Callable[[str], None]


def resolve_root(root: str | None) -> Path:
    """``root`` as a directory; None = the built-in SoundFont render (rendered on first use)."""
    if root is None:
        from .render_cache import ensure_rendered

        return ensure_rendered()
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DataError(f"{path}: NSynth root directory does not exist")
    return path


@dataclass
class NSynthIndex:
    """Every valid record of every split directory under ``root`` and the directory owning each note."""

    root: Path
    split_dirs: dict[str, Path]
    records: dict[str, NoteRecord] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)
    bad_metadata: int = 0

    @property
    def available_splits(self) -> list[str]:
        return list(self.split_dirs)

    @classmethod
    def read(cls, root: Path, report: Report) -> NSynthIndex:
        split_dirs = split_directories(root)
        if not split_dirs:
            raise DataError(f"{root}: no split directory with an examples.json (expected train/, valid/, test/ "
                            "or nsynth-train/, nsynth-valid/, nsynth-test/)")
        index = cls(root, dict(split_dirs))
        for split, directory in index.split_dirs.items():
            path = directory / "examples.json"
            for note_str, entry in read_examples(directory).items():
                if note_str in index.owner:
                    raise DataError(f"{path}: note '{note_str}' also appears in split '{index.owner[note_str]}'")
                try:
                    index.records[note_str] = validate_record(note_str, entry, str(path))
                except DataError as exc:
                    index.bad_metadata += 1
                    report(str(exc))
                    continue
                index.owner[note_str] = split
        return index

    def audio_path(self, note_str: str) -> Path:
        return self.split_dirs[self.owner[note_str]] / AUDIO_DIR / f"{note_str}.wav"


def split_members(
    index: NSynthIndex, split: str, scheme: str, *, pitch_range: tuple[int, int], seed: int,
    train_fraction: float, splits_file: str | None,
) -> tuple[list[str], Path | None]:
    """The note names of ``split`` and the paper split file used (None: official scheme, or a split
    kept in memory)."""
    available = index.available_splits
    if scheme == "official" or split not in PAPER_SPLIT_NAMES:
        if split not in available:
            raise DataError(f"{index.root}: no split '{split}' (found: {', '.join(available)}; scheme '{scheme}')")
        return [name for name, owner in index.owner.items() if owner == split], None
    low, high = pitch_range
    if low < PITCH_MIN or high > PITCH_MAX:
        raise DataError(
            f"split_scheme 'paper' covers MIDI {PITCH_MIN}..{PITCH_MAX} only; use split_scheme 'official' "
            f"for pitch range {low}..{high}"
        )
    sources = [s for s in PAPER_SOURCE_SPLITS if s in available]
    if "train" not in sources:
        raise DataError(f"{index.root}: the paper split needs a train/ (or nsynth-train/) directory "
                        f"(found: {available})")
    basis = {n for n, s in index.owner.items() if s in sources and PITCH_MIN <= index.records[n].pitch <= PITCH_MAX}
    lists, path = paper_lists(basis, index.root, sources, seed=seed, train_fraction=train_fraction,
                              splits_file=splits_file, tolerate_absent=index.bad_metadata > 0)
    return lists[split], path


def check_audio(
    index: NSynthIndex, kept: Sequence[NoteRecord], mode: CheckMode, sample_rate: int, expected_samples: int,
    report: Report,
) -> tuple[list[NoteRecord], int]:
    """The notes whose WAV passes ``mode``'s checks, and how many did not (each one ``report``\\ ed)."""
    if mode == "none":
        return list(kept), 0
    listings = {split: list_audio_dir(index.split_dirs[split] / AUDIO_DIR)
                for split in {index.owner[r.note_str] for r in kept}}
    good, bad = [], 0
    for record in kept:  # (a thread pool measured slower, warm cache)
        listing = listings[index.owner[record.note_str]]
        problem = check_file(index.audio_path(record.note_str), mode, sample_rate, expected_samples, listing)
        if problem is None:
            good.append(record)
        else:
            bad += 1
            report(problem)
    return good, bad
