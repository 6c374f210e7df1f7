"""Explicit note filters (pitch range, families, sources, velocities), each counted and described.

Why a separate, visible object: GANSynth's released code once filtered the wrong instrument source
and nobody could see it from the outside. Every filter here says what it keeps in `describe()`, and
`apply()` reports how many notes each filter removed, so summaries show the data actually used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from specinpaint.core.conditioning import NSYNTH_FAMILIES, NSYNTH_SOURCES
from specinpaint.core.errors import DataError

from .nsynth_format import NoteRecord


def _indices(names: Iterable[str] | None, vocabulary: tuple[str, ...], what: str) -> frozenset[int] | None:
    if names is None:
        return None
    out = set()
    for name in names:
        if name not in vocabulary:
            raise DataError(f"unknown instrument {what} '{name}' (known: {', '.join(vocabulary)})")
        out.add(vocabulary.index(name))
    if not out:
        raise DataError(f"empty {what} filter keeps nothing (omit it to keep every {what})")
    return frozenset(out)


@dataclass(frozen=True)
class NoteFilter:
    """Keep a note iff every filter accepts it; ``None`` means "no filter" for that field."""

    pitch_min: int
    pitch_max: int
    families: frozenset[int] | None = None
    sources: frozenset[int] | None = None
    velocities: frozenset[int] | None = None

    @classmethod
    def from_names(
        cls, pitch_min: int, pitch_max: int, families: Iterable[str] | None = None,
        sources: Iterable[str] | None = None, velocities: Iterable[int] | None = None,
    ) -> NoteFilter:
        if not 0 <= pitch_min <= pitch_max <= 127:
            raise DataError(f"pitch range {pitch_min}..{pitch_max} must satisfy 0 <= min <= max <= 127")
        vel = None if velocities is None else frozenset(int(v) for v in velocities)
        if vel is not None and (not vel or not all(0 <= v <= 127 for v in vel)):
            raise DataError(f"velocities filter must list MIDI velocities 0..127, got {sorted(vel)}")
        return cls(
            pitch_min, pitch_max, _indices(families, NSYNTH_FAMILIES, "family"),
            _indices(sources, NSYNTH_SOURCES, "source"), vel,
        )

    def reason(self, record: NoteRecord) -> str | None:
        """Name of the first filter that rejects the note, or None if it is kept."""
        if not self.pitch_min <= record.pitch <= self.pitch_max:
            return "pitch"
        if self.families is not None and record.family not in self.families:
            return "family"
        if self.sources is not None and record.source not in self.sources:
            return "source"
        if self.velocities is not None and record.velocity not in self.velocities:
            return "velocity"
        return None

    def apply(self, records: Iterable[NoteRecord]) -> tuple[list[NoteRecord], dict[str, int]]:
        """(kept records, notes removed per filter)."""
        kept: list[NoteRecord] = []
        removed = {"pitch": 0, "family": 0, "source": 0, "velocity": 0}
        for record in records:
            why = self.reason(record)
            if why is None:
                kept.append(record)
            else:
                removed[why] += 1
        return kept, removed

    def describe(self) -> dict[str, object]:
        """Human- and JSON-friendly description; "all" marks an absent filter."""

        def names(values: frozenset[int] | None, vocabulary: tuple[str, ...]) -> object:
            return "all" if values is None else [vocabulary[i] for i in sorted(values)]

        return {
            "pitch": [self.pitch_min, self.pitch_max],
            "families": names(self.families, NSYNTH_FAMILIES),
            "sources": names(self.sources, NSYNTH_SOURCES),
            "velocities": "all" if self.velocities is None else sorted(self.velocities),
        }

    def describe_line(self) -> str:
        d = self.describe()

        def fmt(value: object) -> str:
            return value if isinstance(value, str) else ",".join(str(v) for v in value)  # type: ignore[union-attr]

        return (
            f"pitch {self.pitch_min}..{self.pitch_max}; families {fmt(d['families'])}; "
            f"sources {fmt(d['sources'])}; velocities {fmt(d['velocities'])}"
        )
