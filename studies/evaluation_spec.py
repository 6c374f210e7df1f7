"""`EvaluationSpec`: what `specinpaint evaluate` measures and on how many notes.

Two presets: the full evaluation (the numbers recorded in docs/results) and ``quick`` (what the
default job runs at its end: the same measures on fewer notes)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .family_classifier import ClassifierSettings

Section = Literal["reconstruction", "generation", "inpainting", "priors"]
SECTIONS: tuple[Section, ...] = ("reconstruction", "generation", "inpainting", "priors")


class EvaluationSpec(BaseModel):
    """Settings of one evaluation. Counts are upper bounds: notes are spread evenly over the split."""

    model_config = ConfigDict(extra="forbid")

    split: str | None = Field(None, description="held-out split (default: the config's data.valid_split)")
    train_split: str | None = Field(None, description="split the classifier trains on (default: data.train_split)")
    unseen_split: str | None = Field(
        "unseen", description="split of instruments held out whole; when the dataset has it, reconstruction is "
        "also measured there (section reconstruction_unseen)",
    )
    sections: list[Section] = Field(default_factory=lambda: list(SECTIONS))
    reconstruction_notes: int = Field(64, ge=1)
    roundtrip: bool = Field(True, description="also measure the representation's own round trip")
    pitches_per_family: int = Field(6, ge=1, description="generation grid: pitches across each family's range")
    seeds: int = Field(3, ge=1, description="generation grid: samples per (family, pitch)")
    inpainting_notes: int = Field(16, ge=1)
    prior_notes: int = Field(128, ge=1, description="held-out notes for the priors' NLL and accuracy")
    batch_size: int = Field(16, ge=1)
    pitch_tolerance: float = Field(0.5, gt=0, description="semitones")
    silence_db: float = Field(-60.0, description="a code cell is silent below this level of the raw audio")
    silence_n_fft: int = Field(2048, ge=16)
    silence_hop: int = Field(512, ge=1)
    sampling: dict[str, Any] = Field(
        default_factory=dict, description="sampling options over the bundle's defaults for generation and "
        "inpainting, e.g. {temperature: 0.7} (empty: the bundle's own)",
    )
    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings)
    seed: int = 0
    device: str = "auto"

    @classmethod
    def quick(cls, **changes: object) -> EvaluationSpec:
        """The same measures on fewer notes (about a minute for the tiny pipeline on 2 cores)."""
        base: dict[str, object] = {
            "reconstruction_notes": 24, "pitches_per_family": 3, "seeds": 3, "inpainting_notes": 6,
            "prior_notes": 64, "roundtrip": False,
        }
        base.update(changes)
        return cls.model_validate(base)


def parse_spec(overrides: list[str] | tuple[str, ...] = (), *, quick: bool = False) -> EvaluationSpec:
    """``KEY=VALUE`` strings (dotted for nested fields, YAML values) on top of the full or quick
    preset; a bad key or value is one line naming it."""
    from pydantic import ValidationError

    from specinpaint.core.errors import ConfigError
    from specinpaint.core.yaml_config import apply_overrides

    base = (EvaluationSpec.quick() if quick else EvaluationSpec()).model_dump()
    data = apply_overrides(base, overrides, source="evaluation setting")
    try:
        return EvaluationSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        msg = "unknown setting" if first["type"] == "extra_forbidden" else first["msg"]
        raise ConfigError(f"evaluation setting {loc}: {msg}") from None
