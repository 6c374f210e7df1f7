"""Ablation studies: a YAML grid of named pipeline variants trained and evaluated the same way.

A study file (``configs/ablations/*.yaml``) names a base pipeline config and a grid of variants,
each a set of dotted overrides. Everything the variants do not override (quantizer, data, training
budget, seed) is shared, and :func:`expand_study` refuses a variant that touches keys outside the
study's ``varies`` prefixes, so a table row can only differ from another by what the study ablates.

Order in which overrides apply (later wins)::

    base file (its own ``extends`` chain) → study ``overrides`` → budget ``overrides``
    → variant ``overrides`` → command-line overrides

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
import logging
import math
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from specinpaint.core.atomic import atomic_write_text
from specinpaint.core.config import PipelineConfig
from specinpaint.core.errors import ConfigError
from specinpaint.core.yaml_config import (
    CONFIG_DIR,
    apply_overrides,
    dump_config,
    load_yaml_with_extends,
    resolve_config_path,
    validate_config,
)

log = logging.getLogger(__name__)

RESULT_FILE = "result.json"
CONFIG_FILE = "config.yaml"
RESULT_FORMAT = 1


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
    evaluation: dict[str, Any] = Field(default_factory=dict)

    @field_validator("overrides", mode="before")
    @classmethod
    def _coerce_overrides(cls, v: Any) -> Overrides:
        return _as_override_dict(v)


class EvaluationSpec(_Strict):
    """How each trained variant is evaluated on the held-out split.

    Silence (for the silent-region code entropy): a code cell is *silent* when the loudest bin of
    the raw audio's linear STFT inside the cell's time–frequency span is below ``silence_db``
    (dB relative to a full-scale sine). Defined on the raw audio with one fixed STFT, so the set
    of silent seconds × Hz is the same for every variant."""

    split: str | None = Field(None, description="dataset split; default: the config's data.valid_split")
    max_notes: int = Field(32, ge=1)
    batch_size: int = Field(8, ge=1)
    silence_db: float = -60.0
    silence_n_fft: int = Field(2048, ge=16)
    silence_hop: int = Field(512, ge=1)
    pitch: bool = True
    device: str = "auto"


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
    """An expanded grid point: a validated pipeline config and how it was made."""

    name: str
    label: str
    overrides: Overrides
    config: PipelineConfig
    evaluation: EvaluationSpec
    budget: str | None
    base: str | None = None  # the variant's own base config, when it names one

    @property
    def config_yaml(self) -> str:
        return dump_config(self.config)

    @property
    def fingerprint(self) -> str:
        """Changes whenever the trained model or its evaluation would change."""
        blob = self.config_yaml + json.dumps(self.evaluation.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


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
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        if first["type"] == "missing":
            msg = "missing required field"
        raise ConfigError(f"{label}: {loc}: {msg}") from None
    if spec.budget is not None and spec.budget not in spec.budgets:
        raise ConfigError(f"{label}: budget: '{spec.budget}' is not one of the budgets ({', '.join(spec.budgets)})")
    own_base = [name for name, variant in spec.variants.items() if variant.base is not None]
    if own_base and spec.varies != [ANYTHING]:
        raise ConfigError(
            f"{label}: variants.{own_base[0]}.base: a variant with its own base config differs everywhere; "
            "the study needs varies: ['*']"
        )
    return Study(spec, path.resolve() if path is not None else None)


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


def _evaluation(study: Study, budget: BudgetSpec | None, eval_overrides: Sequence[str]) -> EvaluationSpec:
    data = study.spec.evaluation.model_dump()
    if budget is not None:
        data.update(budget.evaluation)
    wrapped = apply_overrides({"evaluation": data}, eval_overrides, source="evaluation override")
    try:
        return EvaluationSpec.model_validate(wrapped["evaluation"])
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"evaluation.{loc}: {first['msg']}") from None


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


def budget_names(study: Study) -> list[str]:
    return list(study.spec.budgets)


def expand_study(
    study: Study,
    budget: str | None = None,
    overrides: Sequence[str] = (),
    only: Sequence[str] | None = None,
    validate: bool = True,
) -> list[Variant]:
    """The grid: one validated :class:`Variant` per study variant (in file order).

    ``budget`` picks one of the study's budgets (default: the study's ``budget``); ``overrides``
    are command-line ``key=value`` strings, those starting with ``evaluation.`` go to the
    evaluation settings, the rest to every variant's pipeline config (applied last)."""
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
        config = validate_config(data, label) if validate else PipelineConfig.model_construct(**data)
        variants.append(Variant(name, vspec.label or name, dict(vspec.overrides), config, evaluation, budget_name,
                                vspec.base))
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


# -- running ---------------------------------------------------------------------------------

Trainer = Callable[["Variant", Path], Any]
"""``trainer(variant, variant_dir) → trained Pipeline`` (resuming from ``variant_dir`` if it can)."""
Evaluator = Callable[[Any, "Variant"], dict[str, float]]
"""``evaluator(pipeline, variant) → {metric name: value}``."""


@dataclass
class VariantResult:
    """What ``result.json`` of one variant holds."""

    name: str
    label: str
    metrics: dict[str, float]
    fingerprint: str
    timings: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": RESULT_FORMAT, "name": self.name, "label": self.label, "fingerprint": self.fingerprint,
            "metrics": {k: _jsonable(v) for k, v in self.metrics.items()},
            "timings": self.timings, "info": self.info,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VariantResult:
        metrics = {k: (float("nan") if v is None else float(v)) for k, v in data["metrics"].items()}
        return cls(data["name"], data.get("label", data["name"]), metrics, data["fingerprint"],
                   dict(data.get("timings", {})), dict(data.get("info", {})))


def _jsonable(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def variant_dir(out_dir: Path, name: str) -> Path:
    return Path(out_dir) / "variants" / name


def read_result(path: Path) -> VariantResult | None:
    """A finished variant's result, or None when absent or unreadable (then it is re-run)."""
    try:
        data = json.loads(Path(path).read_text())
        if data.get("format") != RESULT_FORMAT:
            return None
        return VariantResult.from_json(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def run_study(
    study: Study,
    out_dir: str | Path,
    *,
    trainer: Trainer,
    evaluator: Evaluator,
    budget: str | None = None,
    overrides: Sequence[str] = (),
    only: Sequence[str] | None = None,
    rerun: bool = False,
    report: bool = True,
) -> list[VariantResult]:
    """Train and evaluate every variant not already finished in ``out_dir``, then write the report.

    * finished (``variants/<name>/result.json`` with the same fingerprint = config + evaluation):
      skipped;
    * trained with another pipeline config (``variants/<name>/config.yaml`` differs): an error
      unless ``rerun``, so a table never silently mixes configs; ``rerun`` deletes the variant's
      folder and starts it again;
    * same config, other evaluation settings: re-evaluated (the trainer reuses the bundle);
    * otherwise trained, resuming from the variant's checkpoints when the trainer can.

    ``result.json`` is written atomically and last, so an interrupted run resumes at the variant
    it was working on."""
    out = Path(out_dir)
    variants = expand_study(study, budget, overrides, only)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for variant in variants:
        vdir = variant_dir(out, variant.name)
        done = read_result(vdir / RESULT_FILE)
        if done is not None and done.fingerprint == variant.fingerprint and not rerun:
            log.info("%s: already finished in %s, skipping", variant.name, vdir)
            results.append(done)
            continue
        config_file = vdir / CONFIG_FILE
        saved = config_file.read_text() if config_file.is_file() else None
        if rerun and vdir.exists():
            shutil.rmtree(vdir)  # --rerun: this variant starts again from nothing
        elif saved is not None and saved != variant.config_yaml:
            raise ConfigError(
                f"{vdir}: variant '{variant.name}' was trained with a different config; "
                "pass --rerun to replace it or choose another --out"
            )
        # same config (or none yet): training resumes or reuses the bundle; a changed evaluation
        # only re-evaluates
        vdir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(config_file, variant.config_yaml)
        log.info("%s: training (%s)", variant.name, variant.label)
        t0 = time.perf_counter()
        pipeline = trainer(variant, vdir)
        t1 = time.perf_counter()
        log.info("%s: evaluating", variant.name)
        metrics = evaluator(pipeline, variant)
        t2 = time.perf_counter()
        result = VariantResult(
            variant.name, variant.label, dict(metrics), variant.fingerprint,
            {"train_s": t1 - t0, "eval_s": t2 - t1},
            {"budget": variant.budget, "overrides": variant.overrides,
             **({"base": variant.base} if variant.base is not None else {})},
        )
        atomic_write_text(vdir / RESULT_FILE, json.dumps(result.to_json(), indent=1, sort_keys=True))
        results.append(result)
    if report:
        from .ablation_report import write_report

        table = finished_results(study, out, budget, overrides) if only else results
        write_report(out, table, title=study.spec.description or study.name, meta=study_meta(study, variants))
    return results


def finished_results(study: Study, out_dir: str | Path, budget: str | None = None,
                     overrides: Sequence[str] = ()) -> list[VariantResult]:
    """Results of every study variant finished in ``out_dir`` with the current config (in study
    order), so a run restricted with ``only`` still writes the whole table so far."""
    found = []
    for variant in expand_study(study, budget, overrides):
        done = read_result(variant_dir(Path(out_dir), variant.name) / RESULT_FILE)
        if done is not None and done.fingerprint == variant.fingerprint:
            found.append(done)
    return found


def study_meta(study: Study, variants: Sequence[Variant]) -> dict[str, Any]:
    """What the report header says about the run (budget, shared settings, what differs)."""
    meta: dict[str, Any] = {"study": study.name, "source": str(study.source) if study.source else None}
    if variants:
        first = variants[0]
        meta["budget"] = first.budget
        q = first.config.training.quantizer
        meta["training"] = f"{q.steps} steps, batch {q.batch_size}, lr {q.lr}, seed {q.seed}"
        meta["evaluation"] = first.evaluation.model_dump(mode="json")
        dumped = [v.config.model_dump(mode="json") for v in variants]
        differs = sorted({k for d in dumped[1:] for k in config_differences(dumped[0], d)} - {"name"})
        meta["differs"] = differs
    return meta
