"""The contracts, value types, registries, config loading and `Pipeline` of specinpaint.

Imports only torch, pydantic, yaml (and numpy/soundfile/librosa lazily for audio I/O); never
another room of the project.
"""

from .codemaps import Codemaps
from .conditioning import NSYNTH_FAMILIES, NSYNTH_SOURCES, NULL_LABEL, PITCH_MAX, PITCH_MIN, Conditioning
from .config import DataConfig, PipelineConfig, PluginSpec, TrainingConfig
from .errors import (
    AudioInputError,
    BundleError,
    ConfigError,
    DataError,
    PluginError,
    SpecinpaintError,
)
from .linearize import Linearizer, linearizers
from .normalizer import Normalizer
from .pipeline import Pipeline, build_pipeline
from .prior import Prior, PriorLoss, SamplingOptions
from .quantizer import Quantizer, QuantizerOutput
from .region import Region, aligned_masks, mask_to_region, region_to_masks
from .registry import Registry, registry
from .representation import Representation
from .yaml_config import load_config

__all__ = [
    "AudioInputError", "BundleError", "Codemaps", "ConfigError", "Conditioning", "DataConfig", "DataError",
    "NSYNTH_FAMILIES", "NSYNTH_SOURCES", "NULL_LABEL", "Normalizer", "PITCH_MAX", "PITCH_MIN", "Pipeline",
    "PipelineConfig", "PluginError", "PluginSpec", "Prior", "PriorLoss", "Quantizer", "QuantizerOutput",
    "Registry", "Representation", "build_pipeline", "SamplingOptions", "SpecinpaintError", "TrainingConfig", "load_config",
    "registry", "Region", "region_to_masks", "mask_to_region", "aligned_masks", "Linearizer", "linearizers",
]
