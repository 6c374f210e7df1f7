"""The HTTP server: a FastAPI app around one loaded pipeline's `Editor`, plus the single-page web app.

Design:

* `create_app` only composes: an `EditorService` (the editor, the inference lock, the limits, the
  dataset codes) injected into routers (`routes/`: info, edit, render, pages), the error handlers
  (`http_errors`) and the middleware below;
* models are loaded once and shared; inference runs under one lock (torch modules are not
  re-entrant and a CPU box gains nothing from running two edits at once);
* every response is built in memory (no shared ``uploads/sample.wav``-style files);
* requests are pydantic models; malformed input gets a 4xx JSON ``{"detail": ...}``; families and
  pitches are those of the bundle's saved labels;
* request bodies are limited while they stream in (chunked ones too); audio duration, codemap
  length and request rate are limited (`ServerSettings`); error answers never echo the request;
* bound to 127.0.0.1 unless told otherwise; Host must be an allowed name and state-changing
  requests from another Origin are refused (`request_guard.py`); no CORS (the web app is served
  by the same origin); forwarded headers are trusted only from ``forwarded_allow_ips``.
  What this does and does not promise: docs/security.md.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from specinpaint.core.pipeline import Pipeline
from specinpaint.editing import Editor

from .body_limit import BodyLimit
from .dataset_codes import DatasetCodes
from .http_errors import HTTPProblem, install_error_handlers
from .rate_limit import RateLimiter
from .request_guard import RequestGuard, default_allowed_hosts
from .routes import edit, info, render
from .routes.pages import STATIC_DIR, install_pages
from .service import EditorService
from .settings import ServerSettings

__all__ = ["STATIC_DIR", "BackgroundServer", "HTTPProblem", "ServerSettings", "create_app", "serve", "uvicorn_config"]
log = logging.getLogger(__name__)


def create_app(
    model: Pipeline | Editor, settings: ServerSettings | None = None, dataset: DatasetCodes | None = None
) -> FastAPI:
    """The FastAPI app serving ``model`` (a pipeline, put in eval mode, or its editor) and,
    optionally, dataset codes."""
    settings = settings or ServerSettings()
    editor = model if isinstance(model, Editor) else Editor(model)
    app = FastAPI(
        title="specinpaint",
        description="Generate and inpaint instrument notes: codes in, codes/audio/images out.",
        version="0.1.0",
        docs_url=None,  # served from local assets (routes/pages.py): no CDN at run time
        redoc_url=None,
    )
    app.state.service = EditorService(editor, settings, dataset)
    app.state.settings = settings
    install_error_handlers(app)
    install_pages(app)
    for router in (info.router, edit.router, render.router):
        app.include_router(router)
    _install_limits(app, settings)
    return app


def _install_limits(app: FastAPI, settings: ServerSettings) -> None:
    """Body limit (counted while the body streams in), per-client rate limit on POST /api/*, and,
    outermost, the Host/Origin checks."""
    limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst,
                          max_clients=settings.max_clients)
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes)

    @app.middleware("http")
    async def _rate_limit(request: Request, call_next):
        if request.url.path.startswith("/api/") and request.method == "POST":
            wait = limiter.allow(request.client.host if request.client else "unknown")
            if wait > 0:
                return JSONResponse(
                    {"detail": f"rate limit of {settings.rate_limit_per_minute:g} requests/minute exceeded"},
                    status_code=429, headers={"Retry-After": str(max(1, round(wait)))},
                )
        return await call_next(request)

    # added last = outermost: Host/Origin checks, the rate limit above, then the body limit (inside the
    # rate limit's BaseHTTPMiddleware, whose task group would wrap the body limit's 413 in an ExceptionGroup)
    app.add_middleware(RequestGuard, allowed_hosts=settings.allowed_hosts or default_allowed_hosts(settings.host))


def uvicorn_config(app: FastAPI, settings: ServerSettings, log_level: str = "info", **extra: Any):
    """The uvicorn configuration for ``settings``: X-Forwarded-* headers are trusted only from
    ``settings.forwarded_allow_ips`` (uvicorn's own default trusts 127.0.0.1, which would let any
    local client pick its rate-limit key)."""
    import uvicorn

    trusted = settings.forwarded_allow_ips
    return uvicorn.Config(app, host=settings.host, port=settings.port, log_level=log_level,
                          proxy_headers=trusted is not None, forwarded_allow_ips=trusted or "", **extra)


def serve(app: FastAPI, settings: ServerSettings) -> None:
    """Run uvicorn in this process (blocking)."""
    import uvicorn

    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s: reachable from other machines; there is no authentication", settings.host)
    uvicorn.Server(uvicorn_config(app, settings)).run()


class BackgroundServer:
    """uvicorn in a daemon thread on a free loopback port (tests, benchmarks, notebooks):
    ``with BackgroundServer(app) as url: ...``."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        import socket

        import uvicorn

        if port == 0:
            with socket.socket() as sock:
                sock.bind((host, 0))
                port = sock.getsockname()[1]
        self.url = f"http://{host}:{port}"
        base = getattr(app.state, "settings", None) or ServerSettings()
        settings = base.model_copy(update={"host": host, "port": port})
        self.server = uvicorn.Server(uvicorn_config(app, settings, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, name="specinpaint-server", daemon=True)

    def __enter__(self) -> str:
        import time

        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server at {self.url} did not start")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
