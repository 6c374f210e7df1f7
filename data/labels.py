"""Label encoders fitted once over a whole dataset and saved with the pipeline.

The original fitted one sklearn ``LabelEncoder`` per field *per split*, so train and valid encodings
agreed only by luck. Here they are fitted over every split of the dataset (after filters), stored
as plain JSON (a class list per field) and reused unchanged for every split and at inference.
``instrument_family`` and ``instrument_source`` use NSynth's fixed vocabularies, so their codes are
NSynth's own indices (the ones `Conditioning` uses) whatever subset is loaded; which of their
values the data actually held is saved beside them (``present``), so a bundle trained on three
families offers those three (`specinpaint.editing.LabelVocabulary`).

JSON: ``{"format_version": 1, "classes": {field: [...]}, "present": {field: [...]}}``; ``present``
lists only the fixed-vocabulary fields, in vocabulary order, and may be absent (older bundles: every
class counts as present). A third-party dataset writes its own ``classes`` (e.g. its family names,
whose positions are the family indices it yields).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specinpaint.core.conditioning import NSYNTH_FAMILIES, NSYNTH_SOURCES
from specinpaint.core.errors import DataError

from .nsynth_format import NoteRecord

FORMAT_VERSION = 1
FIELDS = ("pitch", "velocity", "instrument_family", "instrument_source", "instrument_str")


@dataclass
class LabelEncoder:
    """Class list ↔ dense indices 0..n-1 (like sklearn's, without the import)."""

    name: str
    classes: list[Any]
    present: list[Any] | None = None  # the classes the data held (None: all of them)
    _index: dict[Hashable, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._index = {value: i for i, value in enumerate(self.classes)}
        if len(self._index) != len(self.classes):
            raise DataError(f"label encoder '{self.name}': duplicate classes")
        if self.present is not None and not set(self.present) <= set(self._index):
            raise DataError(f"label encoder '{self.name}': present values outside its classes")

    @classmethod
    def fit(cls, name: str, values: Iterable[Hashable]) -> LabelEncoder:
        return cls(name, sorted(set(values)))

    @classmethod
    def fixed(cls, name: str, vocabulary: Sequence[Hashable], values: Iterable[Hashable]) -> LabelEncoder:
        """Codes from a fixed ``vocabulary``; ``values`` (what the data held) are recorded as present."""
        seen = set(values)
        return cls(name, list(vocabulary), [v for v in vocabulary if v in seen])

    def __len__(self) -> int:
        return len(self.classes)

    def encode(self, value: Hashable) -> int:
        try:
            return self._index[value]
        except KeyError:
            raise DataError(f"label '{self.name}': unknown value {value!r} (known: {self.classes[:10]}...)") from None

    def decode(self, index: int) -> Any:
        if not 0 <= int(index) < len(self.classes):
            raise DataError(f"label '{self.name}': index {index} outside 0..{len(self.classes) - 1}")
        return self.classes[int(index)]


class LabelEncoders:
    """One `LabelEncoder` per field in `FIELDS`; access as ``labels["pitch"]`` or ``labels.pitch``."""

    def __init__(self, encoders: dict[str, LabelEncoder]) -> None:
        missing = [name for name in FIELDS if name not in encoders]
        if missing:
            raise DataError(f"label encoders lack field(s) {', '.join(missing)}")
        self.encoders = encoders

    @classmethod
    def fit(cls, records: Iterable[NoteRecord]) -> LabelEncoders:
        records = list(records)
        if not records:
            raise DataError("cannot fit label encoders on an empty dataset (check the filters)")
        return cls({
            "pitch": LabelEncoder.fit("pitch", (r.pitch for r in records)),
            "velocity": LabelEncoder.fit("velocity", (r.velocity for r in records)),
            "instrument_family": LabelEncoder.fixed(
                "instrument_family", NSYNTH_FAMILIES, (NSYNTH_FAMILIES[r.family] for r in records)),
            "instrument_source": LabelEncoder.fixed(
                "instrument_source", NSYNTH_SOURCES, (NSYNTH_SOURCES[r.source] for r in records)),
            "instrument_str": LabelEncoder.fit("instrument_str", (r.instrument_str for r in records)),
        })

    def __getitem__(self, name: str) -> LabelEncoder:
        try:
            return self.encoders[name]
        except KeyError:
            raise DataError(f"no label encoder '{name}' (known: {', '.join(self.encoders)})") from None

    def __getattr__(self, name: str) -> LabelEncoder:
        if name == "encoders":  # not yet set (during unpickling)
            raise AttributeError(name)
        if name in self.encoders:
            return self.encoders[name]
        raise AttributeError(name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelEncoders) and self.to_json() == other.to_json()

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable dict (store it in ``Pipeline.extras["labels"]``)."""
        out: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "classes": {name: list(enc.classes) for name, enc in self.encoders.items()},
        }
        present = {name: list(enc.present) for name, enc in self.encoders.items() if enc.present is not None}
        if present:
            out["present"] = present
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any] | str) -> LabelEncoders:
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as exc:
                raise DataError(f"label encoders: invalid JSON ({exc})") from exc
        if not isinstance(data, dict) or not isinstance(data.get("classes"), dict):
            raise DataError("label encoders: expected {'format_version': 1, 'classes': {field: [...]}}")
        if data.get("format_version") != FORMAT_VERSION:
            raise DataError(f"label encoders: unsupported format_version {data.get('format_version')!r}")
        present = data.get("present") or {}
        if not isinstance(present, dict):
            raise DataError("label encoders: 'present' must map fields to the values the data held")
        return cls({name: LabelEncoder(name, list(classes), None if name not in present else list(present[name]))
                    for name, classes in data["classes"].items()})

    def save(self, path: str | Path) -> None:
        from specinpaint.core.atomic import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> LabelEncoders:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise DataError(f"{path}: cannot read label encoders ({exc})") from exc
        return cls.from_json(text)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(enc)}" for name, enc in self.encoders.items())
        return f"LabelEncoders({sizes})"
