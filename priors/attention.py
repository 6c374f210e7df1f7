"""Attention behind one function (`attend`) and one mask type (`AttnMask`), three backends.

* ``xformers``: ``xformers.ops.memory_efficient_attention`` with its mask classes (CUDA only;
  imported lazily, never needed on CPU).
* ``sdpa``: ``torch.nn.functional.scaled_dot_product_attention`` (fused kernels, CPU and CUDA).
* ``math``: plain matmul-softmax, the reference the others are tested against.

Selection: an explicit backend (config), else the environment variable ``SPECINPAINT_ATTENTION``,
else auto (xformers on CUDA when importable and a dispatch dry-run works, otherwise sdpa). A backend
that cannot run the call falls back to sdpa with one log line per reason.

Layout everywhere: ``[B, H, L, D]`` (batch, heads, length, head dim).
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from specinpaint.core.errors import SpecinpaintError

logger = logging.getLogger(__name__)

BACKENDS = ("xformers", "sdpa", "math")
ENV_VAR = "SPECINPAINT_ATTENTION"


@dataclass(frozen=True)
class AttnMask:
    """Which keys each query may see.

    * ``causal``: query i sees keys j ≤ i + (Lk − Lq) (aligned bottom-right, so a chunk of new
      queries against a KV cache is causal too).
    * ``keep``: optional bool tensor broadcastable to ``[B, H, Lq, Lk]``, True = may attend.
    Both together: the intersection. Neither: full attention.
    """

    causal: bool = False
    keep: torch.Tensor | None = None

    @property
    def kind(self) -> str:
        if self.keep is None:
            return "causal" if self.causal else "none"
        return "causal+keep" if self.causal else "keep"

    def dense(self, lq: int, lk: int, device: torch.device) -> torch.Tensor | None:
        """The combined keep mask as a bool tensor (None when everything is visible)."""
        allowed = None
        if self.causal:
            if lk < lq:
                raise SpecinpaintError(f"causal attention needs at least as many keys ({lk}) as queries ({lq})")
            allowed = torch.ones(lq, lk, dtype=torch.bool, device=device).tril(lk - lq)
        if self.keep is not None:
            keep = self.keep.to(device=device, dtype=torch.bool)
            allowed = keep if allowed is None else allowed & keep
        return allowed


NO_MASK = AttnMask()
CAUSAL = AttnMask(causal=True)


# -- backends -------------------------------------------------------------------------------
def _math(q, k, v, mask: AttnMask, dropout_p: float, scale: float | None) -> torch.Tensor:
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    scores = (q.float() @ k.float().transpose(-2, -1)) * scale
    allowed = mask.dense(q.shape[-2], k.shape[-2], q.device)
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)  # fully masked rows → 0, like sdpa
    if dropout_p > 0:
        weights = F.dropout(weights, p=dropout_p)
    return (weights @ v.float()).to(q.dtype)


def _sdpa(q, k, v, mask: AttnMask, dropout_p: float, scale: float | None) -> torch.Tensor:
    lq, lk = q.shape[-2], k.shape[-2]
    if mask.kind == "causal" and lq == 1 and lk >= 1:  # one new query against a cache sees every key
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, scale=scale)
    if mask.kind == "causal" and lq == lk:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True, scale=scale)
    allowed = mask.dense(lq, lk, q.device)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=dropout_p, scale=scale)


def _xformers_bias(mask: AttnMask, q: torch.Tensor, k: torch.Tensor) -> Any:
    from xformers.ops import fmha

    lq, lk = q.shape[-2], k.shape[-2]
    if mask.kind == "none":
        return None
    if mask.kind == "causal":
        return fmha.attn_bias.LowerTriangularMask() if lq == lk else fmha.attn_bias.LowerTriangularFromBottomRightMask()
    allowed = mask.dense(lq, lk, q.device)
    assert allowed is not None
    b, h = q.shape[0], q.shape[1]
    # xformers wants a [B, H, Lq, Lk] bias in q's dtype whose rows are 8-aligned in memory.
    padded = (lk + 7) // 8 * 8
    storage = torch.zeros(b, h, lq, padded, dtype=q.dtype, device=q.device)
    bias = storage[..., :lk]
    bias.masked_fill_(~allowed.expand(b, h, lq, lk), float("-inf"))
    return bias


def _xformers(q, k, v, mask: AttnMask, dropout_p: float, scale: float | None) -> torch.Tensor:
    from xformers.ops import memory_efficient_attention

    bias = _xformers_bias(mask, q, k)
    out = memory_efficient_attention(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_bias=bias, p=dropout_p, scale=scale
    )
    return out.transpose(1, 2)


_IMPLS = {"math": _math, "sdpa": _sdpa, "xformers": _xformers}

# -- availability and selection ----------------------------------------------------------------
_lock = threading.Lock()
_xformers_import: tuple[bool, str] | None = None
_xformers_dispatch: dict[tuple[str, torch.dtype], tuple[bool, str]] = {}
_logged: set[str] = set()


def _log_once(message: str, level: int = logging.INFO) -> None:
    with _lock:
        if message in _logged:
            return
        _logged.add(message)
    logger.log(level, message)


def xformers_importable() -> tuple[bool, str]:
    """(ok, detail) for ``import xformers.ops`` (cached; warnings about missing extensions are
    swallowed here and reported through the dispatch dry-run instead)."""
    global _xformers_import
    if _xformers_import is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import xformers
                import xformers.ops  # noqa: F401
            _xformers_import = (True, f"xformers {getattr(xformers, '__version__', '?')}")
        except Exception as exc:  # ImportError, or a broken build raising anything else
            _xformers_import = (False, f"not importable ({type(exc).__name__}: {exc}); "
                                       "install with pip install 'specinpaint[xformers]'")
    return _xformers_import


def xformers_usable(device: torch.device, dtype: torch.dtype) -> tuple[bool, str]:
    """Whether xformers can run attention for tensors on ``device`` with ``dtype`` (import +
    a tiny dispatch dry-run, cached per device and dtype)."""
    ok, detail = xformers_importable()
    if not ok:
        return False, detail
    if device.type != "cuda":
        return False, f"{detail} has no {device.type} kernels (CUDA only)"
    key = (str(device), dtype)
    if key not in _xformers_dispatch:
        try:
            x = torch.zeros(1, 2, 8, 16, device=device, dtype=dtype)
            _xformers(x, x, x, CAUSAL, 0.0, None)
            _xformers_dispatch[key] = (True, f"{detail}, dispatch works for {dtype} on {device}")
        except Exception as exc:
            _xformers_dispatch[key] = (False, f"{detail} cannot dispatch {dtype} on {device}: "
                                              f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    return _xformers_dispatch[key]


def requested_backend(configured: str = "auto") -> str:
    """The backend asked for: the configured one unless 'auto', else the environment variable,
    else 'auto'."""
    if configured != "auto":
        if configured not in BACKENDS:
            raise SpecinpaintError(f"attention backend '{configured}' is not one of auto, {', '.join(BACKENDS)}")
        return configured
    env = os.environ.get(ENV_VAR, "").strip().lower()
    if not env or env == "auto":
        return "auto"
    if env not in BACKENDS:
        raise SpecinpaintError(f"{ENV_VAR}='{env}' is not one of auto, {', '.join(BACKENDS)}")
    return env


def resolve_backend(configured: str, q: torch.Tensor) -> str:
    """The backend that will run a call with query tensor ``q`` (logs once when falling back)."""
    wanted = requested_backend(configured)
    if wanted in ("sdpa", "math"):
        return wanted
    if wanted == "xformers" or q.is_cuda:
        ok, detail = xformers_usable(q.device, q.dtype)
        if ok:
            return "xformers"
        level = logging.WARNING if wanted == "xformers" else logging.INFO
        _log_once(f"attention: xformers unavailable ({detail}); using sdpa", level)
    return "sdpa"


def attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: AttnMask | None = None,
    *,
    backend: str = "auto",
    dropout_p: float = 0.0,
    scale: float | None = None,
) -> torch.Tensor:
    """Scaled dot-product attention ``[B, H, Lq, D]`` × ``[B, H, Lk, D]`` → ``[B, H, Lq, D]``."""
    mask = NO_MASK if mask is None else mask
    name = resolve_backend(backend, q)
    if name == "xformers":
        try:
            return _xformers(q, k, v, mask, dropout_p, scale)
        except (NotImplementedError, ValueError, RuntimeError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else ""
            _log_once(f"attention: xformers failed for {mask.kind} mask ({type(exc).__name__}: {first}); "
                      "using sdpa", logging.WARNING)
            name = "sdpa"
    return _IMPLS[name](q, k, v, mask, dropout_p, scale)


def _sdpa_cpu_kernels() -> str:
    """Which SDPA kernels accept a tiny fp32 causal call on CPU (for `backend_report`)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    x = torch.zeros(1, 1, 4, 8)
    works = []
    for kernel in (SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH):
        try:
            with sdpa_kernel([kernel]), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                F.scaled_dot_product_attention(x, x, x, is_causal=True)
            works.append(kernel.name.lower())
        except RuntimeError:
            pass
    return ", ".join(works) or "none"


def backend_report() -> list[dict[str, Any]]:
    """One entry per backend (name, available, detail) for `specinpaint info`."""
    report = [{"name": "math", "available": True, "detail": "reference matmul-softmax (always available)"}]
    try:
        detail = f"torch {torch.__version__}; cpu kernels: {_sdpa_cpu_kernels()}"
        if torch.cuda.is_available():
            detail += f"; cuda: {torch.cuda.get_device_name(0)}"
        report.append({"name": "sdpa", "available": True, "detail": detail})
    except Exception as exc:
        report.append({"name": "sdpa", "available": False, "detail": f"{type(exc).__name__}: {exc}"})
    ok, detail = xformers_importable()
    if ok and torch.cuda.is_available():
        device = torch.device("cuda", torch.cuda.current_device())
        results = {dtype: xformers_usable(device, dtype) for dtype in (torch.float16, torch.float32)}
        works = [str(d).replace("torch.", "") for d, (good, _) in results.items() if good]
        if works:
            detail = f"{detail}; works on {device} for {', '.join(works)}"
        else:
            detail = results[torch.float16][1]
        ok = bool(works)
    elif ok:
        ok, detail = False, f"{detail} installed, but CUDA is not available (xformers has no CPU kernels)"
    report.append({"name": "xformers", "available": ok, "detail": detail})
    env = os.environ.get(ENV_VAR)
    if env:
        for entry in report:
            if entry["name"] == env.strip().lower():
                entry["detail"] += f" [selected by {ENV_VAR}]"
    return report
