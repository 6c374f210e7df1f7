"""Atomic file and directory writes: a crash never leaves a half-written file under the final name."""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def set_default_mode(path: str | Path) -> None:
    """Give ``path`` the permissions of a new file under the umask (writers such as mkstemp and
    safetensors create 0600 files; every file of one output should have the same mode)."""
    os.chmod(path, 0o666 & ~_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the same directory; on success it is fsynced and renamed over
    ``path``; on error it is removed and ``path`` is left untouched. Missing parent directories
    are created; a ``path`` that is a directory is an `IsADirectoryError` naming ``path``."""
    final = Path(path)
    if final.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a file name", str(final))
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        set_default_mode(tmp)  # mkstemp creates 0600; give the usual permissions of a new file
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def remove_stale_temporaries(directory: str | Path, names: Iterable[str]) -> list[Path]:
    """Delete the temporary files that `atomic_path` leaves behind for ``names`` (``.NAME.*.tmp``)
    when a process is killed mid-write; returns what was removed. Call it only where no other
    process is writing those names (e.g. when a run starts or resumes)."""
    folder = Path(directory)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for name in names:
        for stale in folder.glob(f".{glob.escape(name)}.*.tmp"):
            if stale.is_file():
                stale.unlink(missing_ok=True)
                removed.append(stale)
    return removed


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Build a directory under a temporary name, then swap it in place of ``path``. An existing
    ``path`` is kept until the new one is complete (moved aside as ``.NAME.old-PID``, then deleted).
    POSIX has no atomic exchange of two directories, so a crash between the two renames leaves
    the previous version under the ``.old`` name; `Pipeline.load` points to it."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp creates 0700
        old = None
        if final.exists():
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
