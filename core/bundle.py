"""Pipeline bundles: a directory holding the resolved YAML, safetensors weights, JSON extras and
metadata (versions, sizes and SHA-256 of every file).

Kept apart from `Pipeline` so composing plugins and reading/writing files are separate concerns:
a bundle is written atomically (an existing one is replaced only once the new one is complete)
and loaded only when every file is present, intact and matches the config.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .atomic import atomic_directory, set_default_mode, sha256_file
from .errors import BundleError, SpecinpaintError
from .finite import nonfinite_tensors
from .yaml_config import dump_config, read_yaml, validate_config

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .pipeline import Pipeline

BUNDLE_FORMAT = 1
CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE, EXTRAS_FILE = (
    "pipeline.yaml", "weights.safetensors", "metadata.json", "extras.json",
)
CHECKED_FILES = (CONFIG_FILE, WEIGHTS_FILE, EXTRAS_FILE)  # listed with size and SHA-256 in metadata.json
BUNDLE_DIR = "bundle"  # the bundle's folder inside a run directory (training, the default job, studies)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("specinpaint", "torch", "numpy", "librosa", "pydantic"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def save_bundle(pipeline: Pipeline, path: str | Path) -> Path:
    """Write ``pipeline`` as a bundle at ``path``, atomically."""
    from safetensors.torch import save_file

    target = Path(path)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in pipeline.state_dict().items()}
    with atomic_directory(target) as tmp:
        (tmp / CONFIG_FILE).write_text(dump_config(pipeline.config))
        save_file(state, str(tmp / WEIGHTS_FILE))
        (tmp / EXTRAS_FILE).write_text(json.dumps(pipeline.extras, indent=1, sort_keys=True))
        metadata = {
            "format": BUNDLE_FORMAT,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": _versions(),
            "files": {
                name: {"sha256": sha256_file(tmp / name), "bytes": (tmp / name).stat().st_size}
                for name in CHECKED_FILES
            },
        }
        (tmp / METADATA_FILE).write_text(json.dumps(metadata, indent=1))
        for name in (*CHECKED_FILES, METADATA_FILE):
            set_default_mode(tmp / name)  # safetensors writes 0600: all bundle files alike
    return target


def load_bundle(path: str | Path, map_location: str | torch.device = "cpu") -> Pipeline:
    """Load a bundle, refusing missing, truncated, corrupted or mismatched files."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .pipeline import Pipeline

    root = _bundle_root(path)
    for name in (CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE, EXTRAS_FILE):
        if not (root / name).is_file():
            raise BundleError(f"{root}: bundle is incomplete, {name} is missing")
    metadata = _metadata(root)
    for name in CHECKED_FILES:
        _verify_file(root, metadata, name)
    try:
        config = validate_config(read_yaml(root / CONFIG_FILE), str(root / CONFIG_FILE))
        extras = json.loads((root / EXTRAS_FILE).read_text())
    except SpecinpaintError:
        raise
    except Exception as exc:
        raise BundleError(f"{root}: cannot read bundle config or extras ({type(exc).__name__})") from exc
    pipeline = Pipeline(config, extras)
    try:
        state = load_file(str(root / WEIGHTS_FILE), device=str(map_location))
    except (SafetensorError, OSError) as exc:
        raise BundleError(f"{root / WEIGHTS_FILE}: unreadable weights ({exc})") from exc
    load_weights(pipeline, state, str(root / WEIGHTS_FILE))
    return pipeline.to(map_location)


def read_extras(path: str | Path) -> dict[str, Any]:
    """Only the bundle's extras (labels, data split, ...), checked against its metadata, without
    building the models or reading the weights: cheap enough for ``--help`` texts."""
    root = _bundle_root(path)
    for name in (METADATA_FILE, EXTRAS_FILE):
        if not (root / name).is_file():
            raise BundleError(f"{root}: bundle is incomplete, {name} is missing")
    _verify_file(root, _metadata(root), EXTRAS_FILE)
    try:
        extras = json.loads((root / EXTRAS_FILE).read_text())
    except ValueError as exc:
        raise BundleError(f"{root / EXTRAS_FILE}: unreadable extras ({type(exc).__name__})") from exc
    if not isinstance(extras, dict):
        raise BundleError(f"{root / EXTRAS_FILE}: extras must be a JSON object")
    return extras


def load_weights(pipeline: torch.nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Strict load: any missing, unexpected or mis-shaped tensor, or NaN/inf where the freshly
    built model is finite, is a one-line BundleError."""
    own = pipeline.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensors (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} tensors (e.g. {unexpected[0]})")
        raise BundleError(f"{source}: weights do not match the config: {'; '.join(parts)}")
    for key, value in state.items():
        if tuple(own[key].shape) != tuple(value.shape):
            raise BundleError(
                f"{source}: weights do not match the config: {key} has shape {tuple(value.shape)}, "
                f"the model expects {tuple(own[key].shape)}"
            )
    bad = nonfinite_tensors(state, reference=own)
    if bad:
        raise BundleError(
            f"{source}: {len(bad)} tensor(s) hold NaN or infinite values (e.g. {bad[0]}); "
            "the weights come from a diverged or damaged run"
        )
    pipeline.load_state_dict(state, strict=True)


def _bundle_root(path: str | Path) -> Path:
    root = Path(path)
    if not root.is_dir():
        leftovers = sorted(root.parent.glob(f".{root.name}.old-*")) if root.parent.is_dir() else []
        if leftovers:  # a save was interrupted between moving the old bundle aside and the swap
            raise BundleError(
                f"{root}: missing, but an interrupted save left the previous bundle at {leftovers[-1]}; "
                f"rename it back to {root.name}"
            )
        raise BundleError(f"{root}: not a pipeline bundle directory")
    return root


def _metadata(root: Path) -> dict[str, Any]:
    """metadata.json, checked to be a supported format listing every checked file."""
    where = root / METADATA_FILE
    try:
        metadata = json.loads(where.read_text())
    except (ValueError, OSError) as exc:
        raise BundleError(f"{where}: unreadable bundle metadata ({type(exc).__name__})") from exc
    if not isinstance(metadata, dict):
        raise BundleError(f"{where}: bundle metadata must be a JSON object")
    if metadata.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{root}: bundle format {metadata.get('format')} is not supported ({BUNDLE_FORMAT})")
    if not isinstance(metadata.get("files"), dict):
        raise BundleError(f"{where}: 'files' must map each bundle file to its size and sha256")
    return metadata


def _verify_file(root: Path, metadata: Mapping[str, Any], name: str) -> None:
    """The file must be listed in the metadata and match its size and SHA-256."""
    expected = metadata["files"].get(name)
    if not isinstance(expected, dict):
        raise BundleError(f"{root / METADATA_FILE}: {name} is not listed with its size and sha256 (metadata edited?)")
    size = (root / name).stat().st_size
    if size != expected.get("bytes"):
        raise BundleError(f"{root / name}: truncated or modified ({size} bytes, expected {expected.get('bytes')})")
    if sha256_file(root / name) != expected.get("sha256"):
        raise BundleError(f"{root / name}: checksum mismatch (file corrupted or edited)")
