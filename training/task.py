"""`TrainingTask`: what the generic engine needs to know about one trainable module.

The engine (training/engine.py) owns the loop, devices, DDP, precision, optimiser, schedule,
checkpoints, logging and the data order; a task owns the model, the data sets and how a batch
becomes a loss. The quantizer and both priors are tasks (quantizer_task.py, prior_task.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from .distributed import DistContext


class TrainingTask(ABC):
    """One trainable module plus its data and loss.

    * ``name``: checkpoint/task identifier (``quantizer``, ``prior_<level>``).
    * ``module``: the ``nn.Module`` whose parameters are optimised (and whose buffers, e.g. EMA
      codebooks, are checkpointed).
    * ``train_set`` / ``valid_set`` + ``collate``: map-style datasets and the function turning a
      list of items (or what ``__getitems__`` returns) into a CPU batch.
    * ``signature()``: JSON describing what defines the weights; a checkpoint with another
      signature is refused.
    * ``signature_defaults()``: the defaults of signature keys that a checkpoint written before
      they existed may lack (see training/signature.py).
    * ``prepare(batch, device)``: move to the device and compute features, without gradients.
    * ``compute_loss(module, batch)``: ``(scalar loss, {name: float or 0-d tensor})``; ``module``
      is ``self.module`` (possibly reached through DDP, so always call the argument).
    """

    name: str = "task"
    find_unused_parameters: bool = False
    module: nn.Module
    train_set: Dataset
    valid_set: Dataset | None = None
    collate: Callable[[Any], Any]

    @abstractmethod
    def signature(self) -> dict[str, Any]: ...

    @abstractmethod
    def prepare(self, batch: Any, device: torch.device) -> Any: ...

    @abstractmethod
    def compute_loss(self, module: nn.Module, batch: Any) -> tuple[torch.Tensor, Mapping[str, Any]]: ...

    def signature_defaults(self) -> dict[str, Any]:
        """Values a signature key missing from an older checkpoint may take (none by default)."""
        return {}

    def items_in(self, batch: Any) -> int:
        """Examples in a prepared batch (for throughput: notes/s)."""
        return 0

    def to(self, device: torch.device) -> None:
        """Move everything the task uses (not only ``module``) to ``device``."""
        self.module.to(device)

    def setup(self, ctx: DistContext, resumed: bool) -> None:
        """Called once before the first step (after a resume restored the state)."""
        return None

    def extra_state(self) -> dict[str, torch.Tensor]:
        """Tensors outside ``module`` that a checkpoint must keep (e.g. fitted normaliser stats)."""
        return {}

    def load_extra_state(self, state: Mapping[str, torch.Tensor]) -> None:
        """Restore what ``extra_state`` saved."""
        return None

    def write_samples(self, step: int, directory: Path) -> None:
        """Optional periodic samples (main rank only)."""
        return None


class LossModule(nn.Module):
    """Wraps ``task.module`` so DDP (and torch.compile) see one ``forward`` returning the loss:
    that is how DDP synchronises gradients of a module trained through a method like
    ``Prior.loss`` rather than ``forward``."""

    def __init__(self, task: TrainingTask) -> None:
        super().__init__()
        self.inner = task.module
        self._compute = task.compute_loss

    def forward(self, batch: Any):
        return self._compute(self.inner, batch)
