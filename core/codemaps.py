"""`Codemaps`: named integer code maps, e.g. top [B, 32, 4] and bottom [B, 64, 8]."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import torch

from .errors import SpecinpaintError


class Codemaps(Mapping[str, torch.Tensor]):
    """An immutable mapping level name → LongTensor [B, F, T] (frequency rows low→high, time
    columns), ordered coarsest level first (e.g. ``top`` then ``bottom``). All levels share the
    batch size. Values are code indices in [0, num_codes)."""

    def __init__(self, maps: Mapping[str, torch.Tensor]) -> None:
        if not maps:
            raise SpecinpaintError("Codemaps needs at least one level")
        batch = None
        checked: dict[str, torch.Tensor] = {}
        for name, value in maps.items():
            if not isinstance(value, torch.Tensor) or value.dim() != 3:
                shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise SpecinpaintError(f"codemap '{name}' must be a [B, F, T] tensor, got {shape}")
            if value.dtype.is_floating_point or value.dtype == torch.bool:
                raise SpecinpaintError(f"codemap '{name}' must hold integers, got {value.dtype}")
            if batch is None:
                batch = value.shape[0]
            elif value.shape[0] != batch:
                raise SpecinpaintError(f"codemap '{name}' has batch {value.shape[0]}, expected {batch}")
            checked[name] = value.long()
        self._maps = checked

    def __getitem__(self, name: str) -> torch.Tensor:
        try:
            return self._maps[name]
        except KeyError:
            raise KeyError(f"no codemap level '{name}' (levels: {', '.join(self._maps)})") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._maps)

    def __len__(self) -> int:
        return len(self._maps)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={tuple(v.shape)}" for k, v in self._maps.items())
        return f"Codemaps({inner})"

    @property
    def levels(self) -> list[str]:
        return list(self._maps)

    @property
    def batch_size(self) -> int:
        return next(iter(self._maps.values())).shape[0]

    @property
    def shapes(self) -> dict[str, tuple[int, int]]:
        return {k: (v.shape[1], v.shape[2]) for k, v in self._maps.items()}

    def replace(self, **maps: torch.Tensor) -> Codemaps:
        """A copy with some levels replaced."""
        return Codemaps({**self._maps, **maps})

    def to(self, device: torch.device | str) -> Codemaps:
        return Codemaps({k: v.to(device) for k, v in self._maps.items()})

    def clone(self) -> Codemaps:
        return Codemaps({k: v.clone() for k, v in self._maps.items()})

    def select(self, index: int | slice | torch.Tensor) -> Codemaps:
        """Batch selection (keeps the batch dimension for an int)."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        return Codemaps({k: v[index] for k, v in self._maps.items()})

    @staticmethod
    def cat(items: list[Codemaps]) -> Codemaps:
        levels = items[0].levels
        return Codemaps({k: torch.cat([c[k] for c in items]) for k in levels})

    def equal(self, other: Codemaps) -> bool:
        return self.levels == other.levels and all(torch.equal(self[k], other[k]) for k in self.levels)

    def check(self, shapes: Mapping[str, tuple[int, int]], num_codes: Mapping[str, int] | None = None) -> None:
        """Raise a one-line error unless levels, map sizes and code ranges match."""
        if set(shapes) != set(self._maps):
            raise SpecinpaintError(f"codemap levels {self.levels} do not match expected {list(shapes)}")
        for name, (f, t) in shapes.items():
            got = self.shapes[name]
            if got[0] != f or (t is not None and got[1] != t):
                raise SpecinpaintError(f"codemap '{name}' has shape {got}, expected ({f}, {t})")
            if num_codes is not None:
                value = self._maps[name]
                if value.numel() and (int(value.min()) < 0 or int(value.max()) >= num_codes[name]):
                    raise SpecinpaintError(
                        f"codemap '{name}' holds codes outside [0, {num_codes[name]})"
                    )

    @staticmethod
    def from_lists(data: Mapping[str, list]) -> Codemaps:
        """From nested lists (codes files, JSON); non-integer values are refused, never truncated."""
        maps = {}
        for name, value in data.items():
            tensor = torch.as_tensor(value)
            if tensor.numel() == 0:
                tensor = tensor.long()
            elif tensor.dtype.is_floating_point:
                odd = tensor[tensor != tensor.round()]
                example = f" (e.g. {float(odd[0]):g})" if odd.numel() else ""
                raise SpecinpaintError(f"codemap '{name}' must hold integers, got {tensor.dtype}{example}")
            maps[name] = tensor
        return Codemaps(maps)
