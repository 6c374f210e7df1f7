"""GET /api/info: the pipeline's geometry, the labels its bundle offers and the server's limits."""

from __future__ import annotations

from fastapi import APIRouter

from specinpaint.app.api_models import InfoResponse

from . import Service

router = APIRouter(prefix="/api", tags=["info"])


@router.get("/info", response_model=InfoResponse)
def info(service: Service) -> InfoResponse:
    """Geometry of the loaded pipeline (for drawing regions), its families and pitch range (from the
    bundle's saved labels) and the server's limits."""
    return service.info()
