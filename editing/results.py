"""What editing calls return: codes, the cells they were allowed to change, and audio."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field

import torch

from specinpaint.core.audio import wav_bytes
from specinpaint.core.codemaps import Codemaps

from .errors import EditError


@dataclass
class EditResult:
    """Audio ``[B, N]`` at ``sample_rate`` (None when the call was asked not to decode) and the
    codes; ``masks`` = the cells the edit was allowed to change."""

    audio: torch.Tensor | None
    codes: Codemaps
    sample_rate: int
    masks: dict[str, torch.Tensor] = field(default_factory=dict)

    def wav_bytes(self, index: int = 0) -> bytes:
        if self.audio is None:
            raise EditError("this result was computed with decode=False; it has no audio")
        return wav_bytes(self.audio[index], self.sample_rate)


@dataclass
class SamplePack:
    """One note per pitch sharing the same coarsest codes (keep the top, resample the rest)."""

    audio: torch.Tensor
    codes: Codemaps
    pitches: list[int]
    family: str
    sample_rate: int

    def names(self) -> list[str]:
        return [f"{self.family}-{p}.wav" for p in self.pitches]

    def to_zip(self) -> bytes:
        """A zip of ``{family}-{pitch}.wav`` files, built in memory."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, audio in zip(self.names(), self.audio, strict=True):
                archive.writestr(name, wav_bytes(audio, self.sample_rate))
        return buffer.getvalue()
