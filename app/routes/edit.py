"""Routes that answer codes: generate, pick a dataset note, analyse audio, inpaint, attenuate,
noise, and the region preview (which cells a region selects)."""

from __future__ import annotations

from fastapi import APIRouter, File, UploadFile

from specinpaint.app.api_models import (
    AttenuateRequest,
    CodesResponse,
    DatasetSampleRequest,
    GenerateRequest,
    InpaintRequest,
    MasksResponse,
    NoiseRequest,
    RegionMasksRequest,
)

from . import Service

router = APIRouter(prefix="/api", tags=["edit"])


@router.post("/generate", response_model=CodesResponse)
def generate(req: GenerateRequest, service: Service) -> CodesResponse:
    """A new note from scratch (top prior, then bottom prior on the new top)."""
    return service.generate(req)


@router.post("/sample-from-dataset", response_model=CodesResponse)
def sample_from_dataset(req: DatasetSampleRequest, service: Service) -> CodesResponse:
    """A random dataset note matching the label constraints (404 when none matches)."""
    return service.sample_from_dataset(req)


@router.post("/analyze", response_model=CodesResponse)
def analyze(service: Service, audio: UploadFile = File(..., description="WAV/FLAC/OGG file")) -> CodesResponse:
    """Encode an uploaded sound (mono by averaging, resampled, same spectrogram path as training)."""
    data = audio.file.read(service.settings.max_upload_bytes + 1)
    return service.analyze(data, audio.filename or "upload")


@router.post("/inpaint", response_model=CodesResponse)
def inpaint(req: InpaintRequest, service: Service) -> CodesResponse:
    """Resample the codes inside a region (level top: top then bottom; level bottom: bottom only)."""
    return service.inpaint(req)


@router.post("/attenuate", response_model=CodesResponse)
def attenuate(req: AttenuateRequest, service: Service) -> CodesResponse:
    """Lower a region by ``amount_db`` in the spectrogram and re-encode (the codes are decoded with
    ``pitch``/``family`` when the decoder takes labels)."""
    return service.attenuate(req)


@router.post("/noise", response_model=CodesResponse)
def noise(req: NoiseRequest, service: Service) -> CodesResponse:
    """The noise brush: uniformly random codes inside the region (seeded)."""
    return service.noise(req)


@router.post("/region-masks", response_model=MasksResponse)
def region_masks(req: RegionMasksRequest, service: Service) -> MasksResponse:
    """The cells of every level a region selects, for previewing an edit (changes nothing)."""
    return service.region_masks(req)
