"""The `Quantizer` contract: spectrogram ↔ hierarchical integer codemaps."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from pydantic import BaseModel
from torch import nn

from .codemaps import Codemaps
from .conditioning import Conditioning


@dataclass
class QuantizerOutput:
    """What a training forward pass returns.

    * ``reconstruction``: ``[B, C, F, T]``, same units as the (normalised) input.
    * ``codes``: codemaps by level name, coarsest first.
    * ``losses``: named scalar tensors, already weighted; the training loss is their sum.
    * ``metrics``: named values for logging, e.g. ``top/perplexity``, ``bottom/dead_fraction``: floats
      or detached 0-d tensors (the trainer syncs them once per log interval).
    """

    reconstruction: torch.Tensor
    codes: Codemaps
    losses: dict[str, torch.Tensor]
    metrics: dict[str, float | torch.Tensor] = field(default_factory=dict)

    @property
    def loss(self) -> torch.Tensor:
        return sum(self.losses.values())  # type: ignore[return-value]


class Quantizer(nn.Module, ABC):
    """``forward(spec) → QuantizerOutput``; ``encode(spec) → Codemaps`` (deterministic in eval
    mode); ``decode(codes) → spec``. ``codemap_shapes((C, F, T))`` gives each level's (F, T);
    ``num_codes`` gives each level's codebook size; ``levels`` lists levels coarsest first.

    A quantizer whose decoder also takes the notes' labels says so with ``label_conditioned``; only
    then do callers pass ``conditioning`` to ``forward`` and ``decode``."""

    Params: ClassVar[type[BaseModel]]
    description: ClassVar[str] = ""

    def __init__(self, params: BaseModel) -> None:
        super().__init__()
        self.params = params

    @property
    @abstractmethod
    def levels(self) -> tuple[str, ...]: ...

    @property
    @abstractmethod
    def num_codes(self) -> dict[str, int]: ...

    @property
    def label_conditioned(self) -> bool:
        return False

    def bind_representation(self, representation) -> None:
        """Called once by the `Pipeline` with its representation (e.g. for the rows' frequencies);
        nothing by default."""

    @abstractmethod
    def codemap_shapes(self, input_shape: tuple[int, int, int]) -> dict[str, tuple[int, int]]: ...

    @abstractmethod
    def forward(self, spec: torch.Tensor, conditioning: Conditioning | None = None) -> QuantizerOutput: ...

    @abstractmethod
    def encode(self, spec: torch.Tensor) -> Codemaps: ...

    @abstractmethod
    def decode(self, codes: Codemaps, conditioning: Conditioning | None = None) -> torch.Tensor: ...
