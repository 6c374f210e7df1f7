"""Codes of dataset notes with their labels, for "sample from the dataset" with constraints.

Selection is one vectorised filter over the label arrays and one seeded draw among the matches,
so it always terminates (the original drew random rows until one matched, forever when none did).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from specinpaint.core.codemaps import Codemaps
from specinpaint.core.conditioning import NSYNTH_FAMILIES
from specinpaint.core.errors import DataError, SpecinpaintError

log = logging.getLogger(__name__)


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
    """Labels ``pitch`` and ``family`` ``[N]`` (family = index into ``families``, the bundle's
    family vocabulary; NSynth's by default) of N notes, plus a way to read one note's codes: either
    all ``codes`` in memory ([N, F, T] per level) or a ``fetch(index) → Codemaps`` reader (e.g. a
    memory-mapped `CodeStore`)."""

    def __init__(
        self,
        codes: Codemaps | None,
        pitch: torch.Tensor,
        family: torch.Tensor,
        fetch: Callable[[int], Codemaps] | None = None,
        families: Sequence[str] = NSYNTH_FAMILIES,
    ) -> None:
        n = pitch.shape[0]
        if codes is not None and codes.batch_size != n:
            raise DataError(f"dataset codes: {codes.batch_size} codemaps but {n} pitches")
        if pitch.shape != (n,) or family.shape != (n,):
            raise DataError(f"dataset codes: pitch {tuple(pitch.shape)} and family {tuple(family.shape)} must be [N]")
        if codes is None and fetch is None:
            raise DataError("dataset codes: give the codes or a fetch function")
        self.pitch, self.family = pitch.long(), family.long()
        self.families = tuple(families)
        self._fetch = fetch if fetch is not None else codes.select  # type: ignore[union-attr]

    @classmethod
    def from_store(cls, store, families: Sequence[str] = NSYNTH_FAMILIES) -> DatasetCodes:
        """Wrap a `specinpaint.data.code_store.CodeStore` (labels in memory, codes read per draw)."""
        import numpy as np

        pitch = torch.from_numpy(np.asarray(store.pitch, dtype=np.int64))
        family = torch.from_numpy(np.asarray(store.family, dtype=np.int64))
        return cls(None, pitch, family, fetch=lambda i: store.batch([i])[0], families=families)

    def __len__(self) -> int:
        return self.pitch.shape[0]

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
            keep &= self.family == self._family_index(constraints.family)
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
            "family": self.families[family] if 0 <= family < len(self.families) else "unknown",
        }
        return self._fetch(index), labels

    def _family_index(self, family: str | int) -> int:
        if isinstance(family, str):
            if family not in self.families:
                raise DataError(f"no family named so in the dataset codes (families: {', '.join(self.families)})")
            return self.families.index(family)
        return int(family)


def find_dataset_codes(bundle: str | Path, codes: str | Path | None = None, pipeline=None) -> DatasetCodes | None:
    """Dataset codes for a served bundle: the store at ``codes`` when given (errors are fatal),
    else the training split stored next to the bundle by `specinpaint run`/`train`
    (``RUN_DIR/codes/<split>``; none found = the route answers 404). With ``pipeline``, a store of
    other map shapes or codebook sizes is refused and family names are the bundle's."""
    from specinpaint.data.code_store import CodeStore

    families = NSYNTH_FAMILIES
    if pipeline is not None:
        from specinpaint.editing import LabelVocabulary

        families = LabelVocabulary.from_extras(pipeline.extras).families

    def open_store(path: Path) -> DatasetCodes:
        store = CodeStore(path, verify=False)
        if pipeline is not None:
            store.check_compatible(pipeline.codemap_shapes, pipeline.quantizer.num_codes)
        return DatasetCodes.from_store(store, families)

    if codes is not None:
        return open_store(Path(codes))
    root = Path(bundle).parent / "codes"
    for split in ("train", "valid", "test"):
        if (root / split).is_dir():
            try:
                return open_store(root / split)
            except SpecinpaintError as exc:
                log.warning("ignoring dataset codes at %s: %s", root / split, exc)
    return None
