"""The model signature of a training checkpoint: the config sections that define the weights.

A checkpoint stores its signature, and resuming refuses one that differs from the config. The
config keeps every plugin parameter, defaults included, so a parameter added to a plugin later
(with a default that keeps the old behaviour) is missing from the checkpoints written before it;
`signature_defaults` gives those defaults, and a missing key whose configured value is its default
is not a difference (`checkpoint.first_difference`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from specinpaint.core.pipeline import Pipeline
from specinpaint.core.registry import normalizers, priors, quantizers, representations

#: The registry of each config section that names a plugin.
_REGISTRIES = {"representation": representations, "normalizer": normalizers, "quantizer": quantizers,
               "priors": priors}


def pipeline_signature(pipeline: Pipeline, *parts: str) -> dict[str, Any]:
    """The config sections that define the weights of ``parts`` (refuse resuming on a mismatch)."""
    config = pipeline.config.model_dump(mode="json")
    out: dict[str, Any] = {"num_samples": config["num_samples"]}
    for part in parts:
        section, _, key = part.partition(".")
        out[part] = config[section][key] if key else config[section]
    return out


def signature_defaults(pipeline: Pipeline, *parts: str) -> dict[str, Any]:
    """For each plugin part of the signature, ``{"params": its plugin's parameter defaults}`` (in
    the signature's JSON form), so a checkpoint that predates a parameter can still be resumed."""
    config = pipeline.config.model_dump(mode="json")
    out: dict[str, Any] = {}
    for part in parts:
        section, _, key = part.partition(".")
        spec = config[section][key] if key else config[section]
        registry = _REGISTRIES.get(section)
        if registry is not None and isinstance(spec, dict) and "name" in spec:
            out[part] = {"params": parameter_defaults(registry.params_model(spec["name"]))}
    return out


def parameter_defaults(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON form of every field of ``model`` that has a default."""
    return {name: to_jsonable_python(field.get_default(call_default_factory=True))
            for name, field in model.model_fields.items() if not field.is_required()}
