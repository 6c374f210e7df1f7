"""Codes of dataset notes with their labels, for "sample from the dataset" with constraints.

Selection is one vectorised filter over the label arrays and one seeded draw among the matches,
so it always terminates (the original drew random rows until one matched, forever when none did).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from specinpaint.core.codemaps import Codemaps
from specinpaint.core.conditioning import NSYNTH_FAMILIES, family_index
from specinpaint.core.errors import DataError


@dataclass
class Constraints:
    """All optional. ``octave`` is the MIDI octave (C4 = 60 → 4), ``pitch_class`` 0 = C."""

    pitch: int | None = None
    pitch_class: int | None = None
    octave: int | None = None
    family: str | int | None = None

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in vars(self).items() if v is not None]
        return ", ".join(parts) or "no constraint"


class DatasetCodes:
    """``codes`` by level ``[N, F, T]`` plus ``pitch`` and ``family`` ``[N]`` (family = index into
    NSYNTH_FAMILIES)."""

    def __init__(self, codes: Codemaps, pitch: torch.Tensor, family: torch.Tensor) -> None:
        n = codes.batch_size
        if pitch.shape != (n,) or family.shape != (n,):
            raise DataError(f"dataset codes: {n} notes but {tuple(pitch.shape)} pitches, {tuple(family.shape)} families")
        self.codes, self.pitch, self.family = codes, pitch.long(), family.long()

    def __len__(self) -> int:
        return self.codes.batch_size

    def matches(self, constraints: Constraints) -> torch.Tensor:
        """Indices of the notes satisfying every given constraint."""
        keep = torch.ones(len(self), dtype=torch.bool)
        if constraints.pitch is not None:
            keep &= self.pitch == int(constraints.pitch)
        if constraints.pitch_class is not None:
            keep &= self.pitch % 12 == int(constraints.pitch_class)
        if constraints.octave is not None:
            keep &= torch.div(self.pitch, 12, rounding_mode="floor") - 1 == int(constraints.octave)
        if constraints.family is not None:
            keep &= self.family == family_index(constraints.family)
        return keep.nonzero().flatten()

    def sample(self, constraints: Constraints, seed: int) -> tuple[Codemaps, dict[str, int | str]]:
        """One matching note (seeded), or a DataError naming the constraints when none match."""
        candidates = self.matches(constraints)
        if candidates.numel() == 0:
            raise DataError(f"no dataset note matches {constraints.describe()} ({len(self)} notes)")
        gen = torch.Generator().manual_seed(seed)
        index = int(candidates[torch.randint(candidates.numel(), (1,), generator=gen)])
        family = int(self.family[index])
        labels = {
            "index": index,
            "pitch": int(self.pitch[index]),
            "family": NSYNTH_FAMILIES[family] if 0 <= family < len(NSYNTH_FAMILIES) else "unknown",
        }
        return self.codes.select(index), labels
