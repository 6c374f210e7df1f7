"""A small instrument-family classifier: the judge of "does this generated note sound like a brass?".

A four-block CNN on fixed log-mel features (`studies.features`), trained on the training split of
the evaluation's dataset and scored on its held-out split; that held-out accuracy is the ceiling a
pipeline's generated notes are compared with. Each example is normalised to its own peak, so the
classifier judges timbre, not level (reconstruction level is measured separately).

Trained classifiers are cached (``<cache>/classifiers/family-<key>/``): the key hashes the
classifier's settings and the dataset's identity (root and the labelled notes of both splits), so
a classifier is trained once per dataset and reused by every later evaluation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from specinpaint.core.atomic import atomic_directory

from .features import log_mel

log = logging.getLogger(__name__)
CLASSIFIER_VERSION = 2
WEIGHTS_FILE, META_FILE = "weights.safetensors", "meta.json"


class ClassifierSettings(BaseModel):
    """How the family classifier is trained (part of its cache key)."""

    model_config = ConfigDict(extra="forbid")

    width: int = Field(16, ge=4, description="channels of the first conv block (doubling, capped at 4×)")
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(3e-3, gt=0)
    max_train_notes: int = Field(1500, ge=2, description="training notes, spread evenly over the split")
    seed: int = 0


class FamilyNet(nn.Module):
    """log-mel ``[B, 1, M, T]`` → family logits ``[B, K]``."""

    def __init__(self, num_classes: int, width: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.AvgPool2d((1, 4))]  # 128 ms frames: timbre, not fine timing
        channels = 1
        for out in (width, 2 * width, 4 * width, 4 * width):
            layers += [nn.Conv2d(channels, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(),
                       nn.MaxPool2d(2, ceil_mode=True)]
            channels = out
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(2 * channels, num_classes)

    @staticmethod
    def normalise(features: torch.Tensor) -> torch.Tensor:
        """Each example relative to its own peak, in units of 20 dB, floored at -100 dB."""
        peak = features.amax(dim=(1, 2, 3), keepdim=True)
        return ((features - peak).clamp_min(-100.0) + 50.0) / 20.0

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        h = self.body(self.normalise(features))
        pooled = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return self.head(pooled)


@dataclass
class FamilyClassifier:
    """A trained classifier: ``classes`` maps output index → family index of the dataset."""

    net: FamilyNet
    classes: list[int]
    heldout_accuracy: float
    meta: dict

    @torch.no_grad()
    def predict(self, audio: torch.Tensor, sample_rate: int = 16000, batch_size: int = 64) -> torch.Tensor:
        """Family index per note ``[B]`` (indices of the dataset's family labels)."""
        self.net.eval()
        out = []
        for start in range(0, audio.shape[0], batch_size):
            logits = self.net(log_mel(audio[start:start + batch_size].float(), sample_rate))
            out.append(logits.argmax(dim=1))
        index = torch.cat(out) if out else torch.zeros(0, dtype=torch.long)
        return torch.tensor(self.classes, dtype=torch.long)[index]


def _augment(features: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Time and frequency masking (one band of each per example): the classifier should not
    hinge on one detail that a blurry generated note lacks."""
    b, _, m, t = features.shape
    out = features.clone()
    floor = features.amin(dim=(1, 2, 3))
    for i in range(b):
        f0 = int(torch.randint(0, m - 8, (1,), generator=generator))
        t0 = int(torch.randint(0, t - 24, (1,), generator=generator))
        out[i, :, f0:f0 + int(torch.randint(0, 8, (1,), generator=generator))] = floor[i]
        out[i, :, :, t0:t0 + int(torch.randint(0, 24, (1,), generator=generator))] = floor[i]
    return out


def train_classifier(
    train_features: torch.Tensor, train_labels: torch.Tensor, valid_features: torch.Tensor,
    valid_labels: torch.Tensor, settings: ClassifierSettings,
) -> FamilyClassifier:
    """Train on ``(features, family index)`` pairs; report accuracy on the held-out pairs."""
    classes = sorted({int(v) for v in train_labels.tolist()})
    lookup = {c: i for i, c in enumerate(classes)}
    targets = torch.tensor([lookup[int(v)] for v in train_labels.tolist()], dtype=torch.long)
    generator = torch.Generator().manual_seed(settings.seed)
    torch.manual_seed(settings.seed)
    net = FamilyNet(len(classes), settings.width)
    optimizer = torch.optim.AdamW(net.parameters(), lr=settings.lr, weight_decay=1e-4)
    steps = settings.epochs * -(-len(targets) // settings.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, settings.lr, total_steps=steps)
    start = time.perf_counter()
    net.train()
    for _ in range(settings.epochs):
        order = torch.randperm(len(targets), generator=generator)
        for i in range(0, len(order), settings.batch_size):
            pick = order[i:i + settings.batch_size]
            if len(pick) < 2:
                continue  # batch norm needs two examples
            loss = nn.functional.cross_entropy(net(_augment(train_features[pick], generator)), targets[pick])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    net.eval()
    with torch.no_grad():
        predicted = torch.cat([net(valid_features[i:i + 128]).argmax(1) for i in range(0, len(valid_features), 128)])
    predicted = torch.tensor(classes)[predicted]
    accuracy = float((predicted == valid_labels).float().mean()) if len(valid_labels) else float("nan")
    meta = {"train_notes": len(targets), "heldout_notes": len(valid_labels), "seconds": time.perf_counter() - start}
    return FamilyClassifier(net, classes, accuracy, meta)


def cache_key(dataset_identity: str, settings: ClassifierSettings) -> str:
    blob = json.dumps({"version": CLASSIFIER_VERSION, "settings": settings.model_dump(), "data": dataset_identity},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def save_classifier(classifier: FamilyClassifier, directory: Path, settings: ClassifierSettings) -> None:
    from safetensors.torch import save_file

    with atomic_directory(directory) as tmp:
        save_file({k: v.contiguous() for k, v in classifier.net.state_dict().items()}, str(tmp / WEIGHTS_FILE))
        meta = {"version": CLASSIFIER_VERSION, "classes": classifier.classes, "settings": settings.model_dump(),
                "heldout_accuracy": classifier.heldout_accuracy, **classifier.meta}
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1))


def load_classifier(directory: Path) -> FamilyClassifier | None:
    """A cached classifier, or None when absent or unreadable (it is then trained again)."""
    from safetensors.torch import load_file

    try:
        meta = json.loads((directory / META_FILE).read_text())
        if meta.get("version") != CLASSIFIER_VERSION:
            return None
        net = FamilyNet(len(meta["classes"]), int(meta["settings"]["width"]))
        net.load_state_dict(load_file(str(directory / WEIGHTS_FILE)))
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        if directory.exists():
            log.warning("ignoring the cached classifier in %s (%s)", directory, exc)
        return None
    net.eval()
    return FamilyClassifier(net, [int(c) for c in meta["classes"]], float(meta["heldout_accuracy"]), meta)
