"""The server's error answers: one-line 4xx JSON ``{"detail": ...}``, never echoing the request."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from specinpaint.core.errors import AudioInputError, DataError, SpecinpaintError
from specinpaint.editing import EditError


class HTTPProblem(Exception):
    """A 4xx answer with a one-line message."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Where and what, never the offending input: a body can be hundreds of MB, and NaN cannot be
    written as JSON (the default handler's 500)."""
    return [{"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type", "")}
            for error in exc.errors()[:20]]


def install_error_handlers(app: FastAPI) -> None:
    """HTTPProblem → its status; domain errors → 404 (missing data), 422 (bad edit or audio) or
    400; request validation → 422 with `validation_detail`."""

    @app.exception_handler(HTTPProblem)
    async def _problem(_: Request, exc: HTTPProblem) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    @app.exception_handler(SpecinpaintError)
    async def _domain(_: Request, exc: SpecinpaintError) -> JSONResponse:
        status = 404 if isinstance(exc, DataError) else 422 if isinstance(exc, (EditError, AudioInputError)) else 400
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_detail(exc)}, status_code=422)
