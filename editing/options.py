"""Sampling options of one edit: the bundle's defaults (its config's ``sampling``) updated by the
caller's, validated into one line on error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from specinpaint.core.prior import SamplingOptions

from .errors import EditError


def sampling_options(
    defaults: SamplingOptions, sampling: SamplingOptions | Mapping[str, Any] | None = None, **changes: Any
) -> SamplingOptions:
    """``defaults`` updated by ``sampling`` (only its set fields, for a `SamplingOptions`), then by
    the non-None ``changes``."""
    base = defaults.model_dump()
    if isinstance(sampling, SamplingOptions):
        base.update(sampling.model_dump(exclude_unset=True))
    elif sampling is not None:
        base.update(dict(sampling))
    base.update({k: v for k, v in changes.items() if v is not None})
    try:
        return SamplingOptions.model_validate(base)
    except Exception as exc:  # pydantic ValidationError → one line
        errors = getattr(exc, "errors", None)
        first = errors()[0] if callable(errors) else {"loc": ("?",), "msg": str(exc)}
        raise EditError(f"sampling.{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
