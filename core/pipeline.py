"""`Pipeline`: representation + normaliser + quantizer + priors composed from registry plugins,
and the audio ↔ spectrogram ↔ codes path through them.

Editing (regions, long notes, sampling plans, generate/inpaint/...) lives in `specinpaint.editing`
(`Editor(pipeline)`); bundle files in `core/bundle.py`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .codemaps import Codemaps
from .conditioning import Conditioning
from .config import PipelineConfig
from .errors import ConfigError
from .model_size import build_checked
from .normalizer import Normalizer
from .prior import Prior
from .quantizer import Quantizer
from .registry import normalizers, priors, quantizers, representations
from .representation import Representation
from .yaml_config import load_config


class Pipeline(nn.Module):
    """Everything needed to go audio → codes → audio, plus the priors that edit codes
    (``Editor(pipeline)`` uses them).

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
        self.quantizer.bind_representation(self.representation)
        self.priors = nn.ModuleDict({
            level: build_checked(lambda spec=spec: priors.build(spec.name, spec.params), where(f"priors.{level}.params"))
            for level, spec in config.priors.items()
        })
        self.extras: dict[str, Any] = dict(extras or {})
        self._check_compatible()

    # -- construction ------------------------------------------------------------------------
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

    def audio_from_spectrogram(self, spec: torch.Tensor, length: int | None = None,
                               pitch: torch.Tensor | None = None) -> torch.Tensor:
        """Normalised spectrogram → audio [B, length] (denormalise, re-apply invariants, invert);
        ``pitch`` (MIDI [B], ``NULL_LABEL`` where unknown) reaches a representation whose inversion
        uses it (``Representation.decodes_with_pitch``)."""
        raw = self.representation.clean(self.normalizer.denormalize(spec))
        length = length or self.config.num_samples
        if pitch is not None and self.representation.decodes_with_pitch:
            return self.representation.decode(raw, length, pitch=pitch.to(raw.device))
        return self.representation.decode(raw, length)

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

    def decode_codes(self, codes: Codemaps, conditioning: Conditioning | None = None) -> torch.Tensor:
        """Codemaps → normalised spectrogram [B, C, F, T]; the notes' labels reach the quantizer
        when its decoder takes them (``Quantizer.label_conditioned``), and are ignored otherwise."""
        codes = codes.to(self.device)
        if conditioning is not None and self.quantizer.label_conditioned:
            return self.quantizer.decode(codes, conditioning.to(self.device))
        return self.quantizer.decode(codes)

    @torch.no_grad()
    def decode(self, codes: Codemaps, length: int | None = None,
               conditioning: Conditioning | None = None) -> torch.Tensor:
        """Codemaps → audio [B, length] (``conditioning``: see `decode_codes`; its pitches also reach
        the inversion, see `audio_from_spectrogram`)."""
        pitch = conditioning.pitch if conditioning is not None else None
        return self.audio_from_spectrogram(self.decode_codes(codes, conditioning), length, pitch)

    # -- bundle (core/bundle.py) --------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the bundle atomically (`core.bundle.save_bundle`)."""
        from .bundle import save_bundle

        return save_bundle(self, path)

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> Pipeline:
        """Load a bundle, refusing missing, truncated, corrupted or mismatched files
        (`core.bundle.load_bundle`)."""
        from .bundle import load_bundle

        return load_bundle(path, map_location)


def build_pipeline(
    source: str | Path | Mapping[str, Any] | PipelineConfig, overrides: Iterable[str] = ()
) -> Pipeline:
    """Validate a pipeline YAML (path, built-in name or dict) and compose it from registry plugins
    (the one way from a config to a pipeline; ``Pipeline(config)`` for a validated config)."""
    config = source if isinstance(source, PipelineConfig) else load_config(source, overrides)
    return Pipeline(config)
