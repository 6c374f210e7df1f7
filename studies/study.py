"""Ablation studies: a YAML grid of named pipeline variants trained and evaluated the same way.

A study file (``configs/ablations/*.yaml``) names a base pipeline config and a grid of variants,
each a set of dotted overrides. Everything the variants do not override (quantizer, data, training
budget, seeds) is shared, and :func:`expand_study` refuses a variant that touches keys outside the
study's ``varies`` prefixes, so a table row can only differ from another by what the study ablates.

Order in which overrides apply (later wins)::

    base file (its own ``extends`` chain) → study ``overrides`` → budget ``overrides``
    → variant ``overrides`` → command-line overrides → the run's seed

``evaluation`` holds fields of `specinpaint.studies.evaluation_spec.EvaluationSpec` (what
`specinpaint evaluate` measures); a budget's ``evaluation`` is merged over it key by key.

``seeds: [0, 1, 2]`` (study, budget or ``--seeds``) runs every variant once per seed: the seed of
every training stage (``training.*.seed``) and of the evaluation is the run's seed, so seeds
estimate the noise of each measure. Without ``seeds`` each variant runs once with the seeds its
config already has.

Study files may themselves ``extends:`` another study file (e.g. the GPU study extends the CPU one
and only swaps the base config and the default budget).

A variant may name its own ``base`` pipeline config instead of the study's (to compare whole
recipes, e.g. ``paper.yaml`` against ``specinpaint.yaml``); the shared, budget and command-line
overrides still apply to it in the same order, so both rows get the same budget. Such a study must
say ``varies: ["*"]`` (everything may differ), so the guard above stays meaningful elsewhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from specinpaint.core.config import PipelineConfig
from specinpaint.core.errors import ConfigError
from specinpaint.core.yaml_config import (
    CONFIG_DIR,
    apply_overrides,
    deep_merge,
    dump_config,
    load_yaml_with_extends,
    resolve_config_path,
    validate_config,
)

from .evaluation_spec import EvaluationSpec

#: Keys of the former study-only evaluation section, and what replaced them.
RENAMED_EVALUATION_KEYS = {
    "max_notes": "use reconstruction_notes (and inpainting_notes, prior_notes)",
    "pitch": "pitch accuracy is always measured",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Overrides = dict[str, Any]


def _as_override_dict(value: Any) -> Overrides:
    """Accept ``{dotted.key: value}`` or a list of ``"dotted.key=value"`` strings."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):
        out: Overrides = {}
        import yaml

        for item in value:
            key, sep, raw = str(item).partition("=")
            if not sep or not key.strip():
                raise ValueError(f"override '{item}' must be dotted.key=value")
            out[key.strip()] = yaml.safe_load(raw)
        return out
    raise ValueError(f"overrides must be a mapping or a list of key=value strings, got {type(value).__name__}")


def _check_seeds(value: list[int] | None) -> list[int] | None:
    if value is not None:
        if not value:
            raise ValueError("seeds must list at least one seed (or be left out)")
        if len(set(value)) != len(value):
            raise ValueError(f"seeds must be distinct, got {value}")
        if min(value) < 0:
            raise ValueError(f"seeds must be >= 0, got {value}")
    return value


ANYTHING = "*"
"""``varies: ["*"]``: variants may differ anywhere (needed by variants with their own ``base``)."""


class VariantSpec(_Strict):
    """One row of the table: a label for humans, optionally its own base pipeline config, and the
    overrides that define it."""

    label: str = ""
    base: str | None = Field(None, description="this variant's pipeline config (else the study's base)")
    overrides: Overrides = Field(default_factory=dict)

    @field_validator("overrides", mode="before")
    @classmethod
    def _coerce_overrides(cls, v: Any) -> Overrides:
        return _as_override_dict(v)


class BudgetSpec(_Strict):
    """A named training/evaluation budget (``ci``, ``cpu``, ``paper``...)."""

    description: str = ""
    overrides: Overrides = Field(default_factory=dict)
    evaluation: dict[str, Any] = Field(default_factory=dict, description="EvaluationSpec fields, merged")
    seeds: list[int] | None = None

    @field_validator("overrides", mode="before")
    @classmethod
    def _coerce_overrides(cls, v: Any) -> Overrides:
        return _as_override_dict(v)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int] | None) -> list[int] | None:
        return _check_seeds(v)


class StudySpec(_Strict):
    """A parsed study file (before expansion)."""

    name: str
    description: str = ""
    base: str = Field(..., description="pipeline config: path relative to the study file, or built-in name")
    varies: list[str] = Field(default_factory=lambda: ["representation"])
    overrides: Overrides = Field(default_factory=dict)
    variants: dict[str, VariantSpec] = Field(..., min_length=1)
    budgets: dict[str, BudgetSpec] = Field(default_factory=dict)
    budget: str | None = None
    seeds: list[int] | None = None
    evaluation: EvaluationSpec = Field(default_factory=EvaluationSpec)

    @field_validator("overrides", mode="before")
    @classmethod
    def _coerce_overrides(cls, v: Any) -> Overrides:
        return _as_override_dict(v)

    @field_validator("variants")
    @classmethod
    def _names(cls, v: dict[str, VariantSpec]) -> dict[str, VariantSpec]:
        for name in v:
            if not name or not all(c.isalnum() or c in "-_" for c in name):
                raise ValueError(f"variant name '{name}' must use letters, digits, '-' or '_'")
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int] | None) -> list[int] | None:
        return _check_seeds(v)


@dataclass
class Study:
    """A study file, loaded: the spec plus where it came from (relative ``base`` paths)."""

    spec: StudySpec
    source: Path | None = None

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass
class Variant:
    """One run of the grid: a variant at one seed, with its validated pipeline config, its
    evaluation settings and its folder under ``variants/`` (``NAME``, or ``NAME/seed-K`` when the
    study runs several seeds)."""

    name: str
    label: str
    overrides: Overrides
    config: PipelineConfig
    evaluation: EvaluationSpec
    budget: str | None
    seed: int | None = None
    folder: str = ""
    base: str | None = None  # the variant's own base config, when it names one

    def __post_init__(self) -> None:
        self.folder = self.folder or self.name

    @property
    def config_yaml(self) -> str:
        return dump_config(self.config)

    @property
    def fingerprint(self) -> str:
        """Changes whenever the trained model or its evaluation would change."""
        return self.fingerprint_of(self.config_yaml)

    def fingerprint_of(self, config_yaml: str) -> str:
        """The fingerprint a run of ``config_yaml`` with this run's evaluation has."""
        blob = config_yaml + json.dumps(self.evaluation.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def same_config(self, saved_yaml: str) -> bool:
        """Whether a saved run config describes this run: equal text, or equal once re-read by
        this version (a field added since then takes its default, which is what that run had)."""
        if saved_yaml == self.config_yaml:
            return True
        try:
            saved = yaml.safe_load(saved_yaml)
            return isinstance(saved, dict) and dump_config(validate_config(saved, "<saved run>")) == self.config_yaml
        except (ConfigError, ValidationError, yaml.YAMLError, TypeError, ValueError):
            return False

    def finished_by(self, saved_yaml: str | None, fingerprint: str) -> bool:
        """Whether a result with ``fingerprint``, saved beside ``saved_yaml``, is this very run
        (trained before this version added fields with defaults, its fingerprint differs)."""
        if fingerprint == self.fingerprint:
            return True
        return saved_yaml is not None and self.same_config(saved_yaml) and fingerprint == self.fingerprint_of(saved_yaml)


def _validation_message(exc: ValidationError, evaluation: bool = False) -> tuple[str, str]:
    """(dotted location, message) of the first error, in the project's one-line style; a former
    evaluation key says what replaced it (``evaluation``: the error is an EvaluationSpec's)."""
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    if first["type"] == "extra_forbidden":
        key = str(first["loc"][-1])
        renamed = key in RENAMED_EVALUATION_KEYS and (evaluation or loc == f"evaluation.{key}")
        msg = "unknown key" + (f" ({RENAMED_EVALUATION_KEYS[key]})" if renamed else "")
    elif first["type"] == "missing":
        msg = "missing required field"
    else:
        msg = first["msg"]
    return loc, msg


def load_study(source: str | Path | Mapping[str, Any]) -> Study:
    """Parse a study YAML (path or built-in name like ``ablations/representation``) or dict."""
    if isinstance(source, Mapping):
        data, path, label = dict(source), None, "<study>"
    else:
        path = resolve_config_path(source)
        data, label = load_yaml_with_extends(path), str(source)
    try:
        spec = StudySpec.model_validate(data)
    except ValidationError as exc:
        loc, msg = _validation_message(exc)
        raise ConfigError(f"{label}: {loc}: {msg}") from None
    if spec.budget is not None and spec.budget not in spec.budgets:
        raise ConfigError(f"{label}: budget: '{spec.budget}' is not one of the budgets ({', '.join(spec.budgets)})")
    own_base = [name for name, variant in spec.variants.items() if variant.base is not None]
    if own_base and spec.varies != [ANYTHING]:
        raise ConfigError(
            f"{label}: variants.{own_base[0]}.base: a variant with its own base config differs everywhere; "
            "the study needs varies: ['*']"
        )
    study = Study(spec, path.resolve() if path is not None else None)
    for name, budget in spec.budgets.items():
        _evaluation(study, budget, (), f"{label}: budgets.{name}.evaluation")
    return study


def resolve_base(study: Study, variant: str | None = None) -> Path:
    """The base pipeline config of the study, or of ``variant`` when it names its own: relative to
    the study file, then to the built-in ablations folder (so a user study in another folder may
    still say ``../tiny.yaml``), then a built-in name."""
    own = study.spec.variants[variant].base if variant is not None else None
    base, key = (study.spec.base, "base") if own is None else (own, f"variants.{variant}.base")
    candidates = []
    if study.source is not None:
        candidates.append(study.source.parent / base)
    candidates.append(CONFIG_DIR / "ablations" / base)
    for cand in candidates:
        if cand.is_file():
            return cand.resolve()
    try:
        return resolve_config_path(base)
    except ConfigError:
        raise ConfigError(f"{study.source or '<study>'}: {key}: no such pipeline config '{base}'") from None


def _override_strings(overrides: Mapping[str, Any]) -> list[str]:
    # JSON is valid YAML, so apply_overrides parses these back to exactly these values.
    return [f"{key}={json.dumps(value)}" for key, value in overrides.items()]


def split_cli_overrides(items: Iterable[str]) -> tuple[list[str], list[str]]:
    """Command-line ``key=value`` strings → (pipeline overrides, ``evaluation.*`` overrides)."""
    pipeline, evaluation = [], []
    for item in items:
        (evaluation if item.strip().startswith("evaluation.") else pipeline).append(item)
    return pipeline, evaluation


def _evaluation(study: Study, budget: BudgetSpec | None, eval_overrides: Sequence[str],
                label: str = "evaluation") -> EvaluationSpec:
    data = study.spec.evaluation.model_dump()
    if budget is not None:
        data = deep_merge(data, budget.evaluation)
    wrapped = apply_overrides({"evaluation": data}, eval_overrides, source="evaluation override")
    try:
        return EvaluationSpec.model_validate(wrapped["evaluation"])
    except ValidationError as exc:
        loc, msg = _validation_message(exc, evaluation=True)
        raise ConfigError(f"{label}.{loc}: {msg}") from None


def _check_varies(study: Study, variant: str, overrides: Mapping[str, Any]) -> None:
    prefixes = study.spec.varies
    if ANYTHING in prefixes:
        return
    for key in overrides:
        if not any(key == p or key.startswith(p + ".") for p in prefixes):
            raise ConfigError(
                f"{study.source or '<study>'}: variants.{variant}.overrides: '{key}' is outside what the "
                f"study varies ({', '.join(prefixes)}); put shared settings in the study's overrides"
            )


def seed_keys(data: Mapping[str, Any]) -> list[str]:
    """The dotted seed key of every training stage of a config dict (quantizer and each level's prior)."""
    return ["training.quantizer.seed"] + [f"training.priors.{level}.seed" for level in data.get("priors") or {}]


def seed_overrides(seed: int, data: Mapping[str, Any]) -> list[str]:
    """Every training stage's seed set to ``seed`` (quantizer and each prior of ``data``)."""
    return [f"{key}={seed}" for key in seed_keys(data)]


def study_seeds(study: Study, budget: str | None = None, seeds: Sequence[int] | None = None) -> list[int] | None:
    """The seeds a run of the study uses: ``seeds`` (command line), else the budget's, else the
    study's; None when none is given (one run per variant with the config's own seeds)."""
    if seeds is not None:
        try:
            return _check_seeds(list(seeds))
        except ValueError as exc:
            raise ConfigError(f"--seeds: {exc}") from None
    budget_name = budget if budget is not None else study.spec.budget
    spec = study.spec.budgets.get(budget_name) if budget_name is not None else None
    if spec is not None and spec.seeds is not None:
        return list(spec.seeds)
    return list(study.spec.seeds) if study.spec.seeds is not None else None


def expand_study(
    study: Study,
    budget: str | None = None,
    overrides: Sequence[str] = (),
    only: Sequence[str] | None = None,
    validate: bool = True,
    seeds: Sequence[int] | None = None,
) -> list[Variant]:
    """The grid: one validated :class:`Variant` per study variant and seed (variants in file
    order, each variant's seeds together).

    ``budget`` picks one of the study's budgets (default: the study's ``budget``); ``overrides``
    are command-line ``key=value`` strings, those starting with ``evaluation.`` go to the
    evaluation settings, the rest to every variant's pipeline config (applied last, before the
    seed); ``seeds`` replaces the budget's or study's seeds."""
    spec = study.spec
    budget_name = budget if budget is not None else spec.budget
    budget_spec = None
    if budget_name is not None:
        if budget_name not in spec.budgets:
            known = ", ".join(spec.budgets) or "none defined"
            raise ConfigError(f"--budget: unknown budget '{budget_name}' for study '{spec.name}' (known: {known})")
        budget_spec = spec.budgets[budget_name]
    if only:
        unknown = [n for n in only if n not in spec.variants]
        if unknown:
            raise ConfigError(f"--only: unknown variant '{unknown[0]}' (variants: {', '.join(spec.variants)})")
    run_seeds = study_seeds(study, budget_name, seeds)
    pipeline_overrides, eval_overrides = split_cli_overrides(overrides)
    evaluation = _evaluation(study, budget_spec, eval_overrides)

    def shared_from(base: Path) -> dict[str, Any]:
        """The base file with the study's and the budget's overrides (the same for every variant)."""
        shared = apply_overrides(load_yaml_with_extends(base), _override_strings(spec.overrides),
                                 source=f"{spec.name}: overrides")
        if budget_spec is not None:
            shared = apply_overrides(shared, _override_strings(budget_spec.overrides), source=f"budgets.{budget_name}")
        return shared

    shared_by_base: dict[Path, dict[str, Any]] = {}
    variants = []
    for name, vspec in spec.variants.items():
        if only and name not in only:
            continue
        _check_varies(study, name, vspec.overrides)
        base_path = resolve_base(study, name)
        if base_path not in shared_by_base:
            shared_by_base[base_path] = shared_from(base_path)
        shared = shared_by_base[base_path]
        data = apply_overrides(shared, _override_strings(vspec.overrides), source=f"variants.{name}")
        data = apply_overrides(data, pipeline_overrides, source="command-line override")
        data["name"] = f"{spec.name}-{name}"
        label = f"{spec.name} variant '{name}'"
        for seed in run_seeds if run_seeds is not None else [None]:
            seeded = data if seed is None else apply_overrides(data, seed_overrides(seed, data), source="seed")
            config = validate_config(seeded, label) if validate else PipelineConfig.model_construct(**seeded)
            run_eval = evaluation if seed is None else evaluation.model_copy(update={"seed": seed})
            folder = name if seed is None else f"{name}/seed-{seed}"
            variants.append(Variant(name, vspec.label or name, dict(vspec.overrides), config, run_eval,
                                    budget_name, seed, folder, vspec.base))
    return variants


def config_differences(a: Mapping[str, Any], b: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested mappings."""
    out = []
    for key in sorted(set(a) | set(b), key=str):
        path = f"{prefix}{key}"
        va, vb = a.get(key, None), b.get(key, None)
        if isinstance(va, Mapping) and isinstance(vb, Mapping):
            out += config_differences(va, vb, path + ".")
        elif va != vb:
            out.append(path)
    return out


def describe_evaluation(spec: EvaluationSpec) -> str:
    """One line saying what each run's evaluation measures and on how many notes."""
    parts = [", ".join(spec.sections)]
    if "reconstruction" in spec.sections:
        parts.append(f"{spec.reconstruction_notes} reconstruction notes" + ("" if spec.roundtrip else ", no round trip"))
    if "generation" in spec.sections:
        parts.append(f"generation grid: {spec.pitches_per_family} pitches × {spec.seeds} samples per family")
    if "inpainting" in spec.sections:
        parts.append(f"{spec.inpainting_notes} inpainting notes × 3 regions")
    if "priors" in spec.sections:
        parts.append(f"{spec.prior_notes} prior notes")
    c = spec.classifier
    parts.append(f"family classifier: {c.epochs} epochs on ≤ {c.max_train_notes} training notes (cached)")
    return "; ".join(parts)
