"""`fsq`: the VQ-VAE-2 hierarchy with finite scalar quantization instead of EMA codebooks.

Same encoders, decoders, levels and codemap interface as `vqvae2` (the priors need no change: codes
are still integers in [0, num_codes)); each level's codebook is implicit, ``prod(fsq_levels)``
codes, with no codebook collapse and no commitment loss.
"""

from __future__ import annotations

import math

from pydantic import Field, field_validator, model_validator
from torch import nn

from .fsq import FSQCodebook
from .vqvae2 import VQVAE2, HierarchyParams


class FSQVAE(VQVAE2):
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

    def _fsq_levels(self, name: str) -> list[int]:
        return self.params.level_fsq_levels.get(name, self.params.fsq_levels)

    def _level_num_codes(self, name: str) -> int:
        return math.prod(self._fsq_levels(name))

    def _make_codebook(self, name: str) -> nn.Module:
        return FSQCodebook(self._fsq_levels(name), self.params.embed_dim, dead_code_steps=self.params.dead_code_steps)

    @property
    def commitment_cost(self) -> float:
        return 0.0
