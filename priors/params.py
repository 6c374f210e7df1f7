"""Shared `Params` fields of the transformer priors (defaults = the paper's sizes, the project's
recipe; the switches that reproduce the original's layers are set in configs/paper.yaml)."""

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
    mlp: Literal["gelu", "swiglu", "relu"] = Field(
        "gelu", description="feed-forward activation: gelu, swiglu (gated), relu (the original's)"
    )
    norm: Literal["pre", "post"] = Field(
        "pre", description="pre: LayerNorm before each sublayer (stable when deep); post: after each residual "
        "add (the original's PyTorch-style blocks)",
    )
    embedding: Literal["sum", "concat"] = Field(
        "sum", description="sum: d_model-wide token, position and class vectors added; concat: the original's "
        "small vectors side by side (token_dim projected, position_dim, 2 x class_dim), d_model in all",
    )
    token_dim: int = Field(32, ge=1, description="concat: token embedding width, projected to what the rest leaves")
    position_dim: int = Field(16, ge=2, description="concat: learned position width (half frequency row, half "
                              "time column)")
    class_dim: int = Field(16, ge=1, description="concat: width of the pitch embedding and of the family embedding")
    class_dropout: float = Field(0.1, ge=0, le=1, description="training: probability of null labels (for CFG)")
    pitch_range: tuple[int, int] = Field((24, 84), description="MIDI pitches the prior is conditioned on (inclusive)")
    num_families: int = Field(11, ge=1, description="instrument families the prior is conditioned on")
    pitch_embedding: Literal["table", "table+smooth"] = Field(
        "table", description="table: one learned vector per pitch; table+smooth: plus a learned projection of "
        "smooth pitch features, shared by neighbouring pitches",
    )
    attention_backend: Literal["auto", "xformers", "sdpa", "math"] = "auto"
    max_time_offset: int = Field(
        0, ge=0, description="largest window start, in this level's columns, with learned time positions of "
        "its own: a window of a longer note starting at column s indexes the time embedding by s + column "
        "(later starts use this largest one); 0: every window is a note's start (the paper's, and every "
        "bundle saved before the option). rope positions are relative, so they need no offset",
    )

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
        if self.embedding == "concat" and self.token_width < 1:
            raise ValueError(
                f"embedding concat: d_model {self.d_model} leaves no room for the token after position_dim "
                f"{self.position_dim} and 2 x class_dim {self.class_dim}"
            )
        return self

    @property
    def class_width(self) -> int:
        """Width of the class vector: d_model (sum) or pitch ‖ family (concat)."""
        return self.d_model if self.embedding == "sum" else 2 * self.class_dim

    @property
    def token_width(self) -> int:
        """concat: what the projected token vector fills (d_model minus positions and classes)."""
        return self.d_model - self.position_dim - 2 * self.class_dim


class ContextParams(TransformerParams):
    """A prior conditioned on the coarser ``context_level`` map (the bottom priors)."""

    level: str = "bottom"
    codemap_shape: tuple[int, int] = (64, 8)
    context_level: str = Field("top", description="coarser level whose map is the condition")
    top_shape: tuple[int, int] = Field((32, 4), description="(F, T) of the context map")
    top_num_codes: int = Field(512, ge=2, description="codebook size of the context map")
    cross_attention: bool = Field(
        True, description="decoder layers cross-attend to the whole top memory; false: the original's aligned "
        "decoder, which sees the top map only through the k(i) vector added to each slot's input",
    )

    @model_validator(mode="after")
    def _check_upsampling(self) -> ContextParams:
        (f, t), (cf, ct) = self.codemap_shape, self.top_shape
        if min(cf, ct) < 1 or f % cf or t % ct:
            raise ValueError(f"codemap_shape {self.codemap_shape} must be an integer upsampling of top_shape {self.top_shape}")
        if self.max_time_offset % (t // ct):
            raise ValueError(f"max_time_offset {self.max_time_offset} must be a multiple of {t // ct} (the "
                             f"{self.level} columns per {self.context_level} column)")
        return self

    @property
    def time_factor(self) -> int:
        """Columns of this level per column of the context level."""
        return self.codemap_shape[1] // self.top_shape[1]
