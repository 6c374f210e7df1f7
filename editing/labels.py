"""`LabelVocabulary`: which instrument families and pitches a bundle can be asked for.

Why from the bundle: a pipeline is conditioned on the labels of the data it was trained on. The
training stage saves that dataset's label encoders in ``extras["labels"]`` (the format of
`specinpaint.data.labels.LabelEncoders.to_json`: ``classes`` per field, and ``present`` for fixed
vocabularies of which the data held only a part). Family *indices* index
``classes["instrument_family"]`` (NSynth's 11 names for NSynth data, a third-party dataset's own
names otherwise); the families *offered* are those the data held; the pitch range spans the
pitches it held. A bundle without labels falls back to NSynth's vocabulary (24..84, 11 families).
Either way the offer is narrowed to what the priors' class embeddings can take
(``pitch_range``, ``num_families`` in their params).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from specinpaint.core.bundle import EXTRAS_FILE
from specinpaint.core.conditioning import NSYNTH_FAMILIES, NULL_LABEL, PITCH_MAX, PITCH_MIN, Conditioning

from .errors import EditError

LABELS_FORMAT = 1
FAMILY_FIELD, PITCH_FIELD = "instrument_family", "pitch"


@dataclass(frozen=True)
class LabelVocabulary:
    """``families``: the index space of the family labels; ``offered``: the families a user may
    ask for (a subset, in index order); ``pitch_range``: MIDI, inclusive; ``from_bundle``: False
    for the NSynth fallback."""

    families: tuple[str, ...]
    offered: tuple[str, ...]
    pitch_range: tuple[int, int]
    from_bundle: bool = True

    @classmethod
    def nsynth(cls) -> LabelVocabulary:
        """NSynth's vocabulary, for bundles that saved no labels."""
        return cls(tuple(NSYNTH_FAMILIES), tuple(NSYNTH_FAMILIES), (PITCH_MIN, PITCH_MAX), from_bundle=False)

    @classmethod
    def from_extras(cls, extras: Mapping[str, Any]) -> LabelVocabulary:
        """The vocabulary of ``extras["labels"]`` (the NSynth fallback when there is none)."""
        labels = extras.get("labels")
        if labels is None:
            return cls.nsynth()
        where = f"{EXTRAS_FILE}: labels"
        if not isinstance(labels, Mapping) or not isinstance(labels.get("classes"), Mapping):
            raise EditError(f"{where}: expected {{'format_version': 1, 'classes': {{field: [...]}}}}")
        if labels.get("format_version") != LABELS_FORMAT:
            raise EditError(f"{where}: unsupported format_version {labels.get('format_version')!r}")
        classes = labels["classes"]
        families = classes.get(FAMILY_FIELD)
        if not isinstance(families, list) or not families or not all(isinstance(f, str) for f in families):
            raise EditError(f"{where}.classes.{FAMILY_FIELD} must be a non-empty list of family names")
        present = (labels.get("present") or {}).get(FAMILY_FIELD, families)
        if not isinstance(present, list) or not set(present) <= set(families) or not present:
            raise EditError(f"{where}.present.{FAMILY_FIELD} must name some of the classes")
        pitches = classes.get(PITCH_FIELD)
        if (not isinstance(pitches, list) or not pitches
                or not all(isinstance(p, int) and not isinstance(p, bool) for p in pitches)):
            raise EditError(f"{where}.classes.{PITCH_FIELD} must be a non-empty list of MIDI integers")
        offered = tuple(f for f in families if f in set(present))
        return cls(tuple(families), offered, (min(pitches), max(pitches)))

    @classmethod
    def of(cls, pipeline: Any) -> LabelVocabulary:
        """What ``pipeline`` can be asked for: its bundle's labels within its priors' embeddings."""
        return cls.from_extras(pipeline.extras).within(dict(pipeline.priors.items()))

    def within(self, priors: Mapping[str, Any]) -> LabelVocabulary:
        """Narrowed to what every prior's class embedding takes (params ``pitch_range`` and
        ``num_families`` where a prior has them)."""
        lo, hi = self.pitch_range
        count = len(self.families)
        for prior in priors.values():
            params = getattr(prior, "params", None)
            span = getattr(params, "pitch_range", None)
            if span is not None:
                lo, hi = max(lo, int(span[0])), min(hi, int(span[1]))
            num = getattr(params, "num_families", None)
            if isinstance(num, int):
                count = min(count, num)
        if lo > hi:
            raise EditError(f"the bundle's pitches {self.pitch_range[0]}..{self.pitch_range[1]} lie outside the "
                            "pitch range its priors are conditioned on")
        offered = tuple(f for f in self.offered if self.families.index(f) < count)
        if not offered:
            raise EditError(f"none of the bundle's families ({', '.join(self.offered)}) fits its priors' "
                            f"{count} family classes")
        return LabelVocabulary(self.families, offered, (lo, hi), self.from_bundle)

    # -- names and checks ----------------------------------------------------------------------
    def describe(self) -> str:
        """One line for help texts: the offered families and the pitch range."""
        source = "" if self.from_bundle else " (NSynth's; the bundle saved no labels)"
        return (f"families {', '.join(self.offered)}; pitches {self.pitch_range[0]}..{self.pitch_range[1]}"
                f"{source}")

    def family_index(self, value: str | int) -> int:
        """A family name (one of ``offered``) or index (into ``families``; -1 = none) → index."""
        if isinstance(value, str):
            if value not in self.offered:
                raise EditError(f"family {value!r} is not one of this bundle's families: {', '.join(self.offered)}")
            return self.families.index(value)
        index = int(value)
        if index != NULL_LABEL and not 0 <= index < len(self.families):
            raise EditError(f"family index {index} is outside 0..{len(self.families) - 1} "
                            f"(this bundle's families: {', '.join(self.families)})")
        return index

    def family_name(self, index: int | None) -> str:
        """Name of a family index; "any" for none."""
        if index is None or int(index) == NULL_LABEL or not 0 <= int(index) < len(self.families):
            return "any"
        return self.families[int(index)]

    def pitch(self, value: int) -> int:
        """A MIDI pitch inside ``pitch_range`` (-1 = none)."""
        pitch = int(value)
        lo, hi = self.pitch_range
        if pitch != NULL_LABEL and not lo <= pitch <= hi:
            raise EditError(f"pitch {pitch} is outside this bundle's pitch range {lo}..{hi}")
        return pitch

    def conditioning(
        self, pitch: int | Sequence[int] | None, family: str | int | Sequence[str | int] | None, batch: int
    ) -> Conditioning:
        """Labels for ``batch`` examples: a single value is broadcast, a sequence gives one per
        example, None is unconditioned."""
        pitches = _per_example(pitch, self.pitch, batch)
        families = _per_example(family, self.family_index, batch)
        return Conditioning(torch.tensor(pitches, dtype=torch.long), torch.tensor(families, dtype=torch.long))


def _per_example(value: Any, convert: Any, batch: int) -> list[int]:
    if value is None:
        return [NULL_LABEL] * batch
    if isinstance(value, (list, tuple)):
        items = [NULL_LABEL if v is None else convert(v) for v in value]
        if len(items) != batch:
            raise EditError(f"expected {batch} labels, got {len(items)}")
        return items
    return [convert(value)] * batch
