"""Which notes an evaluation uses: by default the splits of the data the bundle was trained on
(the dataset root its extras record), else another NSynth-format root or a pipeline config's data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from specinpaint.core.config import PipelineConfig
from specinpaint.core.errors import ConfigError, DataError
from specinpaint.core.pipeline import Pipeline
from specinpaint.training.data import build_dataset


def evaluation_config(pipeline: Pipeline, dataset: str | Path | None = None) -> tuple[PipelineConfig, str | None]:
    """(config whose ``data`` section to use, dataset root override or None).

    ``dataset``: None (the bundle's own data), an NSynth-format root directory, or a pipeline
    YAML (its ``data`` section; the bundle's note length is kept)."""
    config = pipeline.config
    if dataset is None:
        recorded = pipeline.extras.get("data", {}).get("root")
        return config, recorded if recorded and Path(recorded).is_dir() else None
    path = Path(dataset).expanduser()
    if path.is_dir():
        return config, str(path)
    if path.is_file() or not path.suffix:
        from specinpaint.core.yaml_config import load_config

        other = load_config(dataset)
        return config.model_copy(update={"data": other.data}), None
    raise ConfigError(f"--dataset: {dataset} is neither a dataset directory nor a pipeline config")


def evaluation_datasets(
    pipeline: Pipeline, dataset: str | Path | None = None, split: str | None = None,
    train_split: str | None = None, *, with_train: bool = True,
) -> tuple[Any, Any | None, dict[str, Any]]:
    """(held-out split, training split or None, description for the report)."""
    config, root = evaluation_config(pipeline, dataset)
    split = split or config.data.valid_split
    train_split = train_split or config.data.train_split
    heldout = build_dataset(config, split, root)
    train = None
    if with_train:
        try:
            train = build_dataset(config, train_split, root)
        except DataError:
            train = None  # no training split: no family classifier, the rest is measured
    description = {
        "dataset": str(getattr(heldout, "root", root or config.data.dataset.name)),
        "split": split, "train_split": train_split if train is not None else None,
    }
    return heldout, train, description


def optional_split(pipeline: Pipeline, split: str | None, dataset: str | Path | None = None) -> Any | None:
    """The named split of the evaluation's data, or None when there is no such split."""
    if split is None:
        return None
    config, root = evaluation_config(pipeline, dataset)
    try:
        return build_dataset(config, split, root)
    except DataError:
        return None
