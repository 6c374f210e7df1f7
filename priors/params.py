"""Shared `Params` fields of the transformer priors (defaults = the paper's sizes)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TransformerParams(BaseModel):
    """Fields every transformer prior takes. Paper sizes: d_model 512, 16 heads, 6 encoder and
    8 decoder layers, FFN 2048, dropout 0.1, 512 codes."""

    model_config = ConfigDict(extra="forbid")

    level: str = Field("top", description="codemap level this prior models")
    num_codes: int = Field(512, ge=2, description="codebook size of this level")
    codemap_shape: tuple[int, int] = Field((32, 4), description="(F, T) of this level's map")
    d_model: int = Field(512, ge=8)
    num_heads: int = Field(16, ge=1)
    num_encoder_layers: int = Field(6, ge=1)
    num_decoder_layers: int = Field(8, ge=1)
    ffn_dim: int = Field(2048, ge=1)
    dropout: float = Field(0.1, ge=0, lt=1)
    positions: Literal["rope", "learned2d"] = Field(
        "rope", description="learned2d: learned (freq, time) embeddings at the input; rope: those plus 2-D rotary attention"
    )
    mlp: Literal["gelu", "swiglu"] = "gelu"
    class_dropout: float = Field(0.1, ge=0, le=1, description="training: probability of null labels (for CFG)")
    pitch_range: tuple[int, int] = Field((24, 84), description="MIDI pitches the prior is conditioned on (inclusive)")
    num_families: int = Field(11, ge=1, description="instrument families the prior is conditioned on")
    pitch_embedding: Literal["table", "table+smooth"] = Field(
        "table", description="table: one learned vector per pitch; table+smooth: plus a learned projection of "
        "smooth pitch features, shared by neighbouring pitches",
    )
    attention_backend: Literal["auto", "xformers", "sdpa", "math"] = "auto"

    @model_validator(mode="after")
    def _check_sizes(self) -> TransformerParams:
        if self.d_model % self.num_heads:
            raise ValueError(f"d_model {self.d_model} must be divisible by num_heads {self.num_heads}")
        if self.positions == "rope" and (self.d_model // self.num_heads) % 4:
            raise ValueError(f"rope positions need d_model/num_heads divisible by 4, got {self.d_model // self.num_heads}")
        if self.pitch_range[0] > self.pitch_range[1]:
            raise ValueError(f"pitch_range {self.pitch_range} must be (lowest, highest)")
        if min(self.codemap_shape) < 1:
            raise ValueError(f"codemap_shape must be positive, got {self.codemap_shape}")
        return self


class ContextParams(TransformerParams):
    """A prior conditioned on the coarser ``context_level`` map (the bottom priors)."""

    level: str = "bottom"
    codemap_shape: tuple[int, int] = (64, 8)
    context_level: str = Field("top", description="coarser level whose map is the condition")
    top_shape: tuple[int, int] = Field((32, 4), description="(F, T) of the context map")
    top_num_codes: int = Field(512, ge=2, description="codebook size of the context map")

    @model_validator(mode="after")
    def _check_upsampling(self) -> ContextParams:
        (f, t), (cf, ct) = self.codemap_shape, self.top_shape
        if min(cf, ct) < 1 or f % cf or t % ct:
            raise ValueError(f"codemap_shape {self.codemap_shape} must be an integer upsampling of top_shape {self.top_shape}")
        return self
