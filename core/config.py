"""Pydantic models of a pipeline YAML (validated before anything is built)."""

from __future__ import annotations

import warnings
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from .prior import MAX_SEED, SamplingOptions


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PluginSpec(Strict):
    """A registry name plus the plugin's own parameters (validated by its ``Params`` model)."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class DataConfig(Strict):
    """Where notes come from. ``dataset`` is a datasets-registry plugin (e.g. ``nsynth``).
    ``render`` describes the built-in SoundFont render used when ``dataset.params.root`` is absent."""

    dataset: PluginSpec = Field(default_factory=lambda: PluginSpec(name="nsynth"))
    render: dict[str, Any] = Field(default_factory=dict)
    train_split: str = "train"
    valid_split: str = "valid"


class TrainingConfig(Strict):
    """One training run (the VQ-VAE or one prior). Numbers must be finite (``lr: .inf`` is refused)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    steps: int = Field(1000, ge=1)
    batch_size: int = Field(16, ge=1)
    lr: float = Field(3e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: Literal["constant", "cosine", "onecycle"] = "cosine"
    warmup_steps: int = Field(0, ge=0)
    grad_clip: float | None = Field(1.0, gt=0)
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    compile: bool = False
    device: str = "auto"
    seed: int = Field(0, ge=0, le=MAX_SEED)
    num_workers: int = Field(0, ge=0)
    log_every: int = Field(10, ge=1)
    eval_every: int = Field(200, ge=1)
    checkpoint_every: int = Field(200, ge=1)
    sample_every: int = Field(0, ge=0, description="0 disables audio/PNG samples")
    eval_batches: int = Field(4, ge=1)
    fit_batches: int | None = Field(
        32, ge=0, description="normaliser fit (VQ-VAE only): first N training batches; 0 or null = the whole split"
    )
    cache_spectrograms: bool = Field(
        False, description="VQ-VAE only: compute every training note's spectrogram once (after the normaliser "
        "fit) and keep them in memory instead of recomputing them in every epoch (notes x channels x rows x "
        "frames x 4 bytes per process: 1.35 GiB for tiny.yaml's 5 536 notes; not built, with a warning, above half the machine's memory)",
    )
    random_crop: bool = Field(
        False, description="priors only: the code store holds maps of longer notes (wider than one window, e.g. "
        "from studies.long_notes.extract_long_codes); each example is the window starting at a random coarsest "
        "column, given to the prior with that start as its time_offset (so a prior with max_time_offset > 0 "
        "learns what the middle of a note looks like). A store of one-window notes crops nothing (offset 0)",
    )


#: The per-level keys of configs written before ``training.priors`` (``training.prior_top`` …).
FORMER_PRIOR_KEY = "prior_"


def convert_former_override_key(key: str) -> str:
    """``training.prior_<level>[.x]`` → ``training.priors.<level>[.x]`` for a dotted override: a
    former key given on the command line or in a study must win over the file's own
    ``training.priors.<level>`` section, so it is renamed before it is applied, not after."""
    parts = key.split(".")
    if len(parts) < 2 or parts[0] != "training" or not parts[1].startswith(FORMER_PRIOR_KEY) or parts[1] == "priors":
        return key
    new = ".".join(["training", "priors", parts[1][len(FORMER_PRIOR_KEY):], *parts[2:]])
    warnings.warn(f"override {key}: the former per-prior key; write {new}; read as such", DeprecationWarning,
                  stacklevel=3)
    return new


class TrainingSection(Strict):
    """``quantizer``: the VQ-VAE run; ``priors``: level name → that level's prior run. A level with a
    prior but no entry trains with the defaults (the pipeline fills them in)."""

    quantizer: TrainingConfig = Field(default_factory=TrainingConfig)
    priors: dict[str, TrainingConfig] = Field(default_factory=dict, description="level name → prior training")

    def prior(self, level: str) -> TrainingConfig:
        """The training settings of ``level``'s prior (the defaults when the config gives none)."""
        return self.priors.get(level) or TrainingConfig()


def convert_former_training_keys(data: Any) -> Any:
    """``training.prior_<level>: {...}`` (configs and bundles written before per-level training
    sections) → ``training.priors.<level>: {...}``; with ``convert_former_override_key`` (the same
    for dotted overrides) the only places the former form is read. Settings
    under ``training.priors.<level>`` win over a former key of the same level (a new YAML that
    ``extends`` an old one). A DeprecationWarning says how to convert a YAML."""
    if not isinstance(data, dict) or not isinstance(data.get("training"), dict):
        return data
    training = data["training"]
    former = [key for key in training if key.startswith(FORMER_PRIOR_KEY) and key != "priors"]
    if not former:
        return data
    warnings.warn(
        f"training.{', training.'.join(former)}: the former per-prior keys; write them as "
        f"training.priors.<level> (e.g. training.priors.{former[0][len(FORMER_PRIOR_KEY):]}); read as such",
        DeprecationWarning, stacklevel=2,
    )
    training = dict(training)
    priors = dict(training.pop("priors", None) or {})
    for key in former:
        level = key[len(FORMER_PRIOR_KEY):]
        old, new = training.pop(key), priors.get(level)
        if isinstance(old, dict) and isinstance(new, dict):
            priors[level] = {**old, **new}
        elif new is None:
            priors[level] = old
    return {**data, "training": {**training, "priors": priors}}


class PipelineConfig(Strict):
    """The whole toolkit configuration: which plugins, with which parameters, trained how."""

    name: str = "pipeline"
    num_samples: int = Field(64000, ge=1, description="note length in samples that the models see")
    representation: PluginSpec
    normalizer: PluginSpec = Field(default_factory=lambda: PluginSpec(name="affine"))
    quantizer: PluginSpec
    priors: dict[str, PluginSpec] = Field(default_factory=dict, description="level name → prior plugin")
    data: DataConfig = Field(default_factory=DataConfig)
    training: TrainingSection = Field(default_factory=TrainingSection)
    sampling: SamplingOptions = Field(default_factory=SamplingOptions)
    _source: str | None = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _former_training_keys(cls, data: Any) -> Any:
        training = data.get("training") if isinstance(data, dict) else None
        if not isinstance(training, dict):
            return data
        former = {key[len(FORMER_PRIOR_KEY):] for key in training if key.startswith(FORMER_PRIOR_KEY)}
        data = convert_former_training_keys(data)
        priors, sections = data.get("priors") or {}, data["training"].get("priors")
        if isinstance(sections, dict) and isinstance(priors, dict):
            # former configs always held a top and a bottom section, prior or not, and a config without
            # priors (reconstruction only) trains none: those sections are dropped; any other is a typo
            sections = {level: value for level, value in sections.items()
                        if level in priors or (priors and level not in former)}
            unknown = [level for level in sections if level not in priors]
            if unknown:
                raise ValueError(
                    f"training.priors.{unknown[0]}: no prior for level '{unknown[0]}' "
                    f"(levels with a prior: {', '.join(priors) or 'none'})"
                )
            data = {**data, "training": {**data["training"], "priors": sections}}
        return data

    @model_validator(mode="after")
    def _every_prior_has_training(self) -> PipelineConfig:
        """``training.priors`` holds one section per level with a prior, in the priors' order."""
        sections = self.training.priors
        self.training.priors = {level: sections.get(level) or TrainingConfig() for level in self.priors}
        return self

    @property
    def source(self) -> str | None:
        """The file (or ``<dict>``) the config was validated from, for errors found later (the
        quantizer/prior cross-check); not part of the config itself."""
        return self._source

    @source.setter
    def source(self, value: str | None) -> None:
        self._source = value

    def __eq__(self, other: object) -> bool:
        """Equal settings are equal configs, wherever they were read from."""
        if not isinstance(other, PipelineConfig):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]  # mutable, like every pydantic model
