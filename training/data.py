"""Turning dataset items into batches, and building the configured dataset through the registry.

Items are what the ``datasets`` plugins return: a mapping with ``audio`` (float [N]) and the labels
``pitch`` (MIDI) and ``family`` (index into NSYNTH_FAMILIES), optionally ``note_str``. Collation
stacks raw audio (and the spectrograms of a quantizer's cached training set); spectrograms are
otherwise computed later, on the training device, in batches.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from specinpaint.core.audio import fit_length
from specinpaint.core.conditioning import NULL_LABEL, PITCH_MAX, PITCH_MIN, Conditioning
from specinpaint.core.config import PipelineConfig
from specinpaint.core.errors import ConfigError, DataError
from specinpaint.core.registry import registry

log = logging.getLogger(__name__)


@dataclass
class AudioBatch:
    """``audio`` [B, N] float32, ``pitch``/``family`` LongTensors [B], optional note names, and the
    notes' spectrograms [B, C, F, T] when the items carry them (a `CachedSpectrograms` set)."""

    audio: torch.Tensor
    pitch: torch.Tensor
    family: torch.Tensor
    names: list[str] | None = None
    spectrogram: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.audio.shape[0]

    def conditioning(self) -> Conditioning:
        """Labels as `Conditioning`; pitches outside MIDI 24..84 become the null label."""
        pitch = self.pitch.clone()
        pitch[(pitch < PITCH_MIN) | (pitch > PITCH_MAX)] = NULL_LABEL
        return Conditioning(pitch, self.family.clone())


def _label(item: Mapping[str, Any], key: str) -> int:
    value = item.get(key, NULL_LABEL)
    return int(value) if value is not None else NULL_LABEL


class AudioCollate:
    """Items → `AudioBatch`, every note padded/cropped to ``num_samples`` (picklable for workers)."""

    def __init__(self, num_samples: int) -> None:
        self.num_samples = num_samples

    def __call__(self, items: Sequence[Mapping[str, Any]]) -> AudioBatch:
        if not items:
            raise DataError("empty batch")
        try:
            audio = torch.stack(
                [fit_length(torch.as_tensor(item["audio"], dtype=torch.float32).reshape(-1), self.num_samples)
                 for item in items]
            )
        except (KeyError, TypeError) as exc:
            raise DataError(f"dataset items must be mappings with an 'audio' array ({exc})") from exc
        pitch = torch.tensor([_label(item, "pitch") for item in items], dtype=torch.long)
        family = torch.tensor([_label(item, "family") for item in items], dtype=torch.long)
        names = [str(item["note_str"]) for item in items] if all("note_str" in item for item in items) else None
        cached = all("spectrogram" in item for item in items)
        spectrogram = torch.stack([torch.as_tensor(item["spectrogram"]) for item in items]) if cached else None
        return AudioBatch(audio, pitch, family, names, spectrogram)


def dataset_params(config: PipelineConfig, split: str, root: str | None = None) -> dict[str, Any]:
    """The dataset plugin's params for ``split``: ``root`` overrides the config's; a null root with
    a ``data.render`` spec renders (or reuses) that SoundFont render; ``num_samples`` follows the
    pipeline when the plugin has such a field and the config does not set it."""
    fields = getattr(registry("datasets").params_model(config.data.dataset.name), "model_fields", {})
    params = dict(config.data.dataset.params)
    params["split"] = split
    if root is not None:
        params["root"] = str(root)
    if "root" in fields and params.get("root") is None and config.data.render:
        params["root"] = str(rendered_root(config.data.render))
    if "num_samples" in fields and "num_samples" not in config.data.dataset.params:
        params["num_samples"] = config.num_samples
    return params


def rendered_root(render: Mapping[str, Any]):
    """``specinpaint.data.render_cache.ensure_rendered`` for a ``data.render`` mapping: RenderSpec
    fields plus optional ``soundfont``, ``cache_dir`` and ``workers``."""
    from pydantic import ValidationError

    from specinpaint.data.render_cache import ensure_rendered

    spec = dict(render)
    kwargs = {key: spec.pop(key) for key in ("soundfont", "cache_dir", "workers") if key in spec}
    try:
        return ensure_rendered(spec, **kwargs)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"data.render.{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None


def build_dataset(config: PipelineConfig, split: str, root: str | None = None):
    """The configured dataset plugin for one split, built through the ``datasets`` registry."""
    return registry("datasets").build(config.data.dataset.name, dataset_params(config, split, root))
