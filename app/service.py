"""`EditorService`: what the HTTP routes share, injected into each of them.

It holds the `Editor`, the lock that runs one inference at a time (torch modules are not
re-entrant, and a CPU box gains nothing from two edits at once), the server's limits and the
optional dataset codes, and turns validated requests into editor calls: codes and regions from
JSON, labels checked against the bundle's vocabulary, seeds drawn when none is given. The server
keeps no per-user state: the web page holds the codes and its undo history.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import torch

from specinpaint.core.codemaps import Codemaps
from specinpaint.core.errors import SpecinpaintError
from specinpaint.core.region import Region
from specinpaint.editing import Editor

from .api_models import (
    MAX_SEED,
    AttenuateRequest,
    CodesJson,
    CodesRequest,
    CodesResponse,
    DatasetSampleRequest,
    GenerateRequest,
    InfoResponse,
    InpaintRequest,
    LevelInfo,
    MasksResponse,
    NoiseRequest,
    RegionMasksRequest,
    RegionModel,
    SamplePackRequest,
)
from .dataset_codes import Constraints, DatasetCodes
from .http_errors import HTTPProblem
from .settings import ServerSettings

T = TypeVar("T")

#: The bundle's sampling options that `/api/info` reports (what a request that leaves them out gets).
BUNDLE_SAMPLING_SHOWN = {"guidance_scale", "guidance_drop", "pitch_guidance_scale", "temperature", "top_k",
                         "top_p", "sampler"}


class EditorService:
    """One loaded pipeline behind the API (its editor in eval mode), with the server's limits."""

    def __init__(self, editor: Editor, settings: ServerSettings, dataset: DatasetCodes | None = None) -> None:
        self.editor, self.settings, self.dataset = editor, settings, dataset
        editor.pipeline.eval()
        self.lock = threading.Lock()
        geometry = editor.geometry
        self.max_columns = max(geometry.window_columns, int(settings.max_duration_s / geometry.column_seconds + 1e-9))

    # -- shared steps ----------------------------------------------------------------------------
    def run_locked(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn`` under the inference lock (with the configured CPU threads)."""
        with self.lock:
            threads = self.settings.torch_threads
            if threads is not None and torch.get_num_threads() != threads:
                torch.set_num_threads(threads)  # per worker thread under OpenMP
            return fn(*args, **kwargs)

    @staticmethod
    def seed(value: int | None) -> int:
        """The request's seed, or a fresh one the answer reports."""
        return value if value is not None else secrets.randbelow(MAX_SEED)

    def codes(self, data: CodesJson) -> Codemaps:
        """One note's codes from JSON: rectangular integer lists per level, checked against the
        pipeline (422) and the duration limit (413)."""
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
            columns = self.editor.check_codes(codes)
        except SpecinpaintError as exc:
            raise HTTPProblem(422, f"codes: {exc}") from None
        if columns > self.max_columns:
            raise HTTPProblem(413, f"codes span {columns} columns; this server accepts at most {self.max_columns}")
        return codes

    @staticmethod
    def region(model: RegionModel) -> Region | dict[str, Any]:
        """A box in seconds × Hz, or explicit level masks (painted cells)."""
        if model.masks is not None:
            return dict(model.masks)
        try:
            return Region(time_s=model.time_s, freq_hz=model.freq_hz)
        except SpecinpaintError as exc:
            raise HTTPProblem(422, str(exc)) from None

    def check_labels(self, pitch: int | None = None, family: str | None = None) -> None:
        """422 unless the family and pitch are among those the bundle offers (the message names
        them; it never repeats what was sent)."""
        labels = self.editor.labels
        if family is not None and family not in labels.offered:
            raise HTTPProblem(422, f"family: not one of this bundle's families: {', '.join(labels.offered)}")
        lo, hi = labels.pitch_range
        if pitch is not None and not lo <= pitch <= hi:
            raise HTTPProblem(422, f"pitch: outside this bundle's pitch range {lo}..{hi}")

    def check_columns(self, columns: int | None) -> None:
        if columns is not None and not self.editor.geometry.window_columns <= columns <= self.max_columns:
            raise HTTPProblem(422, f"columns must be in {self.editor.geometry.window_columns}..{self.max_columns}")

    # -- what the routes answer (one method per route) -------------------------------------------
    def info(self) -> InfoResponse:
        """Geometry of the pipeline (for drawing regions), its labels and the server's limits."""
        editor, geometry = self.editor, self.editor.geometry
        return InfoResponse(
            name=editor.pipeline.config.name,
            sample_rate=geometry.sample_rate,
            window_seconds=geometry.window_seconds,
            window_columns=geometry.window_columns,
            column_seconds=geometry.column_seconds,
            levels={lvl: LevelInfo(rows=shape[0], columns=shape[1], num_codes=geometry.num_codes[lvl])
                    for lvl, shape in geometry.window_shapes.items()},
            families=list(editor.labels.offered),
            pitch_range=editor.labels.pitch_range,
            labels_from_bundle=editor.labels.from_bundle,
            bin_frequencies_hz=geometry.bin_frequencies().tolist(),
            frame_times_s=geometry.frame_times(geometry.window_columns).tolist(),
            dataset_notes=len(self.dataset) if self.dataset is not None else 0,
            limits={
                "max_upload_bytes": self.settings.max_upload_bytes,
                "max_duration_s": self.settings.max_duration_s,
                "max_columns": self.max_columns,
                "rate_limit_per_minute": self.settings.rate_limit_per_minute,
            },
            sampling=editor.sampling_options().model_dump(include=BUNDLE_SAMPLING_SHOWN),
        )

    def generate(self, req: GenerateRequest) -> CodesResponse:
        self.check_columns(req.columns)
        self.check_labels(req.pitch, req.family)
        seed = self.seed(req.seed)
        result = self.run_locked(self.editor.generate, req.pitch, req.family, 1, req.options(seed),
                                 columns=req.columns, decode=False)
        return CodesResponse(codes=codes_json(result.codes), seed=seed,
                             labels={"pitch": req.pitch, "family": req.family})

    def sample_from_dataset(self, req: DatasetSampleRequest) -> CodesResponse:
        if self.dataset is None or len(self.dataset) == 0:
            raise HTTPProblem(404, "this server was started without dataset codes")
        self.check_labels(family=req.family)
        seed = self.seed(req.seed)
        codes, labels = self.dataset.sample(Constraints(req.pitch, req.pitch_class, req.octave, req.family), seed)
        return CodesResponse(codes=codes_json(codes), seed=seed, labels=labels)

    def analyze(self, data: bytes, filename: str) -> CodesResponse:
        """Encode uploaded audio (mono by averaging, resampled, the training path)."""
        limit = self.settings.max_upload_bytes
        if len(data) > limit:
            raise HTTPProblem(413, f"upload exceeds the {limit}-byte limit")
        if not data:
            raise HTTPProblem(422, "uploaded file is empty")
        rate = self.editor.geometry.sample_rate
        samples, notes = _decode_upload(data, rate, filename, self.settings.max_duration_s)
        duration = samples.shape[-1] / rate
        if duration > self.settings.max_duration_s:
            raise HTTPProblem(413, f"audio is {duration:.1f} s long; the limit is {self.settings.max_duration_s:g} s")
        codes = self.run_locked(self.editor.encode_long, samples)
        labels: dict[str, Any] = {"duration_s": round(duration, 3)}
        # the pitch the sound most likely has (pYIN), for the decoder that draws its harmonics
        # from the label; null when there is no usable estimate
        labels["pitch"] = self.editor.estimate_pitch(samples)[0]
        if notes:
            labels["warnings"] = notes  # what was done to the audio (e.g. scaled down to full scale)
        return CodesResponse(codes=codes_json(codes), labels=labels)

    def inpaint(self, req: InpaintRequest) -> CodesResponse:
        codes = self.codes(req.codes)
        self.check_labels(req.pitch, req.family)
        seed = self.seed(req.seed)
        result = self.run_locked(
            self.editor.inpaint, codes, self.region(req.region), req.pitch, req.family, level=req.level,
            sampling=req.options(seed), dilate=req.dilate, decode=False,
        )
        return CodesResponse(codes=codes_json(result.codes), seed=seed, masks=masks_json(result.masks),
                             labels={"pitch": req.pitch, "family": req.family, "level": req.level})

    def attenuate(self, req: AttenuateRequest) -> CodesResponse:
        codes = self.codes(req.codes)
        self.check_labels(req.pitch, req.family)
        result = self.run_locked(self.editor.attenuate, codes, self.region(req.region), req.amount_db,
                                 pitch=req.pitch, family=req.family, decode=False)
        return CodesResponse(codes=codes_json(result.codes), masks=masks_json(result.masks))

    def noise(self, req: NoiseRequest) -> CodesResponse:
        codes = self.codes(req.codes)
        seed = self.seed(req.seed)
        result = self.run_locked(self.editor.noise, codes, self.region(req.region), req.level, seed,
                                 dilate=req.dilate, decode=False)
        return CodesResponse(codes=codes_json(result.codes), seed=seed, masks=masks_json(result.masks),
                             labels={"level": req.level})

    def region_masks(self, req: RegionMasksRequest) -> MasksResponse:
        """The cells a region selects on every level (no inference: no lock)."""
        self.check_columns(req.columns)
        columns = req.columns or self.editor.geometry.window_columns
        masks = self.editor.region_masks(self.region(req.region), columns, level=req.level, dilate=req.dilate)
        return MasksResponse(masks=masks_json(masks))

    def audio(self, req: CodesRequest) -> bytes:
        """16-bit PCM WAV of one note's codes."""
        from specinpaint.core.audio import wav_bytes

        codes = self.codes(req.codes)
        self.check_labels(req.pitch, req.family)
        audio = self.run_locked(self.editor.decode_long, codes, pitch=req.pitch, family=req.family)
        return wav_bytes(audio[0], self.editor.geometry.sample_rate)

    def spectrogram(self, req: CodesRequest) -> bytes:
        """PNG of the decoded level: one pixel per frame and row, low frequencies at the bottom."""
        from .images import log_magnitude_png

        codes = self.codes(req.codes)
        self.check_labels(req.pitch, req.family)
        spec = self.run_locked(self.editor.decode_spectrogram, codes, pitch=req.pitch, family=req.family)
        return log_magnitude_png(spec[0, self.editor.level_channel], self.editor.db_per_log_unit)

    def sample_pack(self, req: SamplePackRequest) -> tuple[bytes, str]:
        """(zip of ``{family}-{pitch}.wav``, file name)."""
        pitches = list(range(req.min_pitch, req.max_pitch + 1))
        if len(pitches) > self.settings.max_pack_pitches:
            raise HTTPProblem(422, f"{len(pitches)} pitches requested; the limit is {self.settings.max_pack_pitches}")
        self.check_labels(req.min_pitch, req.family)
        self.check_labels(req.max_pitch)
        codes = self.codes(req.codes)
        pack = self.run_locked(self.editor.sample_pack, codes, pitches, req.family, req.options(self.seed(req.seed)))
        return pack.to_zip(), f"specinpaint-{pack.family}-{pitches[0]}-{pitches[-1]}.zip"


def codes_json(codes: Codemaps) -> CodesJson:
    return {level: codes[level][0].tolist() for level in codes.levels}


def masks_json(masks: dict[str, torch.Tensor]) -> dict[str, list[list[int]]]:
    return {level: m[0].int().tolist() for level, m in masks.items()}


def _decode_upload(data: bytes, sample_rate: int, label: str, max_seconds: float) -> tuple[torch.Tensor, list[str]]:
    """Uploaded bytes → (mono float32 [N] at ``sample_rate`` by core.audio's policy, notes on what
    was done to it); too-long audio is a 413, refused from its header before decoding."""
    from specinpaint.core.audio import AudioTooLongError, read_audio_bytes

    try:
        return read_audio_bytes(data, sample_rate, label, max_seconds)
    except AudioTooLongError as exc:
        raise HTTPProblem(413, str(exc).split(": ", 1)[-1]) from None
