"""One training engine for every trainable plugin (single process or torchrun + DDP).

Public API (what the CLI and the end-to-end job call):

* `train_quantizer(pipeline, config, train_data, valid_data, out_dir, resume=True, fit_batches=32)` →
  `TrainResult` (the normaliser is fitted on the first ``fit_batches`` training batches; None = all)
* `extract_codes(pipeline, dataset, out_dir, split)` → `specinpaint.data.code_store.CodeStore`
* `train_prior(pipeline, level, config, train_store, valid_store, out_dir)` → `TrainResult`
* `train_stage(stage, config, run_dir)` / `train_all(config, run_dir)`: the run-directory workflow
  of ``specinpaint train``
* `train(task, config, out_dir)`: the generic loop, for any `TrainingTask`
"""

from .engine import TrainOutcome, train
from .extract import extract_codes
from .prior_task import PriorTask, train_prior
from .quantizer_task import QuantizerTask, train_quantizer
from .result import TrainResult
from .stages import stages_for, train_all, train_stage
from .task import TrainingTask

__all__ = [
    "PriorTask", "QuantizerTask", "TrainOutcome", "TrainResult", "TrainingTask", "extract_codes", "stages_for",
    "train", "train_all", "train_prior", "train_quantizer", "train_stage",
]
