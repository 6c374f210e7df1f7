"""Key/value cache for autoregressive decoding.

Why: the paper re-ran the whole decoder over the full sequence for every sampled token. With a
cache each new token costs one position per layer: its keys/values are appended, earlier ones are
reused, and the cross-attention keys/values of the (fixed) encoder memory are computed once.
"""

from __future__ import annotations

import torch

from specinpaint.core.errors import SpecinpaintError


class LayerCache:
    """One layer's cached self-attention keys/values ``[B, H, max_len, D]`` (allocated on first use)
    and its cross-attention keys/values of the encoder memory."""

    def __init__(self, max_len: int) -> None:
        self.max_len = max_len
        self.length = 0
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None
        self.cross: tuple[torch.Tensor, torch.Tensor] | None = None

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add ``[B, H, L, D]`` new keys/values; return all keys/values so far."""
        if self.k is None or self.v is None:
            b, h, _, d = k.shape
            self.k = k.new_empty(b, h, self.max_len, d)
            self.v = v.new_empty(b, h, self.max_len, d)
        end = self.length + k.shape[2]
        if end > self.max_len:
            raise SpecinpaintError(f"KV cache overflow: {end} positions > capacity {self.max_len}")
        self.k[:, :, self.length:end] = k
        self.v[:, :, self.length:end] = v
        self.length = end
        return self.k[:, :, :end], self.v[:, :, :end]


class KVCache:
    """Per-layer caches of one decoder stack; ``length`` = positions already fed."""

    def __init__(self, num_layers: int, max_len: int) -> None:
        self.layers = [LayerCache(max_len) for _ in range(num_layers)]

    @property
    def length(self) -> int:
        return self.layers[0].length if self.layers else 0
