"""`fsq`: the VQ-VAE-2 hierarchy with finite scalar quantization instead of EMA codebooks.

Same encoders, decoders, levels and codemap interface as `vqvae2` (both are
`quantizers.hierarchy.HierarchicalVAE`; the priors need no change: codes are still integers in
[0, num_codes)); each level's codebook is implicit, ``prod(fsq_levels)`` codes, with no codebook
collapse and no commitment loss.
"""

from __future__ import annotations

import math

from pydantic import Field, field_validator, model_validator
from torch import nn

from .fsq import FSQCodebook
from .hierarchy import HierarchicalVAE, HierarchyParams


class FSQVAE(HierarchicalVAE):
    """Hierarchical VQ-VAE with finite scalar quantization at every level."""

    description = "hierarchical VQ-VAE with finite scalar quantization (implicit codebooks, no collapse)"

    class Params(HierarchyParams):
        fsq_levels: list[int] = Field(
            default_factory=lambda: [8, 5, 5, 5], description="values per FSQ dimension (8·5·5·5 = 1000 codes)"
        )
        level_fsq_levels: dict[str, list[int]] = Field(default_factory=dict, description="per-level override")

        @field_validator("fsq_levels")
        @classmethod
        def _levels(cls, value: list[int]) -> list[int]:
            if not value or any(n < 2 for n in value):
                raise ValueError("fsq_levels needs at least one dimension, each with >= 2 values")
            return value

        @model_validator(mode="after")
        def _per_level(self) -> FSQVAE.Params:
            self.check_level_keys(self.level_fsq_levels, "level_fsq_levels")
            for name, levels in self.level_fsq_levels.items():
                if not levels or any(n < 2 for n in levels):
                    raise ValueError(f"level_fsq_levels.{name}: each dimension needs >= 2 values")
            for levels in [self.fsq_levels, *self.level_fsq_levels.values()]:
                if math.prod(levels) > 2**31 - 1:
                    raise ValueError(f"fsq levels {levels} give more than 2^31 codes")
            return self

    params: Params

    def __init__(self, params: Params) -> None:
        super().__init__(params, self._fsq_codebook, commitment_cost=0.0)  # FSQ has nothing to commit to

    def _fsq_codebook(self, level: str) -> nn.Module:
        p = self.params
        return FSQCodebook(p.level_fsq_levels.get(level, p.fsq_levels), p.embed_dim, dead_code_steps=p.dead_code_steps)
