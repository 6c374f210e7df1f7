"""`Editor`: the editing operations on a `Pipeline`, by composition.

The pipeline composes the plugins and turns audio into codes and back; the editor holds it and
adds what editing needs on top: the geometry (windows, levels, axes), the bundle's label
vocabulary, region masks, long audio, and the operations (generate, inpaint, attenuate, noise,
sample packs), each in a module of its own. Codes are checked once per operation, where they
enter (`codes_of`); everything after works on checked codes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch

from specinpaint.core.codemaps import Codemaps
from specinpaint.core.conditioning import NULL_LABEL, Conditioning
from specinpaint.core.pipeline import Pipeline
from specinpaint.core.prior import SamplingOptions

from . import attenuate as _attenuate
from . import generate as _generate
from . import inpaint as _inpaint
from . import noise as _noise
from . import sample_pack as _sample_pack
from . import windows
from .geometry import Geometry
from .inference import inference
from .labels import LabelVocabulary
from .masks import RegionLike, region_masks
from .options import sampling_options
from .pitch_estimate import estimate_pitch_labels
from .plan import plan_resample
from .resample import resample
from .results import EditResult, SamplePack

#: What an operation edits: codemaps (checked), or audio [B, N] / [N] of any length (encoded).
Source = Codemaps | torch.Tensor | Any
#: A pitch (MIDI) or family (name or index): one value for every note, one per note, or None.
Labels = int | str | Sequence[int | str | None] | None


class Editor:
    """Generate, inpaint, attenuate, noise and sample-pack with ``pipeline``'s priors.

    ``geometry`` and ``labels`` are read once, when the editor is made: make a new editor after
    changing the pipeline's plugins (loading other weights into them is fine)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.geometry = Geometry.of(pipeline)
        self.labels = LabelVocabulary.of(pipeline)

    def __repr__(self) -> str:
        return f"Editor({self.pipeline.config.name!r}, levels={self.geometry.levels})"

    # -- operations (one module each) ----------------------------------------------------------
    def generate(
        self, pitch: int | Sequence[int] | None = None, family: str | int | Sequence[str | int] | None = None,
        n: int = 1, sampling: SamplingOptions | Mapping[str, Any] | None = None, *, columns: int | None = None,
        decode: bool = True, progress: bool = False,
    ) -> EditResult:
        """``n`` new notes from scratch, one batch; ``columns`` > window makes longer notes;
        ``progress`` shows a bar over the prior calls on stderr."""
        return _generate.generate(self, pitch, family, n, sampling, columns=columns, decode=decode,
                                  progress=progress)

    def inpaint(
        self, source: Source, region: RegionLike, pitch: int | Sequence[int] | None = None,
        family: str | int | Sequence[str | int] | None = None, level: str = "top", sampler: str | None = None,
        temperature: float | None = None, top_p: float | None = None, seed: int | None = None, *,
        sampling: SamplingOptions | Mapping[str, Any] | None = None, dilate: int = 0, decode: bool = True,
        progress: bool = False,
    ) -> EditResult:
        """Resample the codes inside ``region`` under new labels (see `specinpaint.editing.inpaint`)."""
        return _inpaint.inpaint(self, source, region, pitch, family, level, sampler, temperature, top_p, seed,
                                sampling=sampling, dilate=dilate, decode=decode, progress=progress)

    def attenuate(self, source: Source, region: RegionLike, amount_db: float = 20.0, *,
                  pitch: Labels = None, family: Labels = None, decode: bool = True) -> EditResult:
        """Lower the level inside ``region`` by ``amount_db`` dB and re-encode (``pitch``/``family``:
        the note's labels, for a quantizer whose decoder takes them)."""
        return _attenuate.attenuate(self, source, region, amount_db, pitch=pitch, family=family, decode=decode)

    def noise(self, source: Source, region: RegionLike, level: str = "top", seed: int | None = None, *,
              pitch: Labels = None, family: Labels = None, dilate: int = 0, decode: bool = True) -> EditResult:
        """Fill ``region`` with uniformly random codes (the noise brush; ``pitch``/``family``: as in
        `attenuate`)."""
        return _noise.noise(self, source, region, level, seed, pitch=pitch, family=family, dilate=dilate,
                            decode=decode)

    def sample_pack(self, source: Source, pitches: Sequence[int], family: str | int | None = None,
                    sampling: SamplingOptions | Mapping[str, Any] | None = None) -> SamplePack:
        """One note per pitch keeping the first example's coarsest codes, in one batch."""
        return _sample_pack.sample_pack(self, source, pitches, family, sampling)

    # -- building blocks the operations share ----------------------------------------------------
    def codes_of(self, source: Source) -> tuple[Codemaps, int]:
        """(codes on the CPU, coarsest columns): codemaps are checked, audio is encoded (any
        length)."""
        if isinstance(source, Codemaps):
            return source.to("cpu"), self.geometry.check_codes(source)
        codes = self.encode_long(torch.as_tensor(source))
        return codes, codes[self.geometry.levels[0]].shape[-1]

    def check_codes(self, codes: Codemaps) -> int:
        """Validate codes against this pipeline; return the number of coarsest columns."""
        return self.geometry.check_codes(codes)

    def region_masks(self, region: RegionLike, columns: int, *, level: str | None = None, batch: int = 1,
                     dilate: int = 0) -> dict[str, torch.Tensor]:
        """Bool masks [B, F, T] per level of the cells ``region`` lets an edit of ``level`` change."""
        return region_masks(self.geometry, region, columns, level=level, batch=batch, dilate=dilate)

    def sampling_options(self, sampling: SamplingOptions | Mapping[str, Any] | None = None,
                         **changes: Any) -> SamplingOptions:
        """The bundle's sampling defaults updated by ``sampling``, then by non-None ``changes``."""
        return sampling_options(self.pipeline.config.sampling, sampling, **changes)

    def resample(
        self, codes: Codemaps, columns: int, masks: Mapping[str, torch.Tensor], level: str,
        conditioning: Conditioning, options: SamplingOptions, *, decode: bool = True, progress: bool = False,
    ) -> EditResult:
        """Plan and run the prior calls that resample ``level`` and the finer levels under
        ``masks``, then decode: the shared core of generate, inpaint and sample packs."""
        plan = plan_resample(self.geometry, self.pipeline.priors, masks, level, options)
        with self.inference():
            new = resample(self.geometry, codes, masks, plan, conditioning, self.pipeline.device, progress)
        return self.result(new, columns, masks, decode, conditioning)

    def result(self, codes: Codemaps, columns: int, masks: Mapping[str, torch.Tensor], decode: bool,
               conditioning: Conditioning | None = None) -> EditResult:
        """The `EditResult` of checked codes, decoded (with the notes' labels, for a decoder that
        takes them) unless ``decode`` is False."""
        with self.inference():
            audio = (windows.decode_long(self.pipeline, self.geometry, codes, columns, conditioning=conditioning)
                     if decode else None)
        return EditResult(audio, codes, self.geometry.sample_rate, dict(masks))

    @contextlib.contextmanager
    def inference(self) -> Iterator[None]:
        """Eval mode and no autograd for one call (the pipeline's mode is restored after)."""
        with inference(self.pipeline):
            yield

    # -- audio and spectrograms of any length ----------------------------------------------------
    def encode_long(self, audio: torch.Tensor) -> Codemaps:
        """Audio [B, N] (or [N]) of any length → codemaps (window by window, see `windows`)."""
        with self.inference():
            return windows.encode_long(self.pipeline, self.geometry, audio)

    def decode_long(self, codes: Codemaps, length: int | None = None, *, pitch: Labels = None,
                    family: Labels = None) -> torch.Tensor:
        """Codemaps of any (>= one window) length → audio [B, length], windows cross-faded;
        ``pitch``/``family``: the notes' labels, for a quantizer whose decoder takes them
        (`Pipeline.decode_codes`; ignored otherwise)."""
        columns = self.check_codes(codes)
        conditioning = self.labels.conditioning(pitch, family, codes.batch_size)
        with self.inference():
            return windows.decode_long(self.pipeline, self.geometry, codes, columns, length, conditioning)

    def decode_spectrogram(self, codes: Codemaps, *, pitch: Labels = None, family: Labels = None) -> torch.Tensor:
        """Codemaps of any length → the raw spectrogram [B, C, F, T] of all their columns
        (``pitch``/``family``: as in `decode_long`)."""
        columns = self.check_codes(codes)
        conditioning = self.labels.conditioning(pitch, family, codes.batch_size)
        with self.inference():
            return windows.decode_spectrogram(self.pipeline, self.geometry, codes, columns, conditioning)

    def estimate_pitch(self, audio: torch.Tensor) -> list[int | None]:
        """A pitch label per note of audio ``[B, N]`` (or ``[N]``) that came without one: pYIN's
        estimate rounded to a MIDI note this bundle knows, None where there is none (see
        `specinpaint.editing.pitch_estimate`). Decoding with it keeps the note's harmonics where
        they were."""
        labels = estimate_pitch_labels(audio, self.geometry.sample_rate, self.labels.pitch_range)
        return [None if int(v) == NULL_LABEL else int(v) for v in labels]

    @property
    def level_channel(self) -> int:
        """Index of the representation's log-level channel (for images and attenuation)."""
        return _attenuate.level_channel(self.pipeline.representation)

    @property
    def db_per_log_unit(self) -> float:
        """dB per natural-log unit of the level channel."""
        return _attenuate.db_per_log_unit(self.pipeline.representation)
