"""Per-kind plugin registries fed by `importlib.metadata` entry points.

Why this shape (see the architecture section of the README): built-in and third-party plugins are found the
same way (entry points), discovery is cached and lazy (names and `module:attr` only; a plugin
module is imported on first use), duplicate names are errors naming both sources, and unknown
names list close matches. `register` adds in-process plugins for notebooks and tests and returns
a handle whose `undo()` (or context-manager exit) removes them again.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata as md
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import PluginError

ENTRY_POINT_PREFIX = "specinpaint."
KINDS = ("representations", "normalizers", "quantizers", "priors", "datasets", "metrics")


@dataclass
class PluginInfo:
    """What discovery knows about a plugin before importing it."""

    kind: str
    name: str
    target: str  # "module:attr", or "<in-process>"
    distribution: str  # providing distribution, or "<in-process>"
    _loaded: Any = field(default=None, repr=False)

    @property
    def source(self) -> str:
        return f"{self.target} (from {self.distribution})"

    def load(self) -> Any:
        if self._loaded is None:
            module_name, _, attr = self.target.partition(":")
            try:
                obj: Any = importlib.import_module(module_name)
                for part in attr.split("."):
                    obj = getattr(obj, part)
            except Exception as exc:  # ImportError, AttributeError, errors inside the plugin module
                raise PluginError(
                    f"{self.kind} plugin '{self.name}' could not be loaded from {self.source}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            self._loaded = obj
        return self._loaded

    @property
    def description(self) -> str:
        obj = self.load()
        doc = getattr(obj, "description", None) or (obj.__doc__ or "")
        return doc.strip().splitlines()[0] if doc.strip() else ""


class Registration:
    """Handle returned by `Registry.register`; `undo()` removes the plugin again."""

    def __init__(self, registry: Registry, name: str) -> None:
        self._registry, self.name = registry, name

    def undo(self) -> None:
        """`Registry.unregister`; a second undo does nothing."""
        self._registry.unregister(self.name, missing_ok=True)

    def __enter__(self) -> Registration:
        return self

    def __exit__(self, *exc: object) -> None:
        self.undo()


class Registry:
    """Name → plugin class for one kind (e.g. 'representations')."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.group = ENTRY_POINT_PREFIX + kind
        self._discovered: dict[str, PluginInfo] | None = None
        self._local: dict[str, PluginInfo] = {}
        self._lock = threading.Lock()

    # -- discovery -------------------------------------------------------------------------
    def _discover(self) -> dict[str, PluginInfo]:
        with self._lock:
            if self._discovered is None:
                found: dict[str, PluginInfo] = {}
                for ep in md.entry_points(group=self.group):
                    dist = ep.dist.name if ep.dist is not None else "<unknown>"
                    info = PluginInfo(self.kind, ep.name, ep.value, dist)
                    previous = found.get(ep.name)
                    if previous is not None and previous.target != info.target:
                        raise PluginError(
                            f"duplicate {self.kind} plugin name '{ep.name}': "
                            f"{previous.source} and {info.source}"
                        )
                    found[ep.name] = info
                self._discovered = found
            return self._discovered

    def refresh(self) -> None:
        """Forget the discovery cache (after installing a distribution in-process)."""
        with self._lock:
            self._discovered = None

    def _all(self) -> dict[str, PluginInfo]:
        return {**self._discover(), **self._local}

    # -- queries ---------------------------------------------------------------------------
    def names(self) -> list[str]:
        return sorted(self._all())

    def __contains__(self, name: object) -> bool:
        return name in self._all()

    def __iter__(self) -> Iterator[PluginInfo]:
        return iter(self._all()[n] for n in self.names())

    def info(self, name: str) -> PluginInfo:
        plugins = self._all()
        if name not in plugins:
            close = difflib.get_close_matches(name, list(plugins), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            known = ", ".join(sorted(plugins)) or "none installed"
            raise PluginError(f"unknown {self.kind} plugin '{name}'{hint} (known: {known})")
        return plugins[name]

    def get(self, name: str) -> Any:
        """The plugin class (imports its module on first use)."""
        return self.info(name).load()

    def params_model(self, name: str) -> type[BaseModel]:
        cls = self.get(name)
        params = getattr(cls, "Params", None)
        if not (isinstance(params, type) and issubclass(params, BaseModel)):
            raise PluginError(f"{self.kind} plugin '{name}' declares no pydantic `Params` model")
        return params

    def validate(self, name: str, params: Mapping[str, Any] | BaseModel | None) -> BaseModel:
        model = self.params_model(name)
        if isinstance(params, model):
            return params
        try:
            return model.model_validate(dict(params or {}))
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise PluginError(f"{self.kind} plugin '{name}': params.{loc}: {first['msg']}") from exc

    def build(self, name: str, params: Mapping[str, Any] | BaseModel | None = None) -> Any:
        """Validate `params` against the plugin's `Params` and instantiate `cls(params)`."""
        return self.get(name)(self.validate(name, params))

    # -- in-process registration -----------------------------------------------------------
    def register(self, name: str, obj: Any = None) -> Any:
        """Register `obj` under `name`; usable as a decorator. Returns the object when used
        as a decorator, else a `Registration` whose `undo()` removes it."""

        def add(target: Any) -> Registration:
            existing = self._all().get(name)
            if existing is not None:
                raise PluginError(
                    f"duplicate {self.kind} plugin name '{name}': {existing.source} and "
                    f"{target.__module__}:{target.__qualname__} (in-process)"
                )
            info = PluginInfo(self.kind, name, f"{target.__module__}:{target.__qualname__}", "<in-process>")
            info._loaded = target
            self._local[name] = info
            return Registration(self, name)

        if obj is not None:
            return add(obj)

        def decorator(target: Any) -> Any:
            add(target)
            return target

        return decorator

    def unregister(self, name: str, *, missing_ok: bool = False) -> None:
        """Remove an in-process plugin (entry-point plugins cannot be removed); ``missing_ok``: a
        name not registered in-process is no error."""
        if name not in self._local:
            if missing_ok:
                return
            raise PluginError(f"{self.kind} plugin '{name}' was not registered in-process")
        del self._local[name]


_REGISTRIES: dict[str, Registry] = {kind: Registry(kind) for kind in KINDS}


def registry(kind: str) -> Registry:
    """The registry of one kind (`representations`, `quantizers`, `priors`, ...)."""
    try:
        return _REGISTRIES[kind]
    except KeyError:
        raise PluginError(f"unknown plugin kind '{kind}' (known: {', '.join(KINDS)})") from None


representations = registry("representations")
normalizers = registry("normalizers")
quantizers = registry("quantizers")
priors = registry("priors")
datasets = registry("datasets")
metrics = registry("metrics")
