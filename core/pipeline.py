"""`Pipeline`: representation + normaliser + quantizer + priors composed from registry plugins,
saved to and loaded from a directory bundle (resolved YAML + safetensors weights + metadata)."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .atomic import atomic_directory, set_default_mode, sha256_file
from .codemaps import Codemaps
from .config import PipelineConfig
from .editing import EditingMixin
from .errors import BundleError, ConfigError, SpecinpaintError
from .finite import nonfinite_tensors
from .model_size import build_checked
from .normalizer import Normalizer
from .prior import Prior
from .quantizer import Quantizer
from .registry import normalizers, priors, quantizers, representations
from .representation import Representation
from .yaml_config import dump_config, load_config, read_yaml, validate_config

BUNDLE_FORMAT = 1
CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE, EXTRAS_FILE = (
    "pipeline.yaml", "weights.safetensors", "metadata.json", "extras.json",
)
CHECKED_FILES = (CONFIG_FILE, WEIGHTS_FILE, EXTRAS_FILE)  # listed with size and SHA-256 in metadata.json


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("specinpaint", "torch", "numpy", "librosa", "pydantic"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


class Pipeline(EditingMixin, nn.Module):
    """Everything needed to go audio → codes → audio, plus the priors that edit codes.

    ``extras`` holds JSON-serialisable state saved with the bundle (label encoders, the data
    split, which parts are trained, ...)."""

    def __init__(self, config: PipelineConfig, extras: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.config = config
        self.representation: Representation = representations.build(
            config.representation.name, config.representation.params
        )
        self.normalizer: Normalizer = normalizers.build(config.normalizer.name, config.normalizer.params)
        where = self._where
        self.quantizer: Quantizer = build_checked(
            lambda: quantizers.build(config.quantizer.name, config.quantizer.params), where("quantizer.params")
        )
        self.priors = nn.ModuleDict({
            level: build_checked(lambda spec=spec: priors.build(spec.name, spec.params), where(f"priors.{level}.params"))
            for level, spec in config.priors.items()
        })
        self.extras: dict[str, Any] = dict(extras or {})
        self._check_compatible()

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_config(cls, source: str | Path | Mapping[str, Any] | PipelineConfig, overrides: Iterable[str] = ()) -> Pipeline:
        config = source if isinstance(source, PipelineConfig) else load_config(source, overrides)
        return cls(config)

    def _where(self, key: str) -> str:
        """``file: dotted.key`` for errors found after validation (the file the config came from)."""
        return f"{self.config.source}: {key}" if self.config.source else key

    def _check_compatible(self) -> None:
        levels = set(self.quantizer.levels)
        shapes = self.codemap_shapes
        for level, prior in self.priors.items():
            assert isinstance(prior, Prior)
            if level not in levels or prior.level != level:
                raise ConfigError(
                    f"{self._where(f'priors.{level}')}: prior models level '{prior.level}' but the quantizer has levels "
                    f"{sorted(levels)}"
                )
            if tuple(prior.codemap_shape) != tuple(shapes[level]):
                raise ConfigError(
                    f"{self._where(f'priors.{level}.params')}: codemap shape {tuple(prior.codemap_shape)} does not match the "
                    f"quantizer's {tuple(shapes[level])} for {self.config.num_samples} samples"
                )

    # -- shapes ------------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self.representation.sample_rate

    @property
    def spectrogram_shape(self) -> tuple[int, int, int]:
        return self.representation.output_shape(self.config.num_samples)

    @property
    def codemap_shapes(self) -> dict[str, tuple[int, int]]:
        return self.quantizer.codemap_shapes(self.spectrogram_shape)

    @property
    def device(self) -> torch.device:
        for tensor in (*self.parameters(), *self.buffers()):
            return tensor.device
        return torch.device("cpu")

    # -- audio <-> spectrogram <-> codes -------------------------------------------------------
    def spectrogram(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio [B, N] → normalised spectrogram [B, C, F, T] (the quantizer's input)."""
        spec = self.representation.clean(self.representation.encode(audio))
        return self.normalizer.normalize(spec)

    def audio_from_spectrogram(self, spec: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """Normalised spectrogram → audio [B, length] (denormalise, re-apply invariants, invert)."""
        raw = self.representation.clean(self.normalizer.denormalize(spec))
        return self.representation.decode(raw, length or self.config.num_samples)

    @torch.no_grad()
    def fit_normalizer(self, audio_batches: Iterable[torch.Tensor]) -> None:
        """Fit the normaliser on the cleaned spectrograms of audio batches [B, N], in one pass.
        Training fits it on the training split; this is for pipelines used untrained (latency
        measurements, shape checks) whose normaliser needs statistics (``mode: fitted``)."""
        rep = self.representation
        self.normalizer.fit(rep.clean(rep.encode(audio.to(self.device))) for audio in audio_batches)

    @torch.no_grad()
    def encode(self, audio: torch.Tensor) -> Codemaps:
        """Audio [B, num_samples] → codemaps (e.g. top [B, 32, 4], bottom [B, 64, 8])."""
        return self.quantizer.encode(self.spectrogram(audio.to(self.device)))

    @torch.no_grad()
    def decode(self, codes: Codemaps, length: int | None = None) -> torch.Tensor:
        """Codemaps → audio [B, length]."""
        return self.audio_from_spectrogram(self.quantizer.decode(codes.to(self.device)), length)

    # -- bundle ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the bundle atomically: an existing bundle at ``path`` is replaced only once the
        new one is complete."""
        from safetensors.torch import save_file

        target = Path(path)
        state = {k: v.detach().cpu().contiguous().clone() for k, v in self.state_dict().items()}
        with atomic_directory(target) as tmp:
            (tmp / CONFIG_FILE).write_text(dump_config(self.config))
            save_file(state, str(tmp / WEIGHTS_FILE))
            (tmp / EXTRAS_FILE).write_text(json.dumps(self.extras, indent=1, sort_keys=True))
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

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> Pipeline:
        """Load a bundle, refusing missing, truncated, corrupted or mismatched files."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        root = Path(path)
        if not root.is_dir():
            leftovers = sorted(root.parent.glob(f".{root.name}.old-*")) if root.parent.is_dir() else []
            if leftovers:  # a save was interrupted between moving the old bundle aside and the swap
                raise BundleError(
                    f"{root}: missing, but an interrupted save left the previous bundle at {leftovers[-1]}; "
                    f"rename it back to {root.name}"
                )
            raise BundleError(f"{root}: not a pipeline bundle directory")
        for name in (CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE, EXTRAS_FILE):
            if not (root / name).is_file():
                raise BundleError(f"{root}: bundle is incomplete, {name} is missing")
        _verify_files(root)
        try:
            config = validate_config(read_yaml(root / CONFIG_FILE), str(root / CONFIG_FILE))
            extras = json.loads((root / EXTRAS_FILE).read_text())
        except SpecinpaintError:
            raise
        except Exception as exc:
            raise BundleError(f"{root}: cannot read bundle config or extras ({type(exc).__name__})") from exc
        pipeline = cls(config, extras)
        try:
            state = load_file(str(root / WEIGHTS_FILE), device=str(map_location))
        except (SafetensorError, OSError) as exc:
            raise BundleError(f"{root / WEIGHTS_FILE}: unreadable weights ({exc})") from exc
        pipeline.load_weights(state, str(root / WEIGHTS_FILE))
        return pipeline.to(map_location)

    def load_weights(self, state: Mapping[str, torch.Tensor], source: str) -> None:
        """Strict load: any missing, unexpected or mis-shaped tensor, or NaN/inf where the freshly
        built model is finite, is a one-line BundleError."""
        own = self.state_dict()
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
        self.load_state_dict(state, strict=True)


def _verify_files(root: Path) -> None:
    """metadata.json must list every checked bundle file; each must match its size and SHA-256."""
    where = root / METADATA_FILE
    try:
        metadata = json.loads(where.read_text())
    except (ValueError, OSError) as exc:
        raise BundleError(f"{where}: unreadable bundle metadata ({type(exc).__name__})") from exc
    if not isinstance(metadata, dict):
        raise BundleError(f"{where}: bundle metadata must be a JSON object")
    if metadata.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{root}: bundle format {metadata.get('format')} is not supported ({BUNDLE_FORMAT})")
    files = metadata.get("files")
    if not isinstance(files, dict):
        raise BundleError(f"{where}: 'files' must map each bundle file to its size and sha256")
    for name in CHECKED_FILES:
        expected = files.get(name)
        if not isinstance(expected, dict):
            raise BundleError(f"{where}: {name} is not listed with its size and sha256 (metadata edited?)")
        size = (root / name).stat().st_size
        if size != expected.get("bytes"):
            raise BundleError(f"{root / name}: truncated or modified ({size} bytes, expected {expected.get('bytes')})")
        if sha256_file(root / name) != expected.get("sha256"):
            raise BundleError(f"{root / name}: checksum mismatch (file corrupted or edited)")


def build_pipeline(
    source: str | Path | Mapping[str, Any] | PipelineConfig, overrides: Iterable[str] = ()
) -> Pipeline:
    """Validate a pipeline YAML (path, built-in name or dict) and compose it from registry plugins."""
    return Pipeline.from_config(source, overrides)
