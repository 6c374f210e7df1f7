"""Pydantic request/response models of the HTTP API (validated before any inference runs).

Codemaps travel as JSON 2-D lists per level, rows = frequency (low → high), columns = time,
e.g. ``{"top": [[...32 rows of 4...]], "bottom": [[...64 rows of 8...]]}`` (one note).

Families and pitches are checked here only for their form (a short name, a MIDI number); which ones
a bundle offers comes from its saved labels (``GET /api/info``), checked by the service (a 422
naming the allowed ones).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from specinpaint.core.conditioning import MIDI_MAX, MIDI_MIN

CodesJson = dict[str, list[list[int]]]
MAX_SEED = 2**31 - 1


class Strict(BaseModel):
    """Unknown fields and NaN/Infinity (which Python's JSON parser accepts) are 422s naming the field."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Labels(Strict):
    """Class conditioning; ``None`` = unconditioned (the priors' null class)."""

    pitch: int | None = Field(None, ge=MIDI_MIN, le=MIDI_MAX, description="MIDI pitch, in the bundle's pitch_range")
    family: str | None = Field(None, min_length=1, max_length=64,
                               description="instrument family, one of the bundle's families (GET /api/info)")


class Sampling(Strict):
    """Sampling options; an option left out (None) is the bundle's own default (its config's
    ``sampling``: the guidance and filters its recipe was measured with); ``seed`` None = the
    server draws one and returns it."""

    temperature: float | None = Field(None, gt=0, le=10)
    top_k: int | None = Field(None, ge=0, le=4096)
    top_p: float | None = Field(None, ge=0, le=1)
    guidance_scale: float | None = Field(None, ge=0, le=20)
    guidance_drop: Literal["both", "family"] | None = None
    pitch_guidance_scale: float | None = Field(None, ge=0, le=20)
    sampler: Literal["autoregressive", "parallel"] | None = None
    seed: int | None = Field(None, ge=0, le=MAX_SEED)

    def options(self, seed: int) -> dict:
        given = self.model_dump(include={"temperature", "top_k", "top_p", "guidance_scale", "guidance_drop",
                                         "pitch_guidance_scale", "sampler"}, exclude_none=True)
        return {**given, "seed": seed}


class GenerateRequest(Labels, Sampling):
    columns: int | None = Field(None, ge=1, description="top columns (default: one model window)")


class RegionModel(Strict):
    """Either a box in seconds × Hz (an axis left out = whole axis), or explicit 0/1 masks per
    codemap level (rows × columns of that level)."""

    time_s: tuple[float, float] | None = None
    freq_hz: tuple[float, float] | None = None
    masks: dict[str, list[list[int]]] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> RegionModel:
        box = self.time_s is not None or self.freq_hz is not None
        if box and self.masks is not None:
            raise ValueError("give either time_s/freq_hz or masks, not both")
        if not box and self.masks is None:
            raise ValueError("region needs time_s and/or freq_hz, or masks")
        return self


class LevelAlias(BaseModel):
    """Requests that name a codemap level accept ``layer``, the field's former name, as well."""

    @model_validator(mode="before")
    @classmethod
    def _former_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and "layer" in data and "level" not in data:
            data = {("level" if key == "layer" else key): value for key, value in data.items()}
        return data


class CodesRequest(Labels):
    """Codes to render; the labels reach a quantizer whose decoder takes them (else ignored)."""

    codes: CodesJson


class InpaintRequest(LevelAlias, Labels, Sampling):
    codes: CodesJson
    region: RegionModel
    level: str = Field("top", description="codemap level to resample (finer levels follow)")
    dilate: int = Field(0, ge=0, le=4, description="grow the region by this many cells")


class AttenuateRequest(Labels):
    """Attenuation decodes the codes first: the labels reach a decoder that takes them."""

    codes: CodesJson
    region: RegionModel
    amount_db: float = Field(20.0, ge=0, le=120)


class NoiseRequest(LevelAlias, Strict):
    """The noise brush: uniformly random codes inside the region (``level`` and the finer cells
    under it); ``seed`` None = the server draws one and returns it."""

    codes: CodesJson
    region: RegionModel
    level: str = Field("top", description="codemap level whose cells the region selects (finer levels follow)")
    dilate: int = Field(0, ge=0, le=4)
    seed: int | None = Field(None, ge=0, le=MAX_SEED)


class RegionMasksRequest(LevelAlias, Strict):
    """Which cells a region selects, without editing anything (the web app's preview)."""

    region: RegionModel
    level: str = "top"
    dilate: int = Field(0, ge=0, le=4)
    columns: int | None = Field(None, ge=1, description="top columns of the note (default: one model window)")


class SamplePackRequest(Sampling):
    codes: CodesJson
    family: str | None = Field(None, min_length=1, max_length=64)
    min_pitch: int = Field(..., ge=MIDI_MIN, le=MIDI_MAX)
    max_pitch: int = Field(..., ge=MIDI_MIN, le=MIDI_MAX, description="inclusive")

    @model_validator(mode="after")
    def _ordered(self) -> SamplePackRequest:
        if self.max_pitch < self.min_pitch:
            raise ValueError(f"max_pitch {self.max_pitch} < min_pitch {self.min_pitch}")
        return self


class DatasetSampleRequest(Strict):
    """Label constraints; all optional. ``octave`` follows MIDI (C4 = 60 is octave 4)."""

    pitch: int | None = Field(None, ge=0, le=127)
    pitch_class: int | None = Field(None, ge=0, le=11)
    octave: int | None = Field(None, ge=-1, le=9)
    family: str | None = Field(None, min_length=1, max_length=64)
    seed: int | None = Field(None, ge=0, le=MAX_SEED)


class CodesResponse(BaseModel):
    """Codes of one note, plus what produced them."""

    codes: CodesJson
    seed: int | None = None
    masks: dict[str, list[list[int]]] | None = Field(None, description="cells the edit was allowed to change")
    labels: dict[str, Any] = Field(default_factory=dict)


class MasksResponse(BaseModel):
    masks: dict[str, list[list[int]]] = Field(description="0/1 cells per level (rows low → high × columns)")


class LevelInfo(BaseModel):
    rows: int
    columns: int
    num_codes: int


class InfoResponse(BaseModel):
    name: str
    sample_rate: int
    window_seconds: float
    window_columns: int
    column_seconds: float
    levels: dict[str, LevelInfo]
    families: list[str] = Field(description="the families the bundle offers (from its saved labels)")
    pitch_range: tuple[int, int] = Field(description="MIDI pitches the bundle offers, inclusive")
    labels_from_bundle: bool = Field(description="False: the bundle saved no labels; NSynth's are offered")
    bin_frequencies_hz: list[float]
    frame_times_s: list[float]
    dataset_notes: int
    limits: dict[str, float]
    sampling: dict[str, float | str | None] = Field(
        description="the bundle's own sampling, used for every option a request leaves out: guidance_scale, "
        "guidance_drop, pitch_guidance_scale, temperature, top_k, top_p, sampler")
