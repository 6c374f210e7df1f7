"""The `Normalizer` contract: an exactly invertible per-channel map applied before quantization."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import ClassVar

import torch
from pydantic import BaseModel
from torch import nn


class Normalizer(nn.Module, ABC):
    """``normalize``/``denormalize`` act on ``[B, C, F, T]`` spectrograms; ``fit`` computes the
    statistics from a stream of batches in one pass. Statistics are buffers, so they are saved with
    the pipeline bundle."""

    Params: ClassVar[type[BaseModel]]
    description: ClassVar[str] = ""

    def __init__(self, params: BaseModel) -> None:
        super().__init__()
        self.params = params

    @abstractmethod
    def normalize(self, spec: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def denormalize(self, spec: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def fit(self, batches: Iterable[torch.Tensor]) -> None: ...

    @property
    def needs_fit(self) -> bool:
        """True when statistics must be computed from data before use."""
        return False
