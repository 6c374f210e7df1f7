"""What every evaluation section shares: the pipeline, the held-out notes, the family classifier
(trained or loaded on first use) and the pitch scorer (the ``pitch-accuracy`` plugin of the
``metrics`` registry, built like any third-party metric)."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from specinpaint.core.pipeline import Pipeline
from specinpaint.core.registry import registry

from . import notes
from .evaluation_spec import EvaluationSpec
from .family_classifier import FamilyClassifier, cache_key, load_classifier, save_classifier, train_classifier
from .features import log_mel

log = logging.getLogger(__name__)
HELDOUT_CLASSIFIER_NOTES = 1000  # held-out notes the classifier's ceiling is measured on (at most)
PITCH_METRIC = "pitch-accuracy"  # name in the metrics registry


def resolve_device(preference: str) -> torch.device:
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preference)


def dataset_identity(dataset: Any) -> str:
    """Root and labelled notes of a dataset split (what a cached classifier depends on)."""
    names = getattr(dataset, "note_names", None)
    families = getattr(dataset, "families", None)
    root = str(getattr(dataset, "root", ""))
    if names is None or families is None:
        return f"{root}:{len(dataset)}"
    payload = json.dumps([root, list(names), [int(f) for f in families]])
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class EvaluationContext:
    """``dataset``: the held-out split; ``train_dataset``: the split the classifier learns from
    (None: no family measures)."""

    pipeline: Pipeline
    dataset: Any
    spec: EvaluationSpec
    train_dataset: Any | None = None
    cache_dir: Path | None = None
    classifier_info: dict[str, Any] = field(default_factory=dict)

    @property
    def sample_rate(self) -> int:
        return self.pipeline.sample_rate

    @property
    def num_samples(self) -> int:
        return self.pipeline.config.num_samples

    def ready_pipeline(self) -> torch.device:
        """Move the pipeline to the spec's device in eval mode (every section starts so); the device."""
        device = resolve_device(self.spec.device)
        self.pipeline.to(device).eval()
        return device

    def with_dataset(self, dataset: Any) -> EvaluationContext:
        """The same context on other held-out notes (the classifier is shared, not reloaded)."""
        other = EvaluationContext(self.pipeline, dataset, self.spec, self.train_dataset, self.cache_dir,
                                  self.classifier_info)
        if "classifier" in self.__dict__:
            other.__dict__["classifier"] = self.__dict__["classifier"]
        return other

    def heldout(self, count: int):
        """The first ``count`` evaluation notes (spread evenly over the split) as one batch."""
        return notes.load(self.dataset, notes.spread(len(self.dataset), count), self.num_samples)

    # -- pitch -------------------------------------------------------------------------------
    @cached_property
    def pitch_metric(self) -> Any:
        """``pitch-accuracy`` at the pipeline's sample rate and the spec's tolerance."""
        return registry("metrics").build(
            PITCH_METRIC, {"sample_rate": self.sample_rate, "tolerance": self.spec.pitch_tolerance})

    def estimate_pitch(self, audio: torch.Tensor) -> torch.Tensor:
        return self.pitch_metric.estimate(audio.detach().float().cpu())

    def score_pitch(self, estimated: torch.Tensor, target: torch.Tensor) -> dict[str, Any]:
        return self.pitch_metric.score(estimated, target)

    # -- family ------------------------------------------------------------------------------
    @cached_property
    def classifier(self) -> FamilyClassifier | None:
        """The family classifier for this dataset: from the cache, else trained now (and cached)."""
        if self.train_dataset is None:
            return None
        settings = self.spec.classifier
        identity = dataset_identity(self.train_dataset) + dataset_identity(self.dataset)
        directory = self._cache_root() / f"family-{cache_key(identity, settings)}"
        cached = load_classifier(directory)
        if cached is not None:
            self.classifier_info = {"cached": True, "path": str(directory), **cached.meta}
            return cached
        log.info("training the family classifier on the training split (cached in %s)", directory)
        train_idx = notes.spread(len(self.train_dataset), settings.max_train_notes)
        train = notes.load(self.train_dataset, train_idx, self.num_samples)
        valid = notes.load(self.dataset, notes.spread(len(self.dataset), HELDOUT_CLASSIFIER_NOTES), self.num_samples)
        classifier = train_classifier(
            log_mel(train.audio, self.sample_rate), train.family, log_mel(valid.audio, self.sample_rate),
            valid.family, settings,
        )
        try:
            save_classifier(classifier, directory, settings)
        except OSError as exc:
            log.warning("cannot cache the family classifier in %s (%s)", directory, exc)
        self.classifier_info = {"cached": False, "path": str(directory), **classifier.meta}
        return classifier

    def _cache_root(self) -> Path:
        if self.cache_dir is not None:
            return Path(self.cache_dir)
        from specinpaint.data.render_cache import default_cache_dir

        return default_cache_dir() / "classifiers"

    def family_accuracy(self, audio: torch.Tensor, family: torch.Tensor) -> tuple[float, torch.Tensor] | None:
        """(accuracy, predicted families) of the classifier on ``audio``; None without classifier."""
        classifier = self.classifier
        if classifier is None:
            return None
        predicted = classifier.predict(audio.detach().float().cpu(), self.sample_rate)
        return float((predicted == family.cpu()).float().mean()), predicted
