"""``mel-if``, ``gansynth-mel-if`` and ``paper-mel-if``: GANSynth's Mel-IF with the paper's options.

Encode (magenta's recipe): STFT in the chosen layout → ``|X|``, IF → log-mel **power**
``log((|X| + eps)² @ M + eps)`` and mel IF ``IF(cumsum(IF·π) @ M)`` (computed from the mapped phase
increments, the same value without float32 drift) → optional phase threshold (``clean``).
Channels: 0 = log-mel power, 1 = mel IF in [-1, 1] (frame 0: raw phase / π, as magenta).

Decode (``inverse``):

* ``pseudo``: magenta's exact inverse (``mel2l = Mᵀ·diag(1/colsum(M·Mᵀ))`` for power and phase,
  ``|X| = sqrt(power + eps)``); kept for fidelity.
* ``nnls``: non-negative least-squares linear power (``exp(level) - eps`` as target, ``eps`` removed again
  from the magnitude; bins at or below ``phase_threshold`` count as silence) with magenta's mel-IF phase.
* ``griffin-lim`` (default): the NNLS magnitude with ``griffin_lim_iters`` fast Griffin-Lim iterations
  started from the mel-IF phase. Wins on every measured note.

``harmonic_inverse`` (nnls, griffin-lim; ignored by pseudo): when ``decode`` is given the notes'
pitches, NNLS starts from a comb on the pitch's harmonics at the STFT's own resolution. A mel band
wider than the harmonic spacing pools several partials into one value, and a pitch-blind inverse
spreads it evenly over the band; the comb puts it back on the partials (measured:
docs/results/quality-cpu.md, section 22).

The three inverses' measured quality and cost: docs/results/measurements-from-docstrings.md.

The threshold is applied by ``encode`` and again by ``decode``/``clean`` (idempotent), so every entry point
(dataset, upload, model output) sees the same invariant.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from specinpaint.core.conditioning import NULL_LABEL
from specinpaint.core.harmonic_comb import harmonic_comb
from specinpaint.core.representation import Representation

from .checks import apply_phase_threshold, check_audio, check_spectrogram
from .chunking import in_chunks
from .mel_filterbank import mel_band_centres_hz, mel_weight_matrix
from .mel_inverse import MelInverter, griffin_lim
from .params import PAPER_PHASE_THRESHOLD, StftParams
from .phase import complex_planes, fast_abs, phase_increments, phase_increments_to_if, polar, safe_angle
from .stft_layout import StftLayout
from .workspace import Workspace

Inverse = Literal["pseudo", "nnls", "griffin-lim"]


class MelIFParams(StftParams):
    """Mel-IF parameters (defaults: GANSynth, 16 kHz, 1024 mel bands, 700 Hz break, no threshold)."""

    n_mels: int = Field(1024, ge=1, description="mel bands = spectrogram rows")
    f_min_hz: float = Field(0.0, ge=0, description="lower edge of the mel bands")
    f_max_hz: float = Field(8000.0, gt=0, description="upper edge of the mel bands (at most sample_rate/2)")
    mel_break_frequency_hz: float = Field(
        700.0, gt=0, description="f_b in mel = Q·ln(1 + f/f_b); 700 = GANSynth (Q 1127), lower = more "
        "low-frequency resolution (the paper: ~275)",
    )
    min_band_width_bins: float = Field(
        1.5, ge=0, description="bands narrower than this many linear bins are widened symmetrically in mel",
    )
    magenta_edge_aliasing: bool = Field(
        False, description="reproduce magenta's in-place edge bug (quasi-linear bank below ~5 kHz); see "
        "mel_filterbank",
    )
    restore_dropped_bin: bool = Field(
        False, description="rebuild the dropped DC/Nyquist bin from the window zero (see stft-if); off for "
        "Mel-IF: on an estimated spectrum it adds a low-frequency error (pseudo SC 0.07 → 0.23 at MIDI 36) and "
        "Griffin-Lim leaves that bin free anyway",
    )
    inverse: Inverse = Field("griffin-lim", description="mel → audio: pseudo (magenta), nnls, griffin-lim")
    nnls_iters: int = Field(10, ge=0, description="multiplicative NNLS iterations (nnls, griffin-lim)")
    griffin_lim_iters: int = Field(32, ge=0, description="fast Griffin-Lim iterations (griffin-lim)")
    griffin_lim_momentum: float = Field(0.99, ge=0, lt=1, description="fast Griffin-Lim momentum")
    harmonic_inverse: bool = Field(
        False, description="start NNLS from a comb on the note's harmonics when decoding with a known pitch "
        "(nnls, griffin-lim; the pseudo-inverse has no start and ignores it): a mel band's energy goes back "
        "onto the partials it pooled",
    )
    harmonic_inverse_width_bins: float = Field(
        1.0, gt=0, description="Gaussian width of each harmonic of the inversion's comb, in FFT bins",
    )
    harmonic_inverse_floor: float = Field(
        0.05, gt=0, le=1, description="the comb's value between harmonics (room for noise and inharmonic partials)",
    )

    @model_validator(mode="after")
    def _check_bands(self) -> MelIFParams:
        if not self.f_min_hz < self.f_max_hz <= self.sample_rate / 2:
            raise ValueError(
                f"mel band edges need f_min_hz < f_max_hz <= sample_rate/2 = {self.sample_rate / 2}, "
                f"got {self.f_min_hz} and {self.f_max_hz}"
            )
        return self


class MelIF(Representation):
    """GANSynth-style Mel-IF (log-mel power + mel instantaneous frequency) with a selectable inverse."""

    description: ClassVar[str] = "Mel-IF (log-mel power + mel IF) with break frequency, phase threshold, inverse"
    channel_names: ClassVar[tuple[str, ...]] = ("log_mel_power", "mel_if")
    level_is_power: ClassVar[bool] = True
    decodes_with_pitch: ClassVar[bool] = True

    Params: ClassVar[type[MelIFParams]] = MelIFParams

    def __init__(self, params: MelIFParams) -> None:
        super().__init__(params)
        self.p = params
        self.stft = StftLayout(params.n_fft, params.hop_length, params.layout)
        weights = mel_weight_matrix(**self._bank_args())
        self.mel = MelInverter(weights)
        self.workspace = Workspace()  # scratch buffers of the no-gradient fast paths

    def _bank_args(self) -> dict:
        p = self.p
        return dict(
            n_mels=p.n_mels, n_fft=p.n_fft, sample_rate=p.sample_rate, f_min_hz=p.f_min_hz, f_max_hz=p.f_max_hz,
            break_hz=p.mel_break_frequency_hz, min_band_width_bins=p.min_band_width_bins,
            magenta_edge_aliasing=p.magenta_edge_aliasing,
        )

    @property
    def sample_rate(self) -> int:
        return self.p.sample_rate

    def output_shape(self, num_samples: int) -> tuple[int, int, int]:
        return (2, self.p.n_mels, self.stft.num_frames(num_samples))

    def bin_frequencies_hz(self) -> torch.Tensor:
        """Where each band's energy comes from. The filterbank is laid on the grid
        ``linspace(0, sr/2, n_fft/2)`` (magenta's recipe) while the STFT rows it weighs sit elsewhere
        (the magenta layout drops DC: row k is at (k+1)·sr/n_fft), so the nominal centres are moved
        onto the rows' true frequencies: one FFT bin (7.8 Hz at 2048) higher in the magenta layout,
        which is a quarter of the harmonic spacing of MIDI 24."""
        nominal = mel_band_centres_hz(**self._bank_args())
        grid = np.linspace(0.0, self.p.sample_rate / 2, self.p.n_fft // 2)
        rows_hz = self.stft.bin_frequencies_hz(self.p.sample_rate).double().numpy()
        return torch.from_numpy(np.interp(nominal, grid, rows_hz)).float()

    def frequency_resolution_hz(self) -> float:
        return self.p.sample_rate / self.p.n_fft

    def frame_times_s(self, num_frames: int) -> torch.Tensor:
        return (self.stft.frame_centres(num_frames) / self.p.sample_rate).float()

    def clean(self, spec: torch.Tensor) -> torch.Tensor:
        return apply_phase_threshold(spec, self.p.phase_threshold)

    # -- encode -------------------------------------------------------------------------------
    def _values_per_note(self, num_samples: int) -> int:
        return (self.p.n_fft // 2 + 1) * self.stft.num_frames(num_samples)

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio [B, N] → [B, 2, n_mels, T] (phase threshold applied)."""
        audio = check_audio(audio, self.stft.min_samples())
        return in_chunks(self._encode, audio, self._values_per_note(audio.shape[-1]))

    def _encode(self, audio: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """One slice; ``out`` (optional) is where the caller wants the result."""
        fast = not (torch.is_grad_enabled() and audio.requires_grad)
        stft = self.stft.to_layout(self.stft.analysis(audio, scratch=fast))  # [B, F, T], frame-major
        if not fast:
            magnitude = fast_abs(stft) + self.p.eps
            mel_power = self.mel.forward_power(magnitude * magnitude)
            level = torch.log(mel_power + self.p.eps)
            increments = phase_increments(safe_angle(stft))  # wrapped phase steps, frame 0 raw
            mel_if = phase_increments_to_if(self.mel.to_mel(increments, dim=1))
            spec = torch.stack([level, mel_if], dim=1)
        else:
            spec = self._encode_fast(stft, out if self.p.layout == "magenta" else None)
        return self.clean(self.stft.expand_frames(spec))

    def _encode_fast(self, stft: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """The same values without gradients, laid out for speed: frequency leads ([F, B, T] planes, one
        sparse product each, no re-layout copies); the complex STFT is split once into contiguous real
        and imaginary planes, on which ``atan2`` (``safe_angle``'s values: silence at 0) and
        ``sqrt(re² + im²)`` (``fast_abs``) vectorise fully (``angle`` wastes half of every SIMD register
        on interleaved complex values: ~2× slower); elementwise steps run in place (at these sizes
        allocations and memory passes cost as much as the arithmetic). Transcendental functions
        (log, exp, sqrt, cos, sin) only ever see contiguous tensors: on strided ones they run ~6× slower
        on 2 cores once anything in the process has called ``torch.set_num_threads`` (measured with
        torch 2.13's MKL build, which then turns MKL's dynamic threading off and nests its vector-math
        threads inside torch's parallel loops); the server and the benchmarks do call it."""
        bins, batch, frames = stft.shape[1], stft.shape[0], stft.shape[2]
        scratch = self._scratch_getter(stft.real)
        # real, imaginary: [F, B, T] each; silent frames' -0.0 made +0.0 (phase 0, as safe_angle)
        real, imag = complex_planes(stft.transpose(0, 1), out=scratch("planes", (2, bins, batch, frames)))
        linear = scratch("linear", (2, bins, batch, frames))  # power, phase steps
        magnitude = torch.mul(real, real, out=scratch("magnitude", real.shape))
        magnitude.addcmul_(imag, imag).sqrt_().add_(self.p.eps)
        torch.mul(magnitude, magnitude, out=linear[0])
        steps = (bins, batch, frames - 1)
        phase = torch.atan2(imag, real, out=scratch("phase", real.shape))
        phase_increments(phase, out=linear[1], scratch=scratch("turns", steps))
        mel = scratch("mel", (2, self.p.n_mels, batch, frames))
        for channel in range(2):
            self.mel.to_mel(linear[channel], dim=0, out=mel[channel])
        spec = mel.new_empty((batch, 2, self.p.n_mels, frames)) if out is None else out  # never scratch
        spec[:, 0].transpose(0, 1).copy_(mel[0].add_(self.p.eps).log_())
        phase_increments_to_if(
            mel[1], out=spec[:, 1].transpose(0, 1), scratch=scratch("mel_turns", (self.p.n_mels, *steps[1:]))
        )
        return spec

    def _scratch_getter(self, like: torch.Tensor):
        """``scratch(name, shape)``: a reusable buffer with ``like``'s dtype and device (see workspace)."""
        return lambda name, shape: self.workspace.get(name, tuple(shape), like.dtype, like.device)

    # -- decode -------------------------------------------------------------------------------
    def harmonic_prior(self, pitch: torch.Tensor) -> torch.Tensor:
        """MIDI pitches [B] → [B, n_fft/2] weights on the layout's bins: 1 on each harmonic, falling to
        ``harmonic_inverse_floor`` between them; all ones for an unknown pitch (``NULL_LABEL``)."""
        bins_hz = self.stft.bin_frequencies_hz(self.p.sample_rate)
        comb = harmonic_comb(pitch.long(), bins_hz, width_rows=0.0,
                             width_hz=self.p.harmonic_inverse_width_bins * self.frequency_resolution_hz())
        floor = self.p.harmonic_inverse_floor
        prior = floor + (1.0 - floor) * comb
        return torch.where((pitch == NULL_LABEL)[:, None], torch.ones_like(prior), prior)

    def linear_estimate(self, spec: torch.Tensor, length: int,
                        pitch: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Mel-IF → (magnitude, phase) on the layout's bins and STFT frames [B, n_fft/2, T_stft], before
        any Griffin-Lim refinement; ``pitch`` (MIDI [B]) is used when ``harmonic_inverse`` is on."""
        check_spectrogram(spec, 2, self.p.n_mels, "mel-if decode")
        spec = self.clean(spec)
        level, mel_if = spec[:, 0], spec[:, 1]
        if self.p.inverse == "pseudo":
            magnitude = torch.sqrt(self.mel.pseudo_power(torch.exp(level)) + self.p.eps)
        else:
            target = (torch.exp(level) - self.p.eps).clamp_min(0.0)
            if self.p.phase_threshold is not None:  # thresholded bins are silence, not a 2e-6 floor
                target = torch.where(level <= self.p.phase_threshold, torch.zeros_like(target), target)
            prior = None
            if pitch is not None and self.p.harmonic_inverse:
                prior = self.harmonic_prior(pitch.to(spec.device))
            power = self.mel.nnls_power(target, self.p.nnls_iters, prior)
            magnitude = torch.sqrt(power.clamp_min(self.p.eps**2)) - self.p.eps  # ≥ 0, finite gradients
        phase = self.mel.pseudo_phase(mel_if)
        if self.p.layout == "notono":
            frames = self.stft.stft_frames(length)
            magnitude, phase = magnitude[..., :frames], phase[..., :frames]
        return magnitude, phase

    def decode(self, spec: torch.Tensor, length: int, pitch: torch.Tensor | None = None) -> torch.Tensor:
        """[B, 2, n_mels, T] → audio [B, length] with the configured ``inverse``; ``pitch``: the notes'
        MIDI pitches [B] (``NULL_LABEL`` where unknown), for ``harmonic_inverse``."""
        check_spectrogram(spec, 2, self.p.n_mels, "mel-if decode")
        if pitch is None or not self.p.harmonic_inverse or spec.shape[0] == 0:
            return in_chunks(lambda part, out: self._decode(part, length, out), spec, self._values_per_note(length))
        if pitch.shape != spec.shape[:1]:
            raise ValueError(f"mel-if decode: {tuple(pitch.shape)} pitches for a batch of {spec.shape[0]} spectrograms")
        rows = torch.arange(spec.shape[0], device=spec.device)  # slice by row range, pitches alongside

        def decode_rows(part: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
            first, last = int(part[0]), int(part[-1]) + 1
            return self._decode(spec[first:last], length, out, pitch[first:last])

        return in_chunks(decode_rows, rows, self._values_per_note(length))

    def _decode(self, spec: torch.Tensor, length: int, out: torch.Tensor | None = None,
                pitch: torch.Tensor | None = None) -> torch.Tensor:
        """One slice; ``out`` (optional) is where the caller wants the audio."""
        if self.p.inverse == "pseudo" and not (torch.is_grad_enabled() and spec.requires_grad):
            return self.stft.synthesis(self._pseudo_spectrum_fast(spec, length), length, out=out)
        magnitude, phase = self.linear_estimate(spec, length, pitch)
        full = self.stft.from_layout(polar(magnitude, phase), length, self.p.restore_dropped_bin)
        if self.p.inverse != "griffin-lim" or self.p.griffin_lim_iters == 0:
            return self.stft.synthesis(full, length)
        return griffin_lim(
            self.stft, magnitude, full, length, self.p.griffin_lim_iters, self.p.griffin_lim_momentum
        )


    def _pseudo_spectrum_fast(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """``from_layout(polar(*linear_estimate(spec)))`` for the pseudo inverse without gradients, with the
        same operations laid out for speed: frequency leads ([F, B, T] planes, one sparse product each),
        the elementwise steps run in place on contiguous planes (see ``_encode_fast`` on transcendental
        functions), and ``polar`` ends in one transposing write into the frame-major spectrum that
        ``synthesis`` reads fastest (no concatenation, no other re-layout)."""
        spec = self.clean(spec)
        scratch = self._scratch_getter(spec)
        batch, frames = spec.shape[0], spec.shape[3]
        mel = scratch("mel", (2, spec.shape[2], batch, frames))  # level, IF: [n_mels, B, T] each
        mel[0].copy_(spec[:, 0].transpose(0, 1)).exp_()
        mel[1].copy_(spec[:, 1].transpose(0, 1))
        linear = scratch("linear", (2, self.stft.num_bins, batch, frames))
        for channel in range(2):
            self.mel.pseudo(mel[channel], dim=0, out=linear[channel])
        magnitude = linear[0].add_(self.p.eps).sqrt_()  # [F, B, T]
        # phase = cumsum(IF·π) @ mel2l, cumulated in place in float32 as magenta does (pseudo_phase
        # accumulates in float64; the two differ by ~1e-4 rad, far below this inverse's own error)
        phase = linear[1].mul_(math.pi).cumsum_(dim=-1)
        real = torch.cos(phase, out=scratch("cos", phase.shape)).mul_(magnitude)
        imag = torch.sin(phase, out=phase).mul_(magnitude)
        if self.p.layout == "notono":
            frames = self.stft.stft_frames(length)
        complex_scratch = self._scratch_getter(torch.complex(real[:0], real[:0]))
        full = complex_scratch("full", (batch, frames, self.stft.num_bins + 1)).transpose(1, 2)  # frame-major
        magenta = self.p.layout == "magenta"
        kept, missing = (full[:, 1:], full[:, :1]) if magenta else (full[:, :-1], full[:, -1:])
        torch.complex(real[..., :frames].transpose(0, 1), imag[..., :frames].transpose(0, 1), out=kept)
        if self.p.restore_dropped_bin:
            restored = self.stft.from_layout(kept, length, restore=True)
            missing.copy_(restored[:, :1] if magenta else restored[:, -1:])
        else:
            missing.zero_()
        return full


class GansynthMelIFParams(MelIFParams):
    """GANSynth defaults: 700 Hz break, no phase threshold."""


class GansynthMelIF(MelIF):
    """GANSynth's Mel-IF exactly as magenta computes it (700 Hz break, no threshold)."""

    description: ClassVar[str] = "GANSynth Mel-IF (magenta recipe: 700 Hz break, no phase threshold)"
    Params: ClassVar[type[MelIFParams]] = GansynthMelIFParams


class PaperMelIFParams(MelIFParams):
    """The paper's variant: phase threshold log(2e-6) and a 275 Hz break (estimated from its figures)."""

    mel_break_frequency_hz: float = Field(275.0, gt=0, description="the paper's estimated break frequency")
    phase_threshold: float | None = Field(
        PAPER_PHASE_THRESHOLD, description="log(2e-6): IF = 0 and level clamped at or below it"
    )


class PaperMelIF(MelIF):
    """The paper's thresholded and compressed Mel-IF (threshold log(2e-6), break 275 Hz)."""

    description: ClassVar[str] = "Paper Mel-IF: phase threshold log(2e-6), mel break 275 Hz"
    Params: ClassVar[type[MelIFParams]] = PaperMelIFParams
