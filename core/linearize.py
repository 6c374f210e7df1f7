"""Codemap ↔ token-sequence orders for the priors.

Why an explicit order object: the priors see 1-D sequences, the quantizer 2-D maps, and the
bottom prior must know which top token lies above each bottom token. One `Linearizer` per level
holds the permutation, its exact inverse, each token's (freq, time) cell and, for a finer level,
the sequence index of its parent token.

* The coarsest level is read **column by column, low to high frequency** (frequency is the fastest
  index): top [32 × 4] → 128 tokens, token s = t·F + f.
* A finer level is read **patch-major under its parent**: for each parent token in the parent's
  order, the rf × rt patch below it, frequency first inside the patch. For bottom [64 × 8] under
  top [32 × 4] that gives 512 tokens, and bottom token i lies under top token k(i) = ⌊i / 4⌋.

Maps are ``[..., F, T]`` (rows low→high frequency, time columns), flat index = f·T + t.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from .errors import SpecinpaintError


def _check_shape(shape: tuple[int, int], what: str) -> tuple[int, int]:
    if len(shape) != 2 or int(shape[0]) < 1 or int(shape[1]) < 1:
        raise SpecinpaintError(f"{what} must be two positive sizes (F, T), got {tuple(shape)}")
    return int(shape[0]), int(shape[1])


def upsampling_factors(fine: tuple[int, int], coarse: tuple[int, int]) -> tuple[int, int]:
    """(rf, rt) such that fine = (rf·Fc, rt·Tc); a one-line error when they are not integers."""
    (ff, ft), (cf, ct) = _check_shape(fine, "fine map shape"), _check_shape(coarse, "coarse map shape")
    if ff % cf or ft % ct:
        raise SpecinpaintError(
            f"map {ff}×{ft} is not an integer upsampling of {cf}×{ct} (needs F and T to be multiples)"
        )
    return ff // cf, ft // ct


class Linearizer:
    """One level's sequence order. ``order[s]`` is the flat map index of sequence token ``s``;
    ``inverse[j]`` the sequence position of flat index ``j``; ``coords[s]`` its (f, t) cell;
    ``parent_index[s]`` (finer levels only) the parent's sequence position above token ``s``."""

    def __init__(
        self,
        shape: tuple[int, int],
        order: torch.Tensor,
        parent: Linearizer | None = None,
        factors: tuple[int, int] = (1, 1),
    ) -> None:
        self.shape = _check_shape(shape, "map shape")
        self.length = self.shape[0] * self.shape[1]
        order = order.to(torch.long).cpu()
        if order.shape != (self.length,) or not torch.equal(order.sort().values, torch.arange(self.length)):
            raise SpecinpaintError(f"order for a {self.shape} map is not a permutation of {self.length} cells")
        self.order = order
        self.inverse = torch.empty_like(order)
        self.inverse[order] = torch.arange(self.length)
        self.coords = torch.stack([order // self.shape[1], order % self.shape[1]], dim=1)
        self.parent = parent
        self.factors = factors
        self.parent_index: torch.Tensor | None = None
        if parent is not None:
            pf, pt = self.coords[:, 0] // factors[0], self.coords[:, 1] // factors[1]
            self.parent_index = parent.inverse[pf * parent.shape[1] + pt]

    # -- constructors -----------------------------------------------------------------------
    @classmethod
    def columns(cls, shape: tuple[int, int]) -> Linearizer:
        """Column by column, low to high frequency (the paper's top order)."""
        f, t = _check_shape(shape, "map shape")
        ff, tt = torch.meshgrid(torch.arange(f), torch.arange(t), indexing="ij")
        # sequence position s = t·F + f  →  iterate t outer, f inner
        order = (ff * t + tt).t().reshape(-1)
        return cls((f, t), order)

    @classmethod
    def patches(cls, shape: tuple[int, int], parent: Linearizer) -> Linearizer:
        """Patch-major under ``parent``: each parent token's rf × rt patch, frequency first."""
        f, t = _check_shape(shape, "map shape")
        rf, rt = upsampling_factors((f, t), parent.shape)
        pf, pt = parent.coords[:, 0], parent.coords[:, 1]  # [Np]
        dt, df = torch.meshgrid(torch.arange(rt), torch.arange(rf), indexing="ij")
        df, dt = df.reshape(-1), dt.reshape(-1)  # frequency fastest inside the patch
        rows = pf[:, None] * rf + df[None, :]
        cols = pt[:, None] * rt + dt[None, :]
        order = (rows * t + cols).reshape(-1)
        return cls((f, t), order, parent=parent, factors=(rf, rt))

    # -- conversions ------------------------------------------------------------------------
    def to_sequence(self, maps: torch.Tensor) -> torch.Tensor:
        """``[..., F, T]`` → ``[..., N]`` in this order."""
        if tuple(maps.shape[-2:]) != self.shape:
            raise SpecinpaintError(f"map shape {tuple(maps.shape[-2:])} does not match {self.shape}")
        flat = maps.reshape(*maps.shape[:-2], self.length)
        return flat[..., self.order.to(maps.device)]

    def to_map(self, seq: torch.Tensor) -> torch.Tensor:
        """``[..., N]`` → ``[..., F, T]``: the exact inverse of `to_sequence`."""
        if seq.shape[-1] != self.length:
            raise SpecinpaintError(f"sequence length {seq.shape[-1]} does not match {self.length} tokens")
        flat = seq[..., self.inverse.to(seq.device)]
        return flat.reshape(*seq.shape[:-1], *self.shape)

    def __repr__(self) -> str:
        kind = "columns" if self.parent is None else f"patches{self.factors} under {self.parent.shape}"
        return f"Linearizer({self.shape}, {kind})"


def linearizers(shapes: Mapping[str, tuple[int, int]]) -> dict[str, Linearizer]:
    """One `Linearizer` per level, coarsest first: the first level in column order, every next
    level patch-major under the previous one."""
    out: dict[str, Linearizer] = {}
    previous: Linearizer | None = None
    for level, shape in shapes.items():
        current = Linearizer.columns(shape) if previous is None else Linearizer.patches(shape, previous)
        out[level] = current
        previous = current
    if not out:
        raise SpecinpaintError("linearizers() needs at least one level")
    return out
