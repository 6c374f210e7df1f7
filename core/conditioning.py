"""`Conditioning`: the class labels the priors are conditioned on (pitch, instrument family)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import SpecinpaintError

#: The 11 NSynth instrument families, in NSynth's own label order (instrument_family 0..10).
NSYNTH_FAMILIES: tuple[str, ...] = (
    "bass", "brass", "flute", "guitar", "keyboard", "mallet",
    "organ", "reed", "string", "synth_lead", "vocal",
)
#: NSynth instrument sources (instrument_source 0..2).
NSYNTH_SOURCES: tuple[str, ...] = ("acoustic", "electronic", "synthetic")
#: Pitch range used by GANSynth and the paper: MIDI 24..84 inclusive (61 classes).
PITCH_MIN, PITCH_MAX = 24, 84
#: Every MIDI note number (what `Conditioning` accepts; a bundle's own range is narrower).
MIDI_MIN, MIDI_MAX = 0, 127
NULL_LABEL = -1  # "no conditioning" (classifier-free guidance's null class)


def family_index(name_or_index: str | int) -> int:
    """Family name ('brass') or index → index in NSYNTH_FAMILIES; -1 stays the null label."""
    if isinstance(name_or_index, str):
        if name_or_index not in NSYNTH_FAMILIES:
            raise SpecinpaintError(
                f"unknown instrument family '{name_or_index}' (known: {', '.join(NSYNTH_FAMILIES)})"
            )
        return NSYNTH_FAMILIES.index(name_or_index)
    index = int(name_or_index)
    if index != NULL_LABEL and not 0 <= index < len(NSYNTH_FAMILIES):
        raise SpecinpaintError(f"instrument family index {index} is outside 0..{len(NSYNTH_FAMILIES) - 1}")
    return index


@dataclass(frozen=True)
class Conditioning:
    """Per-example labels, LongTensors [B]: ``pitch`` as MIDI note numbers and ``family`` as
    indices into the family vocabulary of the data (NSYNTH_FAMILIES for NSynth; a bundle's own
    vocabulary and ranges are checked by `specinpaint.editing.LabelVocabulary`). ``-1``
    (NULL_LABEL) means unconditioned."""

    pitch: torch.Tensor
    family: torch.Tensor

    def __post_init__(self) -> None:
        if self.pitch.shape != self.family.shape or self.pitch.dim() != 1:
            raise SpecinpaintError(
                f"conditioning pitch {tuple(self.pitch.shape)} and family {tuple(self.family.shape)} "
                "must both be [B]"
            )
        pitch = self.pitch[self.pitch != NULL_LABEL]
        if pitch.numel() and (int(pitch.min()) < MIDI_MIN or int(pitch.max()) > MIDI_MAX):
            raise SpecinpaintError(f"pitch outside MIDI {MIDI_MIN}..{MIDI_MAX}: {pitch.tolist()}")
        family = self.family[self.family != NULL_LABEL]
        if family.numel() and int(family.min()) < 0:
            raise SpecinpaintError(f"instrument family index below 0: {family.tolist()}")

    @staticmethod
    def make(pitch: int | list[int] | None, family: str | int | list | None, batch: int = 1) -> Conditioning:
        """Convenience constructor from plain values, broadcast to `batch` examples; family names
        are NSynth's (a bundle's own names: `specinpaint.editing.LabelVocabulary.conditioning`)."""

        def as_list(value: object, convert) -> list[int]:
            if value is None:
                return [NULL_LABEL] * batch
            if isinstance(value, (list, tuple)):
                items = [convert(v) for v in value]
                if len(items) != batch:
                    raise SpecinpaintError(f"expected {batch} labels, got {len(items)}")
                return items
            return [convert(value)] * batch

        return Conditioning(
            torch.tensor(as_list(pitch, int), dtype=torch.long),
            torch.tensor(as_list(family, family_index), dtype=torch.long),
        )

    @staticmethod
    def null(batch: int) -> Conditioning:
        return Conditioning.make(None, None, batch)

    @property
    def batch_size(self) -> int:
        return self.pitch.shape[0]

    def to(self, device: torch.device | str) -> Conditioning:
        return Conditioning(self.pitch.to(device), self.family.to(device))

    def select(self, index: slice | torch.Tensor) -> Conditioning:
        return Conditioning(self.pitch[index], self.family[index])

    def repeat(self, n: int) -> Conditioning:
        """Each example repeated n times consecutively (for n variations per example)."""
        return Conditioning(self.pitch.repeat_interleave(n), self.family.repeat_interleave(n))
