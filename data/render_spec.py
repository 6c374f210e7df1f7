"""`RenderSpec`: what the SoundFont renderer plays. Its defaults describe the built-in dataset.

Built-in dataset (defaults): all 11 families, 2 GM programs per family (sources mixed where the
table offers several), every pitch of 24..84 inside each family's natural range, one velocity per
(instrument, pitch) drawn from NSynth's 25/50/75/100/127, split 80/10/10 into train/valid/test:
979 notes planned with the pretty_midi SoundFont (~125 MB of 16-bit WAVs; a few may be rejected as
silent or clipped).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from specinpaint.core.conditioning import NSYNTH_FAMILIES, PITCH_MAX, PITCH_MIN

NSYNTH_VELOCITIES = (25, 50, 75, 100, 127)
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


class RenderSpec(BaseModel):
    """Which notes to render (the SoundFont itself is passed separately)."""

    model_config = ConfigDict(extra="forbid")

    families: list[str] = Field(default_factory=lambda: list(NSYNTH_FAMILIES))
    programs: list[int] | None = Field(
        None, description="explicit GM programs (0-based); overrides families/instruments_per_family"
    )
    instruments_per_family: int | None = Field(2, ge=1, description="None = every mapped program")
    pitch_min: int = Field(PITCH_MIN, ge=0, le=127)
    pitch_max: int = Field(PITCH_MAX, ge=0, le=127)
    pitch_step: int = Field(1, ge=1, description="keep pitches with (pitch - pitch_min) % step == 0")
    natural_ranges: bool = Field(True, description="restrict each family to its natural register")
    velocities: list[int] = Field(default_factory=lambda: list(NSYNTH_VELOCITIES))
    velocities_per_pitch: int | None = Field(1, ge=1, description="None = every velocity")
    splits: dict[str, float] = Field(default_factory=lambda: {"train": 0.8, "valid": 0.1, "test": 0.1})
    unseen_instruments_per_family: int = Field(
        0, ge=0, description="instruments per family held out whole: all their notes go to `unseen_split`",
    )
    unseen_split: str = Field("unseen", description="split of the held-out instruments' notes")
    seed: int = 0
    max_notes: int | None = Field(None, ge=1, description="random subset of at most this many notes")
    target_peak_db: float = Field(
        -6.0, le=0, description="per-instrument gain: median velocity-127 peak lands here (dBFS)"
    )
    silence_db: float = Field(-60.0, lt=0, description="notes peaking below this are rejected as silent")

    @field_validator("families")
    @classmethod
    def _families(cls, value: list[str]) -> list[str]:
        unknown = [f for f in value if f not in NSYNTH_FAMILIES]
        if unknown or not value:
            raise ValueError(f"families must be NSynth families (got {unknown or 'none'}; known: {NSYNTH_FAMILIES})")
        return sorted(set(value), key=NSYNTH_FAMILIES.index)

    @field_validator("velocities")
    @classmethod
    def _velocities(cls, value: list[int]) -> list[int]:
        if not value or any(not 1 <= v <= 127 for v in value):
            raise ValueError(f"velocities must be MIDI velocities 1..127, got {value}")
        return sorted(set(value))

    @field_validator("programs")
    @classmethod
    def _programs(cls, value: list[int] | None) -> list[int] | None:
        from specinpaint.core.errors import DataError

        from .gm_programs import lookup

        if value is not None:
            if not value:
                raise ValueError("programs must not be empty (omit it to choose by family)")
            for program in value:
                try:
                    lookup(program)
                except DataError as exc:
                    raise ValueError(str(exc)) from None
            value = sorted(set(value))
        return value

    @field_validator("splits")
    @classmethod
    def _splits(cls, value: dict[str, float]) -> dict[str, float]:
        if not value or any(f <= 0 for f in value.values()):
            raise ValueError(f"splits must map split names to positive fractions, got {value}")
        bad = [name for name in value if not _SPLIT_NAME.match(name)]
        if bad:
            raise ValueError(f"split names must be simple directory names, got {bad}")
        return value

    @model_validator(mode="after")
    def _range(self) -> RenderSpec:
        if self.pitch_min > self.pitch_max:
            raise ValueError(f"pitch_min {self.pitch_min} > pitch_max {self.pitch_max}")
        if self.unseen_instruments_per_family:
            if not _SPLIT_NAME.match(self.unseen_split):
                raise ValueError(f"unseen_split must be a simple directory name, got {self.unseen_split!r}")
            if self.unseen_split in self.splits:
                raise ValueError(f"unseen_split '{self.unseen_split}' is also one of the note splits")
        return self

    @classmethod
    def tiny(cls, **overrides: object) -> RenderSpec:
        """46 notes (every family, one program each, octaves of C, one velocity): renders in ~1 s."""
        base: dict[str, object] = {"instruments_per_family": 1, "pitch_step": 12}
        base.update(overrides)
        return cls(**base)  # type: ignore[arg-type]
