"""Routes that answer files: the WAV and spectrogram PNG of codes, and sample packs (zip)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from specinpaint.app.api_models import CodesRequest, SamplePackRequest

from . import Service

router = APIRouter(prefix="/api", tags=["render"])
NO_STORE = {"Cache-Control": "no-store"}


@router.post("/audio", response_class=Response, responses={200: {"content": {"audio/wav": {}}}})
def audio(req: CodesRequest, service: Service) -> Response:
    """16-bit PCM WAV of the codes (decoded with ``pitch``/``family`` when the decoder takes labels)."""
    return Response(service.audio(req), media_type="audio/wav", headers=NO_STORE)


@router.post("/spectrogram", response_class=Response, responses={200: {"content": {"image/png": {}}}})
def spectrogram(req: CodesRequest, service: Service) -> Response:
    """PNG of the decoded log-magnitude: one pixel per frame, low frequencies at the bottom
    (``pitch``/``family`` as for the WAV)."""
    return Response(service.spectrogram(req), media_type="image/png", headers=NO_STORE)


@router.post("/sample-pack", response_class=Response, responses={200: {"content": {"application/zip": {}}}})
def sample_pack(req: SamplePackRequest, service: Service) -> Response:
    """Zip of ``{family}-{pitch}.wav``: the top codes kept, one bottom map per pitch (one batch)."""
    data, name = service.sample_pack(req)
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', **NO_STORE})
