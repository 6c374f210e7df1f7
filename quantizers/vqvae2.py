"""`vqvae2`: the paper's hierarchical VQ-VAE-2 as a `Quantizer` plugin (docs/paper.md).

Defaults are the paper's model: [B, 2, 1024, 128] → bottom encoder ×16 (four stride-2 4×4 convs)
→ 64×8, top encoder ×2 → 32×4; 128 hidden channels, 2 residual blocks of 32 channels, codebooks of
512 × 64-d codes at both levels (≈1.78 M parameters plus codebook buffers). The top is quantized
first; its decoding, concatenated with the bottom features, is what the bottom quantizer sees. The
decoder upsamples the top, concatenates it with the bottom and decodes ×16.

Generalisations: any number of levels (``num_levels``; names ``top``, ``middle``…, ``bottom``),
anisotropic strides, per-level codebook sizes, and the codebook remedies of
`quantizers.codebook.EMACodebook`. The reconstruction loss is in normalised units with per-channel
weights (the original used raw units, so the magnitude channel dominated). The hierarchy itself is
`quantizers.hierarchy.HierarchicalVAE`; this plugin gives it EMA codebooks.
"""

from __future__ import annotations

from pydantic import Field, model_validator
from torch import nn

from .codebook import EMACodebook
from .hierarchy import HierarchicalVAE, HierarchyParams


class VQVAE2(HierarchicalVAE):
    """Hierarchical VQ-VAE-2 with EMA codebooks (k-means init, synchronised dead-code restarts)."""

    description = "hierarchical VQ-VAE-2 (top/bottom codemaps, EMA codebooks with k-means init and restarts)"

    class Params(HierarchyParams):
        num_codes: int = Field(512, ge=2, description="codebook size of every level")
        level_num_codes: dict[str, int] = Field(default_factory=dict, description="per-level override")
        decay: float = Field(0.99, gt=0, lt=1, description="EMA decay of the codebooks")
        epsilon: float = Field(1e-5, gt=0, description="Laplace smoothing of the EMA cluster sizes")
        commitment_cost: float = Field(0.25, ge=0)
        kmeans_init: bool = True
        kmeans_iters: int = Field(10, ge=1)
        restart_dead_codes: bool = Field(True, description="replace dead codes by recent encoder outputs")

        @model_validator(mode="after")
        def _codebooks(self) -> VQVAE2.Params:
            self.check_level_keys(self.level_num_codes, "level_num_codes")
            if any(n < 2 for n in self.level_num_codes.values()):
                raise ValueError("level_num_codes: every codebook needs at least 2 codes")
            return self

    params: Params

    def __init__(self, params: Params) -> None:
        super().__init__(params, self._ema_codebook, params.commitment_cost)

    def _ema_codebook(self, level: str) -> nn.Module:
        p = self.params
        return EMACodebook(
            p.level_num_codes.get(level, p.num_codes), p.embed_dim, decay=p.decay, epsilon=p.epsilon,
            kmeans_init=p.kmeans_init, kmeans_iters=p.kmeans_iters, dead_code_steps=p.dead_code_steps,
            restart_dead_codes=p.restart_dead_codes,
        )
