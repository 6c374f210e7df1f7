"""What a study measured: one `RunResult` per run (``result.json``), and `VariantSummary`, the
runs of one variant over its seeds (mean, standard deviation and the per-seed values).

Why keep every seed: a mean alone cannot say whether two variants differ by more than the noise
of training; the report shows ``mean ± std`` and keeps each seed's value beside it."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULT_FILE = "result.json"
#: 2: metric names are the evaluation's flat ``section.metric`` names; the run's seed is recorded.
RESULT_FORMAT = 2


def _jsonable(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass
class RunResult:
    """What ``result.json`` of one run (a variant at one seed) holds. ``metrics`` is the
    evaluation report's ``flat()``; ``timings`` the run's wall seconds (``train_s``, ``eval_s``)."""

    name: str
    label: str
    metrics: dict[str, float]
    fingerprint: str
    timings: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None

    @property
    def values(self) -> dict[str, float]:
        """Every column of this run: metrics, then timings."""
        return {**self.metrics, **self.timings}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": RESULT_FORMAT, "name": self.name, "label": self.label, "seed": self.seed,
            "fingerprint": self.fingerprint, "metrics": {k: _jsonable(v) for k, v in self.metrics.items()},
            "timings": self.timings, "info": self.info,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunResult:
        metrics = {k: (math.nan if v is None else float(v)) for k, v in data["metrics"].items()}
        return cls(data["name"], data.get("label", data["name"]), metrics, data["fingerprint"],
                   dict(data.get("timings", {})), dict(data.get("info", {})), data.get("seed"))


def read_result(path: Path) -> RunResult | None:
    """A finished run's result, or None when absent, unreadable or of an older format (then the
    run is evaluated again)."""
    try:
        data = json.loads(Path(path).read_text())
        if data.get("format") != RESULT_FORMAT:
            return None
        return RunResult.from_json(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def mean_std(values: Iterable[float]) -> tuple[float, float, int]:
    """(mean, sample standard deviation, count) over the finite values; std is NaN below two."""
    kept = [float(v) for v in values if math.isfinite(float(v))]
    if not kept:
        return math.nan, math.nan, 0
    mean = sum(kept) / len(kept)
    if len(kept) < 2:
        return mean, math.nan, len(kept)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in kept) / (len(kept) - 1)), len(kept)


@dataclass
class VariantSummary:
    """The finished runs of one variant (one per seed, in run order)."""

    name: str
    label: str
    runs: list[RunResult]

    @property
    def seeds(self) -> list[int | None]:
        return [run.seed for run in self.runs]

    def columns(self) -> list[str]:
        seen: dict[str, None] = {}
        for run in self.runs:
            seen.update(dict.fromkeys(run.values))
        return list(seen)

    def per_seed(self, column: str) -> list[float]:
        """The column's value in each run (NaN where a run lacks it)."""
        return [float(run.values.get(column, math.nan)) for run in self.runs]

    def stats(self, column: str) -> tuple[float, float, int]:
        """(mean, std, runs where it is finite) of a column over the seeds."""
        return mean_std(self.per_seed(column))

    @property
    def mean(self) -> dict[str, float]:
        return {c: self.stats(c)[0] for c in self.columns()}

    @property
    def std(self) -> dict[str, float]:
        return {c: self.stats(c)[1] for c in self.columns()}


def summarize(results: Iterable[RunResult]) -> list[VariantSummary]:
    """Runs grouped by variant, variants in the order their first run appears."""
    groups: dict[str, VariantSummary] = {}
    for run in results:
        if run.name not in groups:
            groups[run.name] = VariantSummary(run.name, run.label, [])
        groups[run.name].runs.append(run)
    return list(groups.values())
