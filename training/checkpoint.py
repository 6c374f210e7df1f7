"""Training checkpoints: one self-checking file, written atomically, refused when damaged or when it
belongs to a different model.

Layout: ``MAGIC`` (8 bytes) | header length (8 bytes, little endian) | JSON header | payload. The
header holds the payload's size and SHA-256, the global step, the task name and the model
*signature* (the config that defines the weights), so a mismatch is reported without unpickling
anything. The payload is ``torch.save`` of tensors, numbers and strings only and is loaded with
``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from specinpaint.core.atomic import atomic_write_bytes
from specinpaint.core.errors import BundleError

MAGIC = b"SPICKPT1"
FORMAT = 1
LAST, BEST = "last.pt", "best.pt"


def save_checkpoint(path: str | Path, header: Mapping[str, Any], payload: Mapping[str, Any]) -> Path:
    """Serialise ``payload`` and write header + payload atomically (temporary file + rename)."""
    buffer = io.BytesIO()
    torch.save(dict(payload), buffer)
    body = buffer.getvalue()
    meta = {**header, "format": FORMAT, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    head = json.dumps(meta, sort_keys=True).encode()
    atomic_write_bytes(path, MAGIC + struct.pack("<Q", len(head)) + head + body)
    return Path(path)


def read_header(path: str | Path) -> dict[str, Any]:
    """The JSON header only (cheap): raises BundleError on anything that is not a checkpoint."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            magic = handle.read(len(MAGIC))
            raw_len = handle.read(8)
            if magic != MAGIC or len(raw_len) != 8:
                raise BundleError(f"{path}: not a specinpaint training checkpoint (or truncated header)")
            (length,) = struct.unpack("<Q", raw_len)
            head = handle.read(length)
    except OSError as exc:
        raise BundleError(f"{path}: cannot read checkpoint ({exc.strerror or exc})") from exc
    if len(head) != length:
        raise BundleError(f"{path}: truncated checkpoint header")
    try:
        header = json.loads(head)
    except ValueError as exc:
        raise BundleError(f"{path}: corrupted checkpoint header") from exc
    if header.get("format") != FORMAT:
        raise BundleError(f"{path}: checkpoint format {header.get('format')} is not supported ({FORMAT})")
    header["_offset"] = len(MAGIC) + 8 + length
    return header


def first_difference(expected: Any, found: Any, prefix: str = "", defaults: Any = None) -> str | None:
    """Dotted path and values of the first difference between two JSON-like values. ``defaults``
    (the same layout, partial): a key missing from ``found`` whose expected value is its default
    there is no difference (a parameter added to the code after ``found`` was written)."""
    if isinstance(expected, Mapping) and isinstance(found, Mapping):
        defaults = defaults if isinstance(defaults, Mapping) else {}
        for key in sorted(set(expected) | set(found), key=str):
            where = f"{prefix}.{key}" if prefix else str(key)
            if key not in found:
                if key in defaults and defaults[key] == expected[key]:
                    continue
                return f"{where} is missing in the checkpoint"
            if key not in expected:
                return f"{where}={json.dumps(found[key])} in the checkpoint is not in the config"
            diff = first_difference(expected[key], found[key], where, defaults.get(key))
            if diff:
                return diff
        return None
    if isinstance(expected, (list, tuple)) and isinstance(found, (list, tuple)) and len(expected) == len(found):
        for i, (a, b) in enumerate(zip(expected, found, strict=True)):
            diff = first_difference(a, b, f"{prefix}[{i}]")
            if diff:
                return diff
        return None
    if expected != found:
        return f"{prefix or 'value'}: checkpoint has {json.dumps(found)}, config has {json.dumps(expected)}"
    return None


def load_checkpoint(
    path: str | Path, *, task: str | None = None, signature: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, payload). Refuses (one-line BundleError) truncated or modified files, another
    task's checkpoint, and a checkpoint whose model signature differs from ``signature`` (keys
    missing from the checkpoint at their ``defaults`` value excepted: see `first_difference`)."""
    path = Path(path)
    header = read_header(path)
    if task is not None and header.get("task") != task:
        raise BundleError(f"{path}: checkpoint is for '{header.get('task')}', not '{task}'")
    if signature is not None:
        plain = json.loads(json.dumps(defaults)) if defaults is not None else None  # the header's JSON form
        diff = first_difference(json.loads(json.dumps(signature)), header.get("signature"), defaults=plain)
        if diff:
            raise BundleError(f"{path}: checkpoint does not match the config: {diff}")
    with open(path, "rb") as handle:
        handle.seek(header["_offset"])
        body = handle.read()
    if len(body) != header["bytes"]:
        raise BundleError(f"{path}: truncated checkpoint ({len(body)} of {header['bytes']} payload bytes)")
    if hashlib.sha256(body).hexdigest() != header["sha256"]:
        raise BundleError(f"{path}: checkpoint checksum mismatch (file corrupted or edited)")
    try:
        payload = torch.load(io.BytesIO(body), map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors of a file that passed the checksum: a bug, say so
        raise BundleError(f"{path}: unreadable checkpoint payload ({type(exc).__name__}: {exc})") from exc
    return header, payload
