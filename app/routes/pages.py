"""The pages around the API: the single-page web app (``/`` and ``/static``), the API reference as
plain HTML (``/api/reference``) and the Swagger UI served from local assets (``/docs``; no CDN)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
router = APIRouter()


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})


@router.get("/api/reference", include_in_schema=False)
def reference(request: Request) -> HTMLResponse:
    """The API reference rendered from the OpenAPI schema as plain HTML (no JavaScript at all)."""
    return HTMLResponse(reference_html(request.app.openapi()))


def install_pages(app: FastAPI) -> None:
    """The routes above, the static files and the offline docs."""
    app.include_router(router)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    add_offline_docs(app)


def reference_html(schema: dict[str, Any]) -> str:
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


def add_offline_docs(app: FastAPI) -> None:
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
