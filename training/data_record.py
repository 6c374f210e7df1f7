"""What a pipeline was trained on, saved in its bundle's extras.

The quantizer stage is where a bundle is first written from a dataset, so it records there:

* ``extras["labels"]``: the dataset's label encoders (`LabelEncoders.to_json()`), fitted once over
  the whole dataset (every split, after filters), never per split; read them back with
  ``LabelEncoders.from_json(pipeline.extras["labels"])``.
* ``extras["data"]``: the split description: dataset plugin, train/valid split names and sizes, and,
  from the dataset's ``summary()`` when it has one, root, split scheme, seed, train fraction, split
  file and filters.

Later stages (the priors) start from the saved bundle and keep both unchanged. Dataset plugins
without a ``labels`` property (e.g. the in-process synthetic test plugins) get no
``extras["labels"]``; their ``extras["data"]`` holds what they have (plugin, splits, sizes).
"""

from __future__ import annotations

import logging
from typing import Any

from specinpaint.core.pipeline import Pipeline

log = logging.getLogger(__name__)

#: keys of ``NSynthDataset.summary()`` copied into ``extras["data"]``
SUMMARY_KEYS = ("root", "split_scheme", "split_seed", "splits_file", "available_splits", "filters")


def _labels_json(dataset: Any) -> dict[str, Any] | None:
    labels = getattr(dataset, "labels", None)
    to_json = getattr(labels, "to_json", None)
    return to_json() if callable(to_json) else None


def describe_data(pipeline: Pipeline, train_set: Any, valid_set: Any | None) -> dict[str, Any]:
    """The split description stored in ``extras["data"]`` (JSON-serialisable)."""
    data = pipeline.config.data
    out: dict[str, Any] = {
        "dataset": data.dataset.name,
        "train_split": data.train_split,
        "valid_split": data.valid_split if valid_set is not None else None,
        "notes": {data.train_split: len(train_set)},
    }
    if valid_set is not None:
        out["notes"][data.valid_split] = len(valid_set)
    summary = getattr(train_set, "summary", None)
    if callable(summary):
        info = summary()
        out.update({key: info[key] for key in SUMMARY_KEYS if key in info})
        params = getattr(train_set, "params", None)
        if out.get("split_scheme") == "paper" and hasattr(params, "split_train_fraction"):
            out["split_train_fraction"] = params.split_train_fraction
    return out


def record_data(pipeline: Pipeline, train_set: Any, valid_set: Any | None) -> None:
    """Store the label encoders and the split description of the training data in
    ``pipeline.extras`` (replacing any from an earlier dataset)."""
    labels = _labels_json(train_set)
    if labels is not None:
        valid_labels = _labels_json(valid_set) if valid_set is not None else None
        if valid_labels is not None and valid_labels != labels:
            log.warning("the validation set's label encoders differ from the training set's; "
                        "saving the training set's")
        if pipeline.extras.get("labels") not in (None, labels):
            log.info("replacing the pipeline's label encoders with the training dataset's")
        pipeline.extras["labels"] = labels
    else:
        pipeline.extras.pop("labels", None)  # never keep encoders of another dataset
    pipeline.extras["data"] = describe_data(pipeline, train_set, valid_set)
