"""Products with sparse banded matrices (mel filterbanks) as a few shifted gathers.

A mel matrix has ~2 300 non-zeros out of 1024×1024 and every column is a run of at most ~7
consecutive rows. ``x @ M`` as ``Σ_j x[..., start + j] · w[:, j]`` costs O(F·K) instead of O(F²):
about 100× fewer operations than a dense matmul, differentiable, and device-agnostic
(``index_select`` on CPU and CUDA alike).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class BandedMatmul(nn.Module):
    """``forward(x)`` = ``x @ matrix`` over the last axis for a [n_in, n_out] matrix whose columns
    are contiguous runs. Buffers are derived from the matrix, so they are not persistent."""

    def __init__(self, matrix: np.ndarray, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        n_in, n_out = matrix.shape
        nonzero = matrix != 0
        has_any = nonzero.any(axis=0)
        first = np.where(has_any, nonzero.argmax(axis=0), 0)
        last = np.where(has_any, n_in - 1 - nonzero[::-1].argmax(axis=0), 0)
        width = int((last - first + 1)[has_any].max()) if has_any.any() else 1
        start = np.minimum(first, n_in - width)  # keep every gather in range
        offsets = start[None, :] + np.arange(width)[:, None]  # [K, n_out]
        weights = np.take_along_axis(matrix, offsets, axis=0)  # [K, n_out]
        self.n_in, self.n_out, self.width = n_in, n_out, width
        self.dense = width * 8 > n_in  # not really banded: a plain matmul is faster
        if self.dense:
            offsets, weights = np.zeros((1, 1), dtype=np.int64), matrix
        self.register_buffer("index", torch.from_numpy(offsets.astype(np.int64)), persistent=False)
        self.register_buffer("weight", torch.from_numpy(np.ascontiguousarray(weights)).to(dtype),
                             persistent=False)

    def forward(self, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        """``x`` contracted with the matrix along ``dim`` (size n_in), which becomes size n_out."""
        dim = dim % x.dim()
        if x.shape[dim] != self.n_in:
            raise ValueError(f"banded matmul expects {self.n_in} entries on axis {dim}, got {x.shape[dim]}")
        if self.dense:
            return (x.movedim(dim, -1) @ self.weight).movedim(-1, dim)
        shape = [1] * x.dim()
        shape[dim] = self.n_out
        out = x.index_select(dim, self.index[0]) * self.weight[0].view(shape)
        for j in range(1, self.width):
            out = out + x.index_select(dim, self.index[j]) * self.weight[j].view(shape)
        return out
