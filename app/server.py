"""The HTTP server: a FastAPI app around one loaded `Pipeline`, plus the single-page web app.

Design (fixes the original Flask server, see docs/original.md §5, §7.18):

* models are loaded once and shared; inference runs under one lock (torch modules are not
  re-entrant and a CPU box gains nothing from running two edits at once);
* every response is built in memory (no shared ``uploads/sample.wav``-style files);
* requests are pydantic models; malformed input gets a 4xx JSON ``{"detail": ...}``;
* request bodies are limited while they stream in (chunked ones too); audio duration, codemap
  length and request rate are limited (`ServerSettings`); error answers never echo the request;
* bound to 127.0.0.1 unless told otherwise; Host must be an allowed name and state-changing
  requests from another Origin are refused (`request_guard.py`); no CORS (the web app is served
  by the same origin); forwarded headers are trusted only from ``forwarded_allow_ips``.
  What this does and does not promise: docs/security.md.
"""

from __future__ import annotations

import logging
import secrets
import threading
from pathlib import Path
from typing import Any

import torch
from fastapi import FastAPI, File, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from specinpaint.core.codemaps import Codemaps
from specinpaint.core.conditioning import NSYNTH_FAMILIES, PITCH_MAX, PITCH_MIN
from specinpaint.core.editing import EditError
from specinpaint.core.errors import AudioInputError, DataError, SpecinpaintError
from specinpaint.core.pipeline import Pipeline
from specinpaint.core.region import Region

from .api_models import (
    AttenuateRequest,
    CodesJson,
    CodesRequest,
    CodesResponse,
    DatasetSampleRequest,
    GenerateRequest,
    InfoResponse,
    InpaintRequest,
    LevelInfo,
    RegionModel,
    SamplePackRequest,
)
from .body_limit import BodyLimit
from .dataset_codes import Constraints, DatasetCodes
from .images import log_magnitude_png
from .rate_limit import DEFAULT_MAX_CLIENTS, RateLimiter
from .request_guard import RequestGuard, default_allowed_hosts

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"


class ServerSettings(BaseModel):
    """Limits and binding; every field can be set from `specinpaint serve` flags."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    max_upload_bytes: int = Field(20_000_000, ge=1, description="largest accepted audio upload")
    max_duration_s: float = Field(60.0, gt=0, description="longest accepted note (uploads and codes)")
    rate_limit_per_minute: float = Field(600.0, ge=0, description="per client; 0 disables")
    rate_limit_burst: int | None = Field(None, ge=1)
    max_clients: int = Field(DEFAULT_MAX_CLIENTS, ge=1, description="rate-limit table size (least recent forgotten)")
    allowed_hosts: list[str] | None = Field(
        None, description="Host header names accepted ('*' = any); None = loopback names + the bound host"
    )
    forwarded_allow_ips: str | None = Field(
        None, description="proxies whose X-Forwarded-For/-Proto are trusted (uvicorn syntax); None = none"
    )
    max_pack_pitches: int = Field(61, ge=1)
    torch_threads: int | None = Field(
        None, ge=1, description="intra-op CPU threads for inference (None: torch's default); 1 is often "
        "fastest for these small models on a busy machine",
    )


class HTTPProblem(Exception):
    """A 4xx answer with a one-line message."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Where and what, never the offending input: a body can be hundreds of MB, and NaN cannot be
    written as JSON (the default handler's 500)."""
    return [{"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type", "")}
            for error in exc.errors()[:20]]


def _codes_from_json(data: CodesJson, pipeline: Pipeline, max_columns: int) -> Codemaps:
    maps = {}
    for level, rows in data.items():
        try:
            tensor = torch.as_tensor(rows, dtype=torch.long)
        except (ValueError, TypeError, RuntimeError, OverflowError):
            raise HTTPProblem(422, f"codes.{level} must be a rectangular 2-D list of integers") from None
        if tensor.dim() != 2:
            raise HTTPProblem(422, f"codes.{level} must be a 2-D list (rows × columns), got {tensor.dim()}-D")
        maps[level] = tensor.unsqueeze(0)
    if not maps:
        raise HTTPProblem(422, "codes must hold at least one level")
    try:
        codes = Codemaps(maps)
        columns = pipeline.check_codes(codes)
    except SpecinpaintError as exc:
        raise HTTPProblem(422, f"codes: {exc}") from None
    if columns > max_columns:
        raise HTTPProblem(413, f"codes span {columns} columns; this server accepts at most {max_columns}")
    return codes


def _codes_json(codes: Codemaps) -> CodesJson:
    return {level: codes[level][0].tolist() for level in codes.levels}


def _masks_json(masks: dict[str, torch.Tensor]) -> dict[str, list[list[int]]]:
    return {level: m[0].int().tolist() for level, m in masks.items()}


def _region(model: RegionModel) -> Region | dict[str, Any]:
    if model.masks is not None:
        return {level: rows for level, rows in model.masks.items()}
    try:
        return Region(time_s=model.time_s, freq_hz=model.freq_hz)
    except SpecinpaintError as exc:
        raise HTTPProblem(422, str(exc)) from None


def create_app(
    pipeline: Pipeline, settings: ServerSettings | None = None, dataset: DatasetCodes | None = None
) -> FastAPI:
    """The FastAPI app serving ``pipeline`` (put in eval mode) and, optionally, dataset codes."""
    settings = settings or ServerSettings()
    pipeline.eval()
    lock = threading.Lock()
    limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst,
                          max_clients=settings.max_clients)
    max_columns = max(pipeline.window_columns, int(settings.max_duration_s / pipeline.column_seconds + 1e-9))
    app = FastAPI(
        title="specinpaint",
        description="Generate and inpaint instrument notes: codes in, codes/audio/images out.",
        version="0.1.0",
        docs_url=None,  # served below from local assets: no CDN at run time
        redoc_url=None,
    )
    _add_offline_docs(app)
    app.state.pipeline, app.state.settings, app.state.dataset = pipeline, settings, dataset

    # -- errors and limits ---------------------------------------------------------------------
    @app.exception_handler(HTTPProblem)
    async def _problem(_: Request, exc: HTTPProblem) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    @app.exception_handler(SpecinpaintError)
    async def _domain(_: Request, exc: SpecinpaintError) -> JSONResponse:
        status = 404 if isinstance(exc, DataError) else 422 if isinstance(exc, (EditError, AudioInputError)) else 400
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_detail(exc)}, status_code=422)

    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes)  # counted while the body streams in

    @app.middleware("http")
    async def _limits(request: Request, call_next):
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

    def run_locked(fn, *args, **kwargs):
        with lock:
            if settings.torch_threads is not None and torch.get_num_threads() != settings.torch_threads:
                torch.set_num_threads(settings.torch_threads)  # per worker thread under OpenMP
            return fn(*args, **kwargs)

    def seed_of(value: int | None) -> int:
        return value if value is not None else secrets.randbelow(2**31 - 1)

    def codes_of(data: CodesJson) -> Codemaps:
        return _codes_from_json(data, pipeline, max_columns)

    # -- pages ---------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})

    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/api/reference", include_in_schema=False)
    def reference() -> HTMLResponse:
        """The API reference rendered from the OpenAPI schema as plain HTML (no JavaScript at all)."""
        return HTMLResponse(_reference_html(app.openapi()))

    # -- API -----------------------------------------------------------------------------------
    @app.get("/api/info", response_model=InfoResponse, tags=["info"])
    def info() -> InfoResponse:
        """Geometry of the loaded pipeline (for drawing regions) and the server's limits."""
        shapes, num_codes = pipeline.codemap_shapes, pipeline.quantizer.num_codes
        return InfoResponse(
            name=pipeline.config.name,
            sample_rate=pipeline.sample_rate,
            window_seconds=pipeline.window_seconds,
            window_columns=pipeline.window_columns,
            column_seconds=pipeline.column_seconds,
            levels={lvl: LevelInfo(rows=shapes[lvl][0], columns=shapes[lvl][1], num_codes=num_codes[lvl])
                    for lvl in pipeline.levels},
            families=list(NSYNTH_FAMILIES),
            pitch_range=(PITCH_MIN, PITCH_MAX),
            bin_frequencies_hz=pipeline.bin_frequencies().tolist(),
            frame_times_s=pipeline.frame_times(pipeline.window_columns).tolist(),
            dataset_notes=len(dataset) if dataset is not None else 0,
            limits={
                "max_upload_bytes": settings.max_upload_bytes,
                "max_duration_s": settings.max_duration_s,
                "max_columns": max_columns,
                "rate_limit_per_minute": settings.rate_limit_per_minute,
            },
        )

    @app.post("/api/generate", response_model=CodesResponse, tags=["edit"])
    def generate(req: GenerateRequest) -> CodesResponse:
        """A new note from scratch (top prior, then bottom prior on the new top)."""
        if req.columns is not None and not pipeline.window_columns <= req.columns <= max_columns:
            raise HTTPProblem(422, f"columns must be in {pipeline.window_columns}..{max_columns}")
        seed = seed_of(req.seed)
        result = run_locked(
            pipeline.generate, req.pitch, req.family, 1, req.options(seed), columns=req.columns, decode=False
        )
        return CodesResponse(codes=_codes_json(result.codes), seed=seed,
                             labels={"pitch": req.pitch, "family": req.family})

    @app.post("/api/sample-from-dataset", response_model=CodesResponse, tags=["edit"])
    def sample_from_dataset(req: DatasetSampleRequest) -> CodesResponse:
        """A random dataset note matching the label constraints (404 when none matches)."""
        if dataset is None or len(dataset) == 0:
            raise HTTPProblem(404, "this server was started without dataset codes")
        seed = seed_of(req.seed)
        constraints = Constraints(req.pitch, req.pitch_class, req.octave, req.family)
        codes, labels = dataset.sample(constraints, seed)
        return CodesResponse(codes=_codes_json(codes), seed=seed, labels=labels)

    @app.post("/api/analyze", response_model=CodesResponse, tags=["edit"])
    def analyze(audio: UploadFile = File(..., description="WAV/FLAC/OGG file")) -> CodesResponse:
        """Encode an uploaded sound (mono by averaging, resampled, same spectrogram path as training)."""
        data = audio.file.read(settings.max_upload_bytes + 1)
        if len(data) > settings.max_upload_bytes:
            raise HTTPProblem(413, f"upload exceeds the {settings.max_upload_bytes}-byte limit")
        if not data:
            raise HTTPProblem(422, "uploaded file is empty")
        samples, notes = _decode_upload(data, pipeline.sample_rate, audio.filename or "upload",
                                        settings.max_duration_s)
        duration = samples.shape[-1] / pipeline.sample_rate
        if duration > settings.max_duration_s:
            raise HTTPProblem(413, f"audio is {duration:.1f} s long; the limit is {settings.max_duration_s:g} s")
        codes = run_locked(pipeline.encode_long, samples)
        labels: dict[str, Any] = {"duration_s": round(duration, 3)}
        if notes:
            labels["warnings"] = notes  # what was done to the audio (e.g. scaled down to full scale)
        return CodesResponse(codes=_codes_json(codes), labels=labels)

    @app.post("/api/inpaint", response_model=CodesResponse, tags=["edit"])
    def inpaint(req: InpaintRequest) -> CodesResponse:
        """Resample the codes inside a region (layer top: top then bottom; layer bottom: bottom only)."""
        codes = codes_of(req.codes)
        seed = seed_of(req.seed)
        result = run_locked(
            pipeline.inpaint, codes, _region(req.region), req.pitch, req.family, layer=req.layer,
            sampling=req.options(seed), dilate=req.dilate, decode=False,
        )
        return CodesResponse(codes=_codes_json(result.codes), seed=seed, masks=_masks_json(result.masks),
                             labels={"pitch": req.pitch, "family": req.family, "layer": req.layer})

    @app.post("/api/attenuate", response_model=CodesResponse, tags=["edit"])
    def attenuate(req: AttenuateRequest) -> CodesResponse:
        """Lower a region by ``amount_db`` in the spectrogram and re-encode."""
        codes = codes_of(req.codes)
        result = run_locked(pipeline.attenuate, codes, _region(req.region), req.amount_db, decode=False)
        return CodesResponse(codes=_codes_json(result.codes), masks=_masks_json(result.masks))

    @app.post("/api/audio", tags=["render"], response_class=Response,
              responses={200: {"content": {"audio/wav": {}}}})
    def audio(req: CodesRequest) -> Response:
        """16-bit PCM WAV of the codes."""
        codes = codes_of(req.codes)
        wav = run_locked(lambda: _wav(pipeline, codes))
        return Response(wav, media_type="audio/wav", headers={"Cache-Control": "no-store"})

    @app.post("/api/spectrogram", tags=["render"], response_class=Response,
              responses={200: {"content": {"image/png": {}}}})
    def spectrogram(req: CodesRequest) -> Response:
        """PNG of the decoded log-magnitude: one pixel per frame, low frequencies at the bottom."""
        codes = codes_of(req.codes)
        spec = run_locked(pipeline.decode_spectrogram, codes)
        png = log_magnitude_png(spec[0, pipeline.magnitude_channel()], pipeline.db_per_log_unit())
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    @app.post("/api/sample-pack", tags=["render"], response_class=Response,
              responses={200: {"content": {"application/zip": {}}}})
    def sample_pack(req: SamplePackRequest) -> Response:
        """Zip of ``{family}-{pitch}.wav``: the top codes kept, one bottom map per pitch (one batch)."""
        pitches = list(range(req.min_pitch, req.max_pitch + 1))
        if len(pitches) > settings.max_pack_pitches:
            raise HTTPProblem(422, f"{len(pitches)} pitches requested; the limit is {settings.max_pack_pitches}")
        codes = codes_of(req.codes)
        pack = run_locked(pipeline.sample_pack, codes, pitches, req.family, req.options(seed_of(req.seed)))
        name = f"specinpaint-{pack.family}-{pitches[0]}-{pitches[-1]}.zip"
        return Response(pack.to_zip(), media_type="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})

    return app


def _reference_html(schema: dict[str, Any]) -> str:
    import html
    import json

    rows = []
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {})
            kinds = ", ".join(
                f"{kind}: {(spec.get('schema', {}).get('$ref') or '').rsplit('/', 1)[-1] or 'form'}"
                for kind, spec in body.items()
            )
            answers = ", ".join(f"{code}: {', '.join(r.get('content', {})) or r.get('description', '')}"
                                for code, r in op.get("responses", {}).items())
            rows.append(
                f"<tr><td><code>{method.upper()} {html.escape(path)}</code></td><td>{html.escape(op.get('summary', ''))}"
                f"<br><small>{html.escape(op.get('description', ''))}</small></td><td>{html.escape(kinds)}</td>"
                f"<td>{html.escape(answers)}</td></tr>"
            )
    models = "".join(
        f"<details><summary><code>{html.escape(name)}</code></summary><pre>{html.escape(json.dumps(model, indent=1))}</pre></details>"
        for name, model in schema.get("components", {}).get("schemas", {}).items()
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>specinpaint API</title>"
        "<style>body{font:14px system-ui,sans-serif;margin:1.5rem}td{border-bottom:1px solid #ddd;padding:.3rem;"
        "vertical-align:top}pre{background:#f6f6f6;padding:.5rem}</style></head><body>"
        f"<h1>{html.escape(schema['info']['title'])} API {html.escape(schema['info']['version'])}</h1>"
        "<p>JSON in, JSON/WAV/PNG/zip out. Machine-readable schema: <a href='/openapi.json'>/openapi.json</a>.</p>"
        f"<table><tr><th>route</th><th>what</th><th>request body</th><th>answers</th></tr>{''.join(rows)}</table>"
        f"<h2>Models</h2>{models}</body></html>"
    )


def _decode_upload(data: bytes, sample_rate: int, label: str, max_seconds: float) -> tuple[torch.Tensor, list[str]]:
    """Uploaded bytes → (mono float32 [N] at ``sample_rate`` by core.audio's policy, notes on what
    was done to it); too-long audio is a 413, refused from its header before decoding."""
    from specinpaint.core.audio import AudioTooLongError, read_audio_bytes

    try:
        return read_audio_bytes(data, sample_rate, label, max_seconds)
    except AudioTooLongError as exc:
        raise HTTPProblem(413, str(exc).split(": ", 1)[-1]) from None


def _add_offline_docs(app: FastAPI) -> None:
    """Swagger UI at /docs with its JS/CSS from the `swagger-ui-bundle` wheel (the `app` extra),
    never from a CDN; without that package /docs redirects to the offline /api/reference."""
    from fastapi.responses import RedirectResponse

    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        @app.get("/docs", include_in_schema=False)
        def docs_fallback() -> RedirectResponse:
            return RedirectResponse("/api/reference")

        return
    from fastapi.openapi.docs import get_swagger_ui_html

    app.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="specinpaint API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js", swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )


def _wav(pipeline: Pipeline, codes: Codemaps) -> bytes:
    from specinpaint.core.audio import wav_bytes

    return wav_bytes(pipeline.decode_long(codes)[0], pipeline.sample_rate)


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
