"""The `Prior` contract: a generative model over one codemap level, used to inpaint regions."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from .codemaps import Codemaps
from .conditioning import Conditioning

#: Largest seed accepted anywhere (numpy's seed range; offsets added per window stay within torch's).
MAX_SEED = 2**32 - 1


#: What classifier-free guidance's unconditional half leaves out.
GuidanceDrop = Literal["both", "family"]


class LevelSampling(BaseModel):
    """Per-level overrides of the drawing filters (unset fields keep the request's own)."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(None, gt=0)
    top_k: int | None = Field(None, ge=0)
    top_p: float | None = Field(None, ge=0, le=1)
    guidance_scale: float | None = Field(None, ge=0)
    guidance_drop: GuidanceDrop | None = None
    pitch_guidance_scale: float | None = Field(None, ge=0)


class SamplingOptions(BaseModel):
    """How to draw codes. ``top_k=0`` and ``top_p=0`` disable those filters; ``guidance_scale=1``
    disables classifier-free guidance; ``seed=None`` draws from the global generator.

    ``levels`` overrides the filters per codemap level, e.g. ``{bottom: {temperature: 0.5}}``: why
    — the fine level's codes place the harmonics, and a wrong fine code moves a harmonic (the pitch
    drifts), while the coarse level carries the variety worth sampling broadly."""

    model_config = ConfigDict(extra="forbid")

    sampler: Literal["autoregressive", "parallel"] = "autoregressive"
    temperature: float = Field(1.0, gt=0)
    top_k: int = Field(0, ge=0)
    top_p: float = Field(0.0, ge=0, le=1)
    guidance_scale: float = Field(1.0, ge=0)
    guidance_drop: GuidanceDrop = Field(
        "both", description="the labels guidance's unconditional half drops: both (classic classifier-free "
        "guidance), or only the family (the scale then strengthens the family alone; the pitch keeps its "
        "conditional strength)")
    pitch_guidance_scale: float | None = Field(
        None, ge=0, description="a strength per label: the pitch's own scale, through a third pass without "
        "any label; ``guidance_scale`` then scales the family's part alone and guidance_drop does not matter. "
        "None: guidance as guidance_drop says (two passes). Equal to guidance_scale it is classic guidance, "
        "1 the family-only guidance")
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    use_kv_cache: bool = True
    num_steps: int = Field(8, ge=1, description="passes of the parallel (MaskGIT) sampler")
    choice_temperature: float = Field(4.5, ge=0, description="parallel sampler: Gumbel noise on confidences")
    levels: dict[str, LevelSampling] = Field(default_factory=dict, description="per-level filter overrides")

    def for_level(self, level: str) -> SamplingOptions:
        """These options with ``levels[level]``'s overrides applied (and no per-level table)."""
        changes = self.levels[level].model_dump(exclude_none=True) if level in self.levels else {}
        return self.model_copy(update={**changes, "levels": {}})


@dataclass
class PriorLoss:
    """``loss``: scalar to minimise; ``metrics``: values for logging (e.g. masked accuracy), floats or
    detached 0-d tensors (kept on the device: the trainer averages them and syncs once per log
    interval; read one with ``float()``)."""

    loss: torch.Tensor
    metrics: dict[str, float | torch.Tensor] = field(default_factory=dict)


class Prior(nn.Module, ABC):
    """Models one codemap ``level`` given the coarser ``context_levels`` and class conditioning.

    * ``loss(codes, conditioning, mask=None)``: training loss. ``mask`` is a bool ``[B, F, T]`` on
      this level (True = hidden, to be predicted); when None the prior draws its own training masks.
    * ``inpaint(codes, mask, conditioning, options)``: a new LongTensor ``[B, F, T]`` for this level,
      equal to ``codes[level]`` wherever ``mask`` is False.
    * ``sample(conditioning, options, context)``: a whole new map (``inpaint`` with a full mask).
    * ``samplers``: the ``SamplingOptions.sampler`` values this prior can run. The editing API
      plans every level before sampling: a level whose prior lacks the requested sampler runs
      ``autoregressive`` instead (logged), so one request can mix priors of different abilities.
    * ``max_time_offset``: a prior that knows where a window lies in a longer note says how far
      (in columns of its level) and takes ``time_offset=`` (an int or a LongTensor ``[B]``: the
      window's first column in the note) in ``loss``, ``inpaint`` and ``sample``; larger offsets
      are clamped to it. 0 (the default): the prior takes no offset and every window is modelled
      as a note's start; callers then pass none (so priors written before the option still work).
    """

    Params: ClassVar[type[BaseModel]]
    description: ClassVar[str] = ""
    samplers: ClassVar[tuple[str, ...]] = ("autoregressive",)

    def __init__(self, params: BaseModel) -> None:
        super().__init__()
        self.params = params

    @property
    @abstractmethod
    def level(self) -> str: ...

    @property
    def context_levels(self) -> tuple[str, ...]:
        return ()

    def supports_sampler(self, sampler: str) -> bool:
        """Whether this instance can run ``sampler``: ``samplers`` by default; an instance may
        narrow it (e.g. a prior built without the head its parallel sampler needs)."""
        return sampler in self.samplers

    @property
    @abstractmethod
    def codemap_shape(self) -> tuple[int, int]: ...

    @property
    def max_time_offset(self) -> int:
        """Largest window start (columns of this level) the prior tells apart; 0: none."""
        return 0

    @abstractmethod
    def loss(self, codes: Codemaps, conditioning: Conditioning, mask: torch.Tensor | None = None) -> PriorLoss: ...

    @abstractmethod
    def inpaint(
        self, codes: Codemaps, mask: torch.Tensor, conditioning: Conditioning, options: SamplingOptions
    ) -> torch.Tensor: ...

    def sample(
        self, conditioning: Conditioning, options: SamplingOptions, context: Codemaps | None = None,
        time_offset: int | torch.Tensor | None = None,
    ) -> torch.Tensor:
        batch = conditioning.batch_size
        device = next(self.parameters()).device
        blank = torch.zeros(batch, *self.codemap_shape, dtype=torch.long, device=device)
        maps = dict(context.items()) if context is not None else {}
        maps[self.level] = blank
        mask = torch.ones_like(blank, dtype=torch.bool)
        extra = {} if time_offset is None else {"time_offset": time_offset}
        return self.inpaint(Codemaps(maps), mask, conditioning.to(device), options, **extra)
