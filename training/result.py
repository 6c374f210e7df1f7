"""What the training API returns, and how a trained pipeline is recorded in its bundle."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specinpaint.core.bundle import BUNDLE_DIR as BUNDLE_DIR  # a run directory's bundle folder
from specinpaint.core.pipeline import Pipeline

from .engine import TrainOutcome


@dataclass
class TrainResult:
    """``pipeline``: the pipeline with the trained weights (best validation weights when there
    were any); ``bundle``: where it was saved (None when the run was stopped before the end or on
    ranks other than 0); ``outcome``: steps, metrics, checkpoints, throughput."""

    pipeline: Pipeline
    outcome: TrainOutcome
    out_dir: Path
    bundle: Path | None

    @property
    def steps(self) -> int:
        return self.outcome.steps

    @property
    def finished(self) -> bool:
        return self.outcome.finished

    @property
    def final_metrics(self) -> dict[str, dict[str, float]]:
        return {"train": self.outcome.train_metrics, "valid": self.outcome.valid_metrics}


def record_training(pipeline: Pipeline, key: str, outcome: TrainOutcome, weights: str, **extra: Any) -> None:
    """``pipeline.extras['trained'][key]`` = steps, final metrics, which weights, when."""
    trained = dict(pipeline.extras.get("trained", {}))
    trained[key] = {
        **outcome.summary(),
        "weights": weights,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **extra,
    }
    pipeline.extras["trained"] = trained
