"""Loading pipeline YAML: ``extends`` chains, dotted overrides, and one-line errors.

Every error names the file and the dotted key path, e.g.
``configs/x.yaml: quantizer.params.num_codes: Input should be a valid integer``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .config import PipelineConfig, PluginSpec, convert_former_override_key
from .errors import ConfigError, PluginError
from .registry import registry

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping from ``path``; a one-line `ConfigError` (file:line:column) otherwise."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror or exc})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: YAML syntax error: {problem}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    return data


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive merge: mappings merge key by key, anything else in ``override`` replaces."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_config_path(name: str | Path) -> Path:
    """A path, or the name of a built-in config (``paper``, ``tiny``, ``ablations/representation``)."""
    path = Path(name)
    if path.exists():
        return path
    builtin = CONFIG_DIR / (str(name) if str(name).endswith(".yaml") else f"{name}.yaml")
    if builtin.exists():
        return builtin
    raise ConfigError(f"{name}: no such config file (built-in configs: {', '.join(builtin_configs())})")


def builtin_configs() -> list[str]:
    return sorted(str(p.relative_to(CONFIG_DIR).with_suffix("")) for p in CONFIG_DIR.rglob("*.yaml"))


def load_yaml_with_extends(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read ``path``; an ``extends: other.yaml`` key (relative to the file) is loaded first and
    this file's keys are merged over it."""
    path = path.resolve()
    if path in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, path))
        raise ConfigError(f"{path}: extends: cycle ({chain})")
    data = read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: extends: must be a file name, got {type(parent).__name__}")
    parent_path = (path.parent / parent) if not Path(parent).is_absolute() else Path(parent)
    if not parent_path.exists():
        raise ConfigError(f"{path}: extends: no such file {parent_path}")
    return deep_merge(load_yaml_with_extends(parent_path, (*_seen, path)), data)


def apply_overrides(data: dict[str, Any], overrides: Iterable[str], source: str = "override") -> dict[str, Any]:
    """Apply ``a.b.c=value`` strings (value parsed as YAML, so ``3``, ``true``, ``[1,2]`` work)."""
    out = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = convert_former_override_key(key.strip())
        if not sep or not key:
            raise ConfigError(f"{source} '{item}': expected dotted.key=value")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source} '{item}': value is not valid YAML") from exc
        node = out
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"{source} '{item}': {'.'.join(parts[: i + 1])} is not a mapping")
            node = child
        node[parts[-1]] = value
    return out


def _loc(loc: Iterable[Any]) -> str:
    return ".".join(str(p) for p in loc)


def validate_config(data: Mapping[str, Any], source: str = "<dict>") -> PipelineConfig:
    """Validate structure with pydantic, then every plugin's params against its registry."""
    try:
        config = PipelineConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        msg = first["msg"]
        if first["type"] == "extra_forbidden":
            msg = "unknown key"
        elif first["type"] == "missing":
            msg = "missing required field"
        more = f" (and {exc.error_count() - 1} more errors)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{source}: {_loc(first['loc'])}: {msg}{more}") from exc
    config.source = source

    specs: list[tuple[str, str, PluginSpec]] = [
        ("representation", "representations", config.representation),
        ("normalizer", "normalizers", config.normalizer),
        ("quantizer", "quantizers", config.quantizer),
        ("data.dataset", "datasets", config.data.dataset),
    ]
    specs += [(f"priors.{level}", "priors", spec) for level, spec in config.priors.items()]
    for path, kind, spec in specs:
        reg = registry(kind)
        try:
            reg.info(spec.name)
        except PluginError as exc:
            raise ConfigError(f"{source}: {path}.name: {exc}") from None
        try:
            validated = reg.validate(spec.name, spec.params)
        except PluginError as exc:
            detail = str(exc).split(": ", 1)[1] if ": " in str(exc) else str(exc)
            raise ConfigError(f"{source}: {path}.{detail}") from None
        spec.params = validated.model_dump(mode="json")
    return config


def load_config(
    source: str | Path | Mapping[str, Any], overrides: Iterable[str] = ()
) -> PipelineConfig:
    """A validated `PipelineConfig` from a YAML path, a built-in name, or a dict."""
    if isinstance(source, Mapping):
        data = dict(source)
        parent = data.pop("extends", None)
        if parent is not None:
            data = deep_merge(load_yaml_with_extends(resolve_config_path(parent)), data)
        label = "<dict>"
    else:
        path = resolve_config_path(source)
        data, label = load_yaml_with_extends(path), str(source)
    return validate_config(apply_overrides(data, overrides), label)


def dump_config(config: PipelineConfig) -> str:
    """The fully resolved YAML (what a bundle stores)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
