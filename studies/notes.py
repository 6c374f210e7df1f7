"""Choosing and loading the notes an evaluation looks at (the same notes for every pipeline)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from specinpaint.training.data import AudioBatch, AudioCollate

#: Registers by MIDI pitch: (name, lowest, highest), inclusive.
REGISTERS: tuple[tuple[str, int, int], ...] = (("low", 0, 47), ("middle", 48, 71), ("high", 72, 127))


def register_of(pitch: int) -> str:
    for name, low, high in REGISTERS:
        if low <= pitch <= high:
            return name
    raise ValueError(f"pitch {pitch} is outside MIDI 0..127")


def spread(count: int, wanted: int | None) -> list[int]:
    """At most ``wanted`` indices spread evenly over ``range(count)`` (all of them when None)."""
    if wanted is None or count <= wanted:
        return list(range(count))
    if wanted == 1:
        return [0]
    return sorted({round(i * (count - 1) / (wanted - 1)) for i in range(wanted)})


def batches(dataset, indices: Sequence[int], num_samples: int, batch_size: int) -> Iterator[AudioBatch]:
    """Dataset items at ``indices`` as `AudioBatch`es of at most ``batch_size`` notes, in order."""
    collate = AudioCollate(num_samples)
    for start in range(0, len(indices), batch_size):
        yield collate([dataset[i] for i in indices[start:start + batch_size]])


def load(dataset, indices: Sequence[int], num_samples: int, batch_size: int = 64) -> AudioBatch:
    """The notes at ``indices`` as one batch."""
    parts = list(batches(dataset, indices, num_samples, batch_size))
    names = [n for part in parts for n in (part.names or [])]
    return AudioBatch(
        torch.cat([p.audio for p in parts]), torch.cat([p.pitch for p in parts]),
        torch.cat([p.family for p in parts]), names or None,
    )
