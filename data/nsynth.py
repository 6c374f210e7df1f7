"""`NSynthDataset`: the NSynth layout as a torch Dataset (datasets-registry plugin ``nsynth``).

Everything that can be wrong with the data is found at construction: malformed metadata, notes
that point to absent files, unreadable/stereo/wrong-rate/wrong-length WAVs (``validate``). Such
notes raise a `DataError` naming the file, or with ``on_bad_file="skip"`` are dropped and counted in
`summary()`. ``__getitem__`` only reads one WAV with soundfile and returns plain tensors and ints,
so ``torch.utils.data.default_collate`` batches items and DataLoader workers stay cheap.

Splits: ``official`` uses the directories as they are; ``paper`` uses the seeded 80/20 split of
official train ∪ valid (see `splits.py`), with ``test`` left as the official test set.

The construction is three plain steps (nsynth_index.py): read the root's index, pick the split's
members, check their audio; the dataset then only reads (``__getitem__``, `summary`).
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch.utils.data import Dataset

from specinpaint.core.conditioning import NSYNTH_FAMILIES, NSYNTH_SOURCES, PITCH_MAX, PITCH_MIN
from specinpaint.core.errors import DataError

from .filters import NoteFilter
from .labels import LabelEncoders
from .nsynth_format import AUDIO_DIR, NUM_SAMPLES, SAMPLE_RATE, NoteRecord
from .nsynth_index import NSynthIndex, check_audio, resolve_root, split_members
from .splits import PAPER_SEED, PAPER_TRAIN_FRACTION
from .wav_check import CheckMode, read_note

log = logging.getLogger(__name__)
MAX_REPORTED = 10  # bad files listed by name in the summary


class NSynthDataset(Dataset):
    """NSynth-format notes with explicit filters, the paper's split and dataset-wide label encoders."""

    description = "NSynth-format notes: pitch/family/source/velocity filters, official or paper 80/20 split"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        root: str | None = Field(
            None, description="NSynth root (holds train/ valid/ test/, or the official nsynth-train/ nsynth-valid/ "
            "nsynth-test/); None = the built-in SoundFont render"
        )
        split: str = "train"
        split_scheme: Literal["official", "paper"] = Field(
            "paper", description="paper: seeded 80/20 over official train+valid (test stays official)"
        )
        split_seed: int = PAPER_SEED
        split_train_fraction: float = Field(PAPER_TRAIN_FRACTION, gt=0, lt=1)
        splits_file: str | None = Field(
            None, description="paper split JSON: read if it exists, else written there "
            "(default <root>/splits/paper-seed<seed>.json when writable)"
        )
        pitch_min: int = Field(PITCH_MIN, ge=0, le=127)
        pitch_max: int = Field(PITCH_MAX, ge=0, le=127)
        families: list[str] | None = Field(None, description="keep only these families (None = all 11)")
        sources: list[str] | None = Field(None, description="acoustic / electronic / synthetic (None = all)")
        velocities: list[int] | None = None
        sample_rate: int = Field(SAMPLE_RATE, description="files must be at this rate (no resampling)")
        expected_samples: int = Field(NUM_SAMPLES, ge=1, description="files must have exactly this length")
        num_samples: int | None = Field(
            None, ge=1, description="crop/zero-pad returned audio to this length (None = file length)"
        )
        validate_files: CheckMode = Field(
            "header", description="checks at construction: none | exists | header | full (decode every file)"
        )
        on_bad_file: Literal["error", "skip"] = "error"

        @field_validator("families")
        @classmethod
        def _families(cls, value: list[str] | None) -> list[str] | None:
            for name in value or []:
                if name not in NSYNTH_FAMILIES:
                    raise ValueError(f"unknown family '{name}' (known: {', '.join(NSYNTH_FAMILIES)})")
            return value

        @field_validator("sources")
        @classmethod
        def _sources(cls, value: list[str] | None) -> list[str] | None:
            for name in value or []:
                if name not in NSYNTH_SOURCES:
                    raise ValueError(f"unknown source '{name}' (known: {', '.join(NSYNTH_SOURCES)})")
            return value

    def __init__(self, params: Params | None = None, **kwargs: Any) -> None:
        if params is None:
            params = self.Params(**kwargs)
        elif kwargs:
            raise TypeError("pass either a Params object or keyword arguments, not both")
        self.params = params
        if params.pitch_min > params.pitch_max:
            raise DataError(f"pitch_min {params.pitch_min} > pitch_max {params.pitch_max}")
        self.filter = NoteFilter.from_names(
            params.pitch_min, params.pitch_max, params.families, params.sources, params.velocities
        )
        self.root = resolve_root(params.root)
        self._skipped: list[str] = []
        index = NSynthIndex.read(self.root, self._bad)
        self._split_dirs, self.available_splits = index.split_dirs, index.available_splits
        self._bad_metadata = index.bad_metadata
        members, self.splits_file = split_members(
            index, params.split, params.split_scheme, pitch_range=(params.pitch_min, params.pitch_max),
            seed=params.split_seed, train_fraction=params.split_train_fraction, splits_file=params.splits_file,
        )
        kept, self.removed = self.filter.apply(index.records[name] for name in members)
        self._bad_audio = 0
        if kept:
            kept, self._bad_audio = check_audio(index, kept, params.validate_files, params.sample_rate,
                                                params.expected_samples, self._bad)
        if not kept:
            raise DataError(
                f"{self.root}: split '{params.split}' has no notes left after filters "
                f"({self.filter.describe_line()}; skipped {len(self._skipped)} bad file(s))"
            )
        # encoders: whole dataset (every split directory), after filters, never per split
        self._labels = LabelEncoders.fit(self.filter.apply(index.records.values())[0])
        kept.sort(key=lambda r: r.note_str)
        self._store(kept, index.owner)
        log.info("NSynth %s/%s: %d notes; %s; skipped %d", self.root.name, params.split, len(self),
                 self.filter.describe_line(), len(self._skipped))

    def _bad(self, message: str) -> None:
        if self.params.on_bad_file == "error":
            raise DataError(message)
        self._skipped.append(message)

    def _store(self, kept: list[NoteRecord], owner: dict[str, str]) -> None:
        """Compact arrays (cheap to share with forked DataLoader workers)."""
        self._split_names = sorted({owner[r.note_str] for r in kept})
        self._note_strs = [r.note_str for r in kept]
        self._split_index = np.array([self._split_names.index(owner[r.note_str]) for r in kept], dtype=np.int8)
        self._ints = np.array(
            [(r.pitch, r.velocity, r.instrument, r.family, r.source) for r in kept], dtype=np.int64
        )
        self._qualities = np.array([r.qualities for r in kept], dtype=np.int64)
        self._instrument_strs = [r.instrument_str for r in kept]

    # -- Dataset -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._note_strs)

    def audio_path(self, index: int) -> Path:
        split = self._split_names[int(self._split_index[index])]
        return self._split_dirs[split] / AUDIO_DIR / f"{self._note_strs[index]}.wav"

    def record(self, index: int) -> NoteRecord:
        pitch, velocity, instrument, family, source = (int(v) for v in self._ints[index])
        return NoteRecord(self._note_strs[index], pitch, velocity, instrument, self._instrument_strs[index],
                          family, source, tuple(int(q) for q in self._qualities[index]))

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} notes")
        index = index % len(self)
        audio = read_note(self.audio_path(index), self.params.sample_rate, self.params.expected_samples)
        wanted = self.params.num_samples
        if wanted is not None and wanted != len(audio):
            audio = audio[:wanted] if wanted < len(audio) else np.pad(audio, (0, wanted - len(audio)))
        pitch, velocity, instrument, family, source = (int(v) for v in self._ints[index])
        return {
            "audio": torch.from_numpy(audio),
            "pitch": pitch,
            "family": family,
            "source": source,
            "velocity": velocity,
            "instrument": instrument,
            "qualities": torch.from_numpy(self._qualities[index].copy()),
            "note_str": self._note_strs[index],
            "index": index,
        }

    # -- introspection -----------------------------------------------------------------------------
    @property
    def labels(self) -> LabelEncoders:
        """Encoders fitted over the whole dataset (every split, after filters): same for every split."""
        return self._labels

    @property
    def note_names(self) -> list[str]:
        return list(self._note_strs)

    @property
    def pitches(self) -> np.ndarray:
        return self._ints[:, 0].copy()

    @property
    def families(self) -> np.ndarray:
        return self._ints[:, 3].copy()

    @property
    def skipped(self) -> list[str]:
        """One message per dropped note (``on_bad_file="skip"``)."""
        return list(self._skipped)

    def summary(self) -> dict[str, Any]:
        """Counts per family/source/pitch/velocity, filters applied, split used, skipped files."""
        ints = self._ints

        def counts(column: int, names: tuple[str, ...] | None = None) -> dict[str, int]:
            counter = Counter(int(v) for v in ints[:, column])
            return {(names[k] if names else str(k)): counter[k] for k in sorted(counter)}

        return {
            "root": str(self.root),
            "split": self.params.split,
            "split_scheme": self.params.split_scheme,
            "split_seed": self.params.split_seed if self.params.split_scheme == "paper" else None,
            "splits_file": str(self.splits_file) if self.splits_file else None,
            "available_splits": self.available_splits,
            "filters": self.filter.describe(),
            "removed_by_filter": dict(self.removed),
            "notes": len(self),
            "instruments": len(set(self._instrument_strs)),
            "per_family": counts(3, NSYNTH_FAMILIES),
            "per_source": counts(4, NSYNTH_SOURCES),
            "per_pitch": counts(0),
            "per_velocity": counts(1),
            "validate_files": self.params.validate_files,
            "on_bad_file": self.params.on_bad_file,
            "skipped": {"metadata": self._bad_metadata, "audio": self._bad_audio, "total": len(self._skipped)},
            "skipped_examples": self._skipped[:MAX_REPORTED],
        }

    def __repr__(self) -> str:
        return f"NSynthDataset({self.root}, split={self.params.split!r}, notes={len(self)}, {self.filter.describe_line()})"


def format_summary(summary: dict[str, Any]) -> str:
    """Readable multi-line text of `NSynthDataset.summary()` (the CLI prints this)."""
    f = summary["filters"]

    def join(value: object) -> str:
        return value if isinstance(value, str) else ", ".join(str(v) for v in value)  # type: ignore[union-attr]

    split = f"{summary['split']} (scheme {summary['split_scheme']}"
    if summary["split_seed"] is not None:
        split += f", seed {summary['split_seed']}, file {summary['splits_file'] or 'in memory'}"
    lines = [
        f"root:        {summary['root']}",
        f"split:       {split})",
        f"notes:       {summary['notes']} from {summary['instruments']} instruments",
        f"filters:     pitch {f['pitch'][0]}..{f['pitch'][1]} | families: {join(f['families'])} | "
        f"sources: {join(f['sources'])} | velocities: {join(f['velocities'])}",
        "removed:     " + ", ".join(f"{k} {v}" for k, v in summary["removed_by_filter"].items()),
        f"skipped:     {summary['skipped']['total']} (metadata {summary['skipped']['metadata']}, "
        f"audio {summary['skipped']['audio']}; validate={summary['validate_files']}, "
        f"on_bad_file={summary['on_bad_file']})",
        "per family:  " + ", ".join(f"{k} {v}" for k, v in summary["per_family"].items()),
        "per source:  " + ", ".join(f"{k} {v}" for k, v in summary["per_source"].items()),
        "per velocity: " + ", ".join(f"{k} {v}" for k, v in summary["per_velocity"].items()),
        "per pitch:   " + ", ".join(f"{k}:{v}" for k, v in summary["per_pitch"].items()),
    ]
    lines += [f"  skipped: {msg}" for msg in summary["skipped_examples"]]
    return "\n".join(lines)
