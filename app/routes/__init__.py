"""The HTTP routes, one router per concern, each getting the `EditorService` injected:
`info` (GET /api/info), `edit` (codes in, codes out), `render` (codes in, WAV/PNG/zip out) and
`pages` (the web app, the API reference, the offline Swagger UI)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from specinpaint.app.service import EditorService


def get_service(request: Request) -> EditorService:
    """The app's service (set by `create_app`)."""
    return request.app.state.service


Service = Annotated[EditorService, Depends(get_service)]
