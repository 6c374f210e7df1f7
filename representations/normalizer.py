"""``affine`` normaliser: per-channel ``y = a·x + b`` (GANSynth's range normaliser).

Modes:

* ``prespecified``: GANSynth's constants: channel 0 (log-mel power) a=0.0661371661726,
  b=0.113718730221; channel 1 (IF) a=0.8, b=0. They map the mel log-power range [-13.8, ≈10.4] onto
  ≈[-0.8, 0.8]. Override with ``scale``/``offset``.
* ``fitted``: per-channel min/max from ONE streaming pass over a dataset (``fit``), mapped onto
  ``[-margin_c, margin_c]`` (defaults: 0.8 for the level, 1.0 for IF, as GANsynth-pytorch).

Clipping policy: ``clip=False`` (default) keeps the map exactly invertible everywhere;
``clip=True`` clamps normalised values to [-1, 1] (magenta's behaviour), after which ``denormalize`` is
the exact inverse only for values that were inside the range. ``denormalize`` never clips.

Statistics (scale, offset, data min/max, fitted flag) are PERSISTENT buffers, so they are saved with
the pipeline bundle and a loaded pipeline needs no refit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from specinpaint.core.errors import SpecinpaintError
from specinpaint.core.normalizer import Normalizer

GANSYNTH_SCALE = (0.0661371661726, 0.8)
GANSYNTH_OFFSET = (0.113718730221, 0.0)


class AffineParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["prespecified", "fitted"] = Field(
        "prespecified", description="prespecified constants (GANSynth) or min/max fitted on the training set"
    )
    num_channels: int = Field(2, ge=1, description="spectrogram channels (level, IF)")
    scale: list[float] = Field(list(GANSYNTH_SCALE), description="prespecified a per channel")
    offset: list[float] = Field(list(GANSYNTH_OFFSET), description="prespecified b per channel")
    margins: list[float] = Field([0.8, 1.0], description="fitted: channel c is mapped onto [-m_c, m_c]")
    clip: bool = Field(False, description="clamp normalised values to [-1, 1] (magenta); breaks invertibility "
                       "outside the range")

    @model_validator(mode="after")
    def _lengths(self) -> AffineParams:
        for name in ("scale", "offset", "margins"):
            if len(getattr(self, name)) != self.num_channels:
                raise ValueError(f"{name} needs {self.num_channels} values (one per channel)")
        if any(s == 0 for s in self.scale):
            raise ValueError("scale values must be non-zero (the map must be invertible)")
        if any(m <= 0 for m in self.margins):
            raise ValueError("margins must be positive")
        return self


class AffineNormalizer(Normalizer):
    """Per-channel affine map to about [-1, 1]; exactly invertible; statistics saved with the bundle."""

    description: ClassVar[str] = "Per-channel affine normaliser (GANSynth constants or streaming min/max fit)"
    Params: ClassVar[type[AffineParams]] = AffineParams

    def __init__(self, params: AffineParams) -> None:
        super().__init__(params)
        self.p = params
        c = params.num_channels
        fitted = params.mode == "prespecified"
        scale = torch.tensor(params.scale, dtype=torch.float64) if fitted else torch.ones(c, dtype=torch.float64)
        offset = torch.tensor(params.offset, dtype=torch.float64) if fitted else torch.zeros(c, dtype=torch.float64)
        self.register_buffer("scale", scale)
        self.register_buffer("offset", offset)
        self.register_buffer("data_min", torch.full((c,), float("nan"), dtype=torch.float64))
        self.register_buffer("data_max", torch.full((c,), float("nan"), dtype=torch.float64))
        self.register_buffer("fitted", torch.tensor(fitted))

    @property
    def needs_fit(self) -> bool:
        return not bool(self.fitted)

    def _view(self, values: torch.Tensor, spec: torch.Tensor) -> torch.Tensor:
        if spec.dim() < 2 or spec.shape[1] != self.p.num_channels:
            raise SpecinpaintError(
                f"affine normaliser expects [B, {self.p.num_channels}, ...], got {tuple(spec.shape)}"
            )
        return values.to(spec.dtype).view(1, -1, *([1] * (spec.dim() - 2)))

    def _require_fit(self) -> None:
        if self.needs_fit:
            raise SpecinpaintError("affine normaliser (mode fitted) has no statistics yet: call fit() first")

    def normalize(self, spec: torch.Tensor) -> torch.Tensor:
        self._require_fit()
        out = spec * self._view(self.scale, spec) + self._view(self.offset, spec)
        return out.clamp(-1.0, 1.0) if self.p.clip else out

    def denormalize(self, spec: torch.Tensor) -> torch.Tensor:
        """Exact inverse of the affine map (computed as (y - b) / a; no clipping)."""
        self._require_fit()
        return (spec - self._view(self.offset, spec)) / self._view(self.scale, spec)

    @torch.no_grad()
    def fit(self, batches: Iterable[torch.Tensor]) -> None:
        """One streaming pass: running per-channel min/max over [B, C, ...] batches (non-finite values
        are an error). A constant channel gets scale 1 and is centred."""
        c = self.p.num_channels
        low = torch.full((c,), float("inf"), dtype=torch.float64)
        high = torch.full((c,), float("-inf"), dtype=torch.float64)
        seen = 0
        for batch in batches:
            if batch.dim() < 2 or batch.shape[1] != c:
                raise SpecinpaintError(f"affine normaliser fit expects [B, {c}, ...] batches, got {tuple(batch.shape)}")
            flat = batch.detach().transpose(0, 1).reshape(c, -1).double().cpu()
            if not torch.isfinite(flat).all():
                raise SpecinpaintError("affine normaliser fit: a batch contains NaN or infinite values")
            low = torch.minimum(low, flat.min(dim=1).values)
            high = torch.maximum(high, flat.max(dim=1).values)
            seen += 1
        if seen == 0:
            raise SpecinpaintError("affine normaliser fit: no batches were given")
        if self.p.mode == "prespecified":  # record the data range only, keep the constants
            self.data_min.copy_(low)
            self.data_max.copy_(high)
            return
        margins = torch.tensor(self.p.margins, dtype=torch.float64)
        span = high - low
        scale = torch.where(span > 0, 2 * margins / span.clamp_min(1e-300), torch.ones_like(span))
        offset = -margins - scale * low
        offset = torch.where(span > 0, offset, -scale * low)
        self.scale.copy_(scale)
        self.offset.copy_(offset)
        self.data_min.copy_(low)
        self.data_max.copy_(high)
        self.fitted.fill_(True)
