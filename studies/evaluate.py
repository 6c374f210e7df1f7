"""`evaluate_pipeline`: the one evaluation of a trained pipeline (`specinpaint evaluate`, the default
job's report and every ablation study use it).

Sections (studies/reconstruction.py, generation.py, inpainting.py, priors.py) run in order on the
held-out split; each is timed. Sections that need priors are skipped (and say so) for a pipeline
without them, so a quantizer-only bundle still gets its reconstruction numbers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from specinpaint.core.errors import DataError
from specinpaint.core.pipeline import Pipeline

from .context import EvaluationContext
from .evaluation_spec import EvaluationSpec
from .generation import evaluate_generation
from .inpainting import evaluate_inpainting
from .priors import evaluate_priors
from .reconstruction import evaluate_reconstruction

log = logging.getLogger(__name__)
REPORT_FORMAT = 1

SECTION_FUNCTIONS: dict[str, Callable[[EvaluationContext], dict[str, Any]]] = {
    "reconstruction": evaluate_reconstruction,
    "generation": evaluate_generation,
    "inpainting": evaluate_inpainting,
    "priors": evaluate_priors,
}


@dataclass
class EvaluationReport:
    """Everything one evaluation measured (``sections[name]['metrics']`` holds the numbers)."""

    sections: dict[str, dict[str, Any]]
    timings: dict[str, float]
    info: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def flat(self) -> dict[str, float]:
        """``section.metric → value`` (what an ablation table row holds)."""
        out = {}
        for name, section in self.sections.items():
            for key, value in section.get("metrics", {}).items():
                out[f"{name}.{key}"] = float(value)
        for key, value in self.timings.items():
            out[f"timing.{key}"] = float(value)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"format": REPORT_FORMAT, "info": self.info, "timings": self.timings, "skipped": self.skipped,
                "sections": self.sections}


def _missing_priors(pipeline: Pipeline) -> list[str]:
    return [level for level in pipeline.quantizer.levels if level not in pipeline.priors
            or f"prior_{level}" not in pipeline.extras.get("trained", {})]


def evaluate_pipeline(
    pipeline: Pipeline,
    dataset: Any,
    spec: EvaluationSpec | None = None,
    *,
    train_dataset: Any | None = None,
    unseen_dataset: Any | None = None,
    cache_dir: str | Path | None = None,
    info: dict[str, Any] | None = None,
) -> EvaluationReport:
    """Run the spec's sections on ``dataset`` (the held-out split); ``train_dataset`` is the split
    the family classifier learns from (None: no family measures); ``unseen_dataset``, notes of
    instruments never trained on, adds the section ``reconstruction_unseen``."""
    spec = spec or EvaluationSpec()
    if len(dataset) == 0:
        raise DataError("the evaluation split has no notes")
    ctx = EvaluationContext(pipeline, dataset, spec, train_dataset, Path(cache_dir) if cache_dir else None)
    sections: dict[str, dict[str, Any]] = {}
    timings: dict[str, float] = {}
    skipped: dict[str, str] = {}
    missing = _missing_priors(pipeline)
    threads = torch.get_num_threads()
    if train_dataset is not None and set(spec.sections) & {"reconstruction", "generation", "inpainting"}:
        start = time.perf_counter()
        _ = ctx.classifier  # trained (or loaded from the cache) once, timed on its own
        timings["classifier"] = round(time.perf_counter() - start, 3)
    for name in spec.sections:
        if name in ("generation", "inpainting", "priors") and missing:
            skipped[name] = f"no trained prior for level(s) {', '.join(missing)}"
            log.info("evaluation: skipping %s (%s)", name, skipped[name])
            continue
        log.info("evaluation: %s", name)
        start = time.perf_counter()
        sections[name] = SECTION_FUNCTIONS[name](ctx)
        timings[name] = round(time.perf_counter() - start, 3)
        if name == "reconstruction" and unseen_dataset is not None and len(unseen_dataset):
            start = time.perf_counter()
            sections["reconstruction_unseen"] = evaluate_reconstruction(ctx.with_dataset(unseen_dataset))
            timings["reconstruction_unseen"] = round(time.perf_counter() - start, 3)
    trained = pipeline.extras.get("trained", {})
    for key, record in trained.items():
        if isinstance(record, dict) and "seconds" in record:
            timings[f"train_{key}"] = float(record["seconds"])
    meta = {
        "pipeline": pipeline.config.name, "spec": spec.model_dump(mode="json"), "threads": threads,
        "classifier": ctx.classifier_info, **(info or {}),
    }
    return EvaluationReport(sections, timings, meta, skipped)
