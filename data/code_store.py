"""`CodeStore`: the codemaps and labels of one dataset split, readable without the audio.

Layout of a store directory (written atomically: built under a temporary name, then renamed)::

    index.json            format, split, levels, map shapes, num_codes, count, dtype, sha256 + size
                          of every file, free-form ``meta`` (bundle, dataset, ...)
    codes_<level>.npy     int16 (int32 when a codebook has > 32767 codes) [N, F, T], memory-mapped
    pitch.npy, family.npy int16 [N] (MIDI pitch; index into NSYNTH_FAMILIES; -1 = none)
    names.json            note names (optional)

Loading checks that every file is present with the recorded size and shape, and (``verify=True``)
its checksum and code range, raising a one-line `DataError` otherwise. `CodeStore.dataset()` is a
torch Dataset of ``({level: LongTensor [F, T]}, {"pitch": int, "family": int})`` items with a
batched ``__getitems__`` and `collate_codes` → ``(Codemaps, Conditioning)``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from specinpaint.core.atomic import atomic_directory, sha256_file
from specinpaint.core.codemaps import Codemaps
from specinpaint.core.conditioning import NULL_LABEL, PITCH_MAX, PITCH_MIN, Conditioning
from specinpaint.core.errors import DataError

FORMAT = 1
INDEX_FILE = "index.json"
NAMES_FILE = "names.json"
LABELS = ("pitch", "family")


def _code_file(level: str) -> str:
    return f"codes_{level}.npy"


def _dtype_for(num_codes: Mapping[str, int]) -> np.dtype:
    return np.dtype(np.int16) if max(num_codes.values()) <= np.iinfo(np.int16).max + 1 else np.dtype(np.int32)


class CodeStoreWriter:
    """Fill a store batch by batch, then `close()` it into place atomically::

        with CodeStoreWriter(out, shapes, num_codes, count, split="train") as writer:
            writer.append(codes, pitch, family, names)

    An exception inside the block leaves any existing store at ``root`` untouched."""

    def __init__(
        self,
        root: str | Path,
        shapes: Mapping[str, tuple[int, int]],
        num_codes: Mapping[str, int],
        count: int,
        *,
        split: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        if set(shapes) != set(num_codes):
            raise DataError(f"code store: shapes levels {list(shapes)} differ from num_codes levels {list(num_codes)}")
        if count < 1:
            raise DataError("code store: nothing to write (0 items)")
        self.root = Path(root)
        self.levels = list(shapes)
        self.shapes = {k: (int(v[0]), int(v[1])) for k, v in shapes.items()}
        self.num_codes = {k: int(v) for k, v in num_codes.items()}
        self.count = count
        self.split = split
        self.meta = dict(meta or {})
        self.dtype = _dtype_for(self.num_codes)
        self._position = 0
        self._names: list[str] = []
        self._context = atomic_directory(self.root)
        self._tmp = self._context.__enter__()
        self._codes = {
            level: np.lib.format.open_memmap(self._tmp / _code_file(level), mode="w+", dtype=self.dtype,
                                             shape=(count, *self.shapes[level]))
            for level in self.levels
        }
        self._labels = {
            name: np.lib.format.open_memmap(self._tmp / f"{name}.npy", mode="w+", dtype=np.int16, shape=(count,))
            for name in LABELS
        }

    def __enter__(self) -> CodeStoreWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort(exc_type, exc, tb)

    def append(
        self,
        codes: Codemaps | Mapping[str, torch.Tensor | np.ndarray],
        pitch: Sequence[int] | torch.Tensor | np.ndarray,
        family: Sequence[int] | torch.Tensor | np.ndarray,
        names: Sequence[str] | None = None,
    ) -> None:
        batch = None
        for level in self.levels:
            if level not in codes:
                raise DataError(f"code store: batch lacks level '{level}'")
            array = np.asarray(torch.as_tensor(codes[level]).cpu())
            if array.ndim != 3 or tuple(array.shape[1:]) != self.shapes[level]:
                raise DataError(f"code store: '{level}' batch has shape {array.shape}, expected [B, {self.shapes[level]}]")
            if array.size and (array.min() < 0 or array.max() >= self.num_codes[level]):
                raise DataError(f"code store: '{level}' codes outside [0, {self.num_codes[level]})")
            if batch is None:
                batch = array.shape[0]
            elif array.shape[0] != batch:
                raise DataError("code store: levels of one batch have different batch sizes")
            end = self._position + batch
            if end > self.count:
                raise DataError(f"code store: more than the announced {self.count} items")
            self._codes[level][self._position:end] = array
        assert batch is not None
        for name, values in (("pitch", pitch), ("family", family)):
            array = np.asarray(torch.as_tensor(values).cpu()).reshape(-1)
            if array.shape[0] != batch:
                raise DataError(f"code store: {name} has {array.shape[0]} labels for {batch} codemaps")
            self._labels[name][self._position:self._position + batch] = array
        if names is not None:
            self._names.extend(str(n) for n in names)
        self._position += batch

    def close(self) -> CodeStore:
        if self._position != self.count:
            self.abort(None, None, None)
            raise DataError(f"code store: {self._position} of the announced {self.count} items were written")
        for array in (*self._codes.values(), *self._labels.values()):
            array.flush()
        self._codes.clear()
        self._labels.clear()
        files = [_code_file(level) for level in self.levels] + [f"{name}.npy" for name in LABELS]
        if self._names:
            if len(self._names) != self.count:
                self.abort(None, None, None)
                raise DataError(f"code store: {len(self._names)} names for {self.count} items")
            (self._tmp / NAMES_FILE).write_text(json.dumps(self._names))
            files.append(NAMES_FILE)
        index = {
            "format": FORMAT,
            "split": self.split,
            "count": self.count,
            "levels": self.levels,
            "shapes": {k: list(v) for k, v in self.shapes.items()},
            "num_codes": self.num_codes,
            "dtype": self.dtype.name,
            "labels": list(LABELS),
            "files": {
                name: {"sha256": sha256_file(self._tmp / name), "bytes": (self._tmp / name).stat().st_size}
                for name in files
            },
            "meta": self.meta,
        }
        (self._tmp / INDEX_FILE).write_text(json.dumps(index, indent=1))
        self._context.__exit__(None, None, None)
        return CodeStore(self.root, verify=False)

    def abort(self, exc_type, exc, tb) -> None:
        self._codes.clear()
        self._labels.clear()
        try:
            self._context.__exit__(exc_type or DataError, exc or DataError("aborted"), tb)
        except BaseException:  # the context re-raises the error it was given; the caller raises its own
            pass


class CodeStore:
    """A validated, memory-mapped store (see the module docstring)."""

    def __init__(self, root: str | Path, *, verify: bool = True) -> None:
        self.root = Path(root)
        index_path = self.root / INDEX_FILE
        if not index_path.is_file():
            raise DataError(f"{self.root}: not a code store ({INDEX_FILE} is missing)")
        try:
            index = json.loads(index_path.read_text())
            self.levels: list[str] = list(index["levels"])
            self.shapes: dict[str, tuple[int, int]] = {k: tuple(v) for k, v in index["shapes"].items()}
            self.num_codes: dict[str, int] = {k: int(v) for k, v in index["num_codes"].items()}
            self.count = int(index["count"])
            files: dict[str, dict[str, Any]] = index["files"]
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{index_path}: unreadable code store index ({exc})") from exc
        if index.get("format") != FORMAT:
            raise DataError(f"{index_path}: code store format {index.get('format')} is not supported ({FORMAT})")
        self.split: str | None = index.get("split")
        self.meta: dict[str, Any] = index.get("meta", {})
        self.index = index
        for name, expected in files.items():
            path = self.root / name
            if not path.is_file():
                raise DataError(f"{self.root}: code store is incomplete, {name} is missing")
            size = path.stat().st_size
            if size != expected.get("bytes"):
                raise DataError(f"{path}: truncated or modified ({size} bytes, expected {expected.get('bytes')})")
            if verify and sha256_file(path) != expected.get("sha256"):
                raise DataError(f"{path}: checksum mismatch (file corrupted or edited)")
        self._codes = {level: self._open(_code_file(level), (self.count, *self.shapes[level])) for level in self.levels}
        self.pitch = self._open("pitch.npy", (self.count,))
        self.family = self._open("family.npy", (self.count,))
        self.names: list[str] | None = None
        if NAMES_FILE in files:
            self.names = json.loads((self.root / NAMES_FILE).read_text())
        if verify:
            for level, array in self._codes.items():
                if self.count and (int(array.min()) < 0 or int(array.max()) >= self.num_codes[level]):
                    raise DataError(f"{self.root}: '{level}' codes outside [0, {self.num_codes[level]})")

    def _open(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        try:
            array = np.load(self.root / name, mmap_mode="r")
        except (ValueError, OSError) as exc:
            raise DataError(f"{self.root / name}: unreadable array ({exc})") from exc
        if tuple(array.shape) != tuple(shape):
            raise DataError(f"{self.root / name}: shape {tuple(array.shape)}, index says {tuple(shape)}")
        return array

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={v}" for k, v in self.shapes.items())
        return f"CodeStore({self.root}, split={self.split}, count={self.count}, {shapes})"

    def codes(self, level: str) -> np.ndarray:
        """Memory-mapped [N, F, T] codes of one level (read-only)."""
        if level not in self._codes:
            raise DataError(f"{self.root}: no level '{level}' (levels: {', '.join(self.levels)})")
        return self._codes[level]

    def check_compatible(self, shapes: Mapping[str, tuple[int, int]], num_codes: Mapping[str, int]) -> None:
        """One-line DataError unless this store fits a quantizer with these shapes and sizes."""
        for level, shape in shapes.items():
            if level not in self.shapes:
                raise DataError(f"{self.root}: store has no level '{level}' (has {', '.join(self.levels)})")
            if tuple(self.shapes[level]) != tuple(shape):
                raise DataError(f"{self.root}: '{level}' maps are {self.shapes[level]}, the pipeline expects {tuple(shape)}")
            if self.num_codes[level] != num_codes[level]:
                raise DataError(
                    f"{self.root}: '{level}' has {self.num_codes[level]} codes, the pipeline's quantizer {num_codes[level]}"
                )

    def batch(self, indices: Sequence[int] | np.ndarray | torch.Tensor) -> tuple[Codemaps, Conditioning]:
        """Codemaps and labels of the given items (one fancy-indexing read per array)."""
        index = np.asarray(torch.as_tensor(indices).cpu(), dtype=np.int64)
        maps = {level: torch.from_numpy(np.asarray(self._codes[level][index], dtype=np.int64)) for level in self.levels}
        pitch = torch.from_numpy(np.asarray(self.pitch[index], dtype=np.int64))
        family = torch.from_numpy(np.asarray(self.family[index], dtype=np.int64))
        pitch[(pitch < PITCH_MIN) | (pitch > PITCH_MAX)] = NULL_LABEL
        return Codemaps(maps), Conditioning(pitch, family)

    def dataset(self) -> CodeDataset:
        return CodeDataset(self)


class CodeDataset(Dataset):
    """Torch view of a `CodeStore`: items ``({level: LongTensor [F, T]}, {"pitch", "family"})``;
    ``__getitems__`` reads a whole batch at once (DataLoader uses it) for `collate_codes`."""

    def __init__(self, store: CodeStore) -> None:
        self.store = store

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, index: int) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
        if not 0 <= index < len(self.store):
            raise IndexError(f"index {index} out of range for {len(self.store)} codemaps")
        maps, cond = self.store.batch([index])
        return {k: v[0] for k, v in maps.items()}, {"pitch": int(cond.pitch[0]), "family": int(cond.family[0])}

    def __getitems__(self, indices: Sequence[int]) -> tuple[Codemaps, Conditioning]:
        return self.store.batch(list(indices))


def collate_codes(items: Any) -> tuple[Codemaps, Conditioning]:
    """A list of `CodeDataset` items (or what ``__getitems__`` returned) → (Codemaps, Conditioning)."""
    if isinstance(items, tuple) and len(items) == 2 and isinstance(items[0], Codemaps):
        return items
    maps = {level: torch.stack([item[0][level] for item in items]) for level in items[0][0]}
    pitch = torch.tensor([item[1]["pitch"] for item in items], dtype=torch.long)
    family = torch.tensor([item[1]["family"] for item in items], dtype=torch.long)
    return Codemaps(maps), Conditioning(pitch, family)
