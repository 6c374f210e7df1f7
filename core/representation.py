"""The `Representation` contract: audio ↔ image-like spectrogram tensors."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from pydantic import BaseModel
from torch import nn


class Representation(nn.Module, ABC):
    """Turns mono audio into a spectrogram image and back.

    Contract (every implementation, batched, differentiable, device-agnostic):

    * ``encode(audio)``: float audio ``[B, N]`` at ``sample_rate`` Hz, values in about [-1, 1]
      → float tensor ``[B, C, F, T]``; ``F`` rows ordered low→high frequency, ``T`` frames.
    * ``decode(spec, length)``: ``[B, C, F, T]`` → audio ``[B, length]`` (``length`` = the number of
      samples that went in, so round trips keep the length).
    * ``output_shape(N)`` → ``(C, F, T)`` that ``encode`` returns for ``N`` samples.
    * ``bin_frequencies_hz()`` → ``[F]`` centre frequency of each row (Hz): where the energy of a
      row comes from, for regions, plots and the decoder's harmonic comb.
    * ``frequency_resolution_hz()`` → the analysis's own resolution (Hz; an FFT's bin spacing), which
      can be coarser than the rows' spacing: how wide a steady tone spreads. 0 (the default) when
      the rows' spacing is the only limit.
    * ``frame_times_s(T)`` → ``[T]`` centre time of each frame (s).
    * ``clean(spec)`` → the same spectrogram with the representation's own invariants re-applied
      (e.g. the paper's phase threshold); called on model outputs before ``decode``. Identity by default.
    * ``decodes_with_pitch``: ``decode`` also takes ``pitch=`` (MIDI [B], ``NULL_LABEL`` where unknown),
      a hint for the inversion; the pipeline passes the notes' labels when it has them.
    * ``level_channel`` / ``level_is_power``: which channel holds the natural-log level, and whether
      it is log *power* (else log magnitude): what level-aware losses and the attenuate brush use.

    Plugins declare a pydantic ``Params`` model and are built as ``cls(params)``.
    """

    Params: ClassVar[type[BaseModel]]
    description: ClassVar[str] = ""
    channel_names: ClassVar[tuple[str, ...]] = ()
    level_channel: ClassVar[int] = 0
    level_is_power: ClassVar[bool] = False
    decodes_with_pitch: ClassVar[bool] = False

    def __init__(self, params: BaseModel) -> None:
        super().__init__()
        self.params = params

    @property
    @abstractmethod
    def sample_rate(self) -> int: ...

    @abstractmethod
    def encode(self, audio: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def decode(self, spec: torch.Tensor, length: int) -> torch.Tensor: ...

    @abstractmethod
    def output_shape(self, num_samples: int) -> tuple[int, int, int]: ...

    @abstractmethod
    def bin_frequencies_hz(self) -> torch.Tensor: ...

    @abstractmethod
    def frame_times_s(self, num_frames: int) -> torch.Tensor: ...

    def frequency_resolution_hz(self) -> float:
        return 0.0

    def clean(self, spec: torch.Tensor) -> torch.Tensor:
        return spec

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.encode(audio)
