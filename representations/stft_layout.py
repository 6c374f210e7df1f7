"""Framing, padding and bin selection of the two STFT layouts, plus an exact inverse STFT.

``magenta`` (GANSynth, default):
    periodic Hann; all padding on the LEFT so the last frame ends on the last sample
    (``T = ceil(N/hop) + ceil(n_fft/hop) - 1`` frames, left pad ``hop·(T-1) + n_fft - N``: 128 frames
    and 3072 samples for 64 000 samples); DC bin dropped, Nyquist kept (``n_fft/2`` bins, bin k at
    ``(k+1)·sr/n_fft``). The inverse rebuilds the DC bin (see ``from_layout``).
``notono`` (the paper's PyTorch port, GANsynth-pytorch):
    symmetric Hann; centred STFT with reflect padding (``1 + N//hop`` frames: 126 for 64 000); the
    Nyquist bin dropped and DC kept (bin k at ``k·sr/n_fft``); the last frame appended twice (128).
    The inverse drops the repeated frames and rebuilds the Nyquist bin (the port duplicated the last
    bin instead).

The inverse STFT is a windowed overlap-add divided by the summed squared window (exact
reconstruction wherever that sum is not small). Where it falls below 1 % of its steady value (only the
last ~n_fft/16 samples of the magenta layout, which no later frame covers) it is floored, so that
inconsistent spectrograms from a model are not amplified there; magenta itself fades the whole last
``n_fft - hop`` samples with a constant normalisation.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from specinpaint.core.errors import AudioInputError

from .workspace import Workspace

Layout = Literal["magenta", "notono"]
ENVELOPE_FLOOR = 0.01


class StftLayout(nn.Module):
    """One STFT layout (see module docstring). Window is a derived, non-persistent buffer."""

    def __init__(self, n_fft: int, hop_length: int, layout: Layout = "magenta") -> None:
        super().__init__()
        self.n_fft, self.hop, self.layout = n_fft, hop_length, layout
        window = torch.hann_window(n_fft, periodic=(layout == "magenta"), dtype=torch.float64)
        self.register_buffer("window", window.float(), persistent=False)
        self.steady_envelope = float((window**2).sum() / hop_length)
        self.num_bins = n_fft // 2
        self._envelopes: dict[tuple, torch.Tensor] = {}
        self.workspace = Workspace()  # scratch buffers of the no-gradient synthesis

    # -- geometry ---------------------------------------------------------------------------
    def stft_frames(self, num_samples: int) -> int:
        """Frames the STFT itself produces (before the notono frame repetition)."""
        if self.layout == "magenta":
            return math.ceil(num_samples / self.hop) + math.ceil(self.n_fft / self.hop) - 1
        return 1 + num_samples // self.hop

    def num_frames(self, num_samples: int) -> int:
        """Frames of the representation for ``num_samples`` samples (128 for 64 000 in both layouts)."""
        extra = 2 if self.layout == "notono" else 0
        return self.stft_frames(num_samples) + extra

    def min_samples(self) -> int:
        return self.n_fft // 2 + 1 if self.layout == "notono" else 1

    def _left_pad(self, num_samples: int, frames: int) -> int:
        return self.hop * (frames - 1) + self.n_fft - num_samples

    def bin_frequencies_hz(self, sample_rate: int) -> torch.Tensor:
        first = 1 if self.layout == "magenta" else 0
        k = torch.arange(first, first + self.num_bins, dtype=torch.float64)
        return (k * sample_rate / self.n_fft).float()

    def frame_centres(self, num_frames: int) -> torch.Tensor:
        """Centre of each frame in samples relative to the first audio sample (can be negative).

        magenta: for the longest note with this many frames the left pad is
        ``n_fft + hop·(ceil(n_fft/hop) - 2)`` (3072), so centres are ``t·hop - 2048`` by default."""
        t = torch.arange(num_frames, dtype=torch.float64)
        if self.layout == "magenta":
            left_pad = self.n_fft + self.hop * (math.ceil(self.n_fft / self.hop) - 2)
            return t * self.hop + self.n_fft / 2 - left_pad
        return t * self.hop  # centred frames; the repeated frames continue the grid

    # -- analysis -----------------------------------------------------------------------------
    def _pad(self, audio: torch.Tensor) -> torch.Tensor:
        n = audio.shape[-1]
        if self.layout == "magenta":
            return F.pad(audio, (self._left_pad(n, self.stft_frames(n)), 0))
        if n < self.min_samples():
            raise AudioInputError(
                f"the notono layout needs at least {self.min_samples()} samples (reflect padding), got {n}"
            )
        half = self.n_fft // 2
        return F.pad(audio.unsqueeze(1), (half, half), mode="reflect").squeeze(1)

    def analysis(self, audio: torch.Tensor, scratch: bool = False) -> torch.Tensor:
        """Audio [B, N] → full one-sided STFT [B, n_fft/2 + 1, stft_frames(N)] (complex).

        ``scratch`` (no gradients, magenta layout): the same ``torch.stft`` operations (window product,
        one-sided FFT) with the padded and windowed frames in reusable buffers (see workspace); the
        returned spectrum is a fresh tensor."""
        if scratch and self.layout == "magenta" and not (torch.is_grad_enabled() and audio.requires_grad):
            return self._analysis_scratch(audio)
        return torch.stft(
            self._pad(audio), self.n_fft, self.hop, window=self.window.to(audio.dtype), center=False,
            return_complex=True,
        )

    def _analysis_scratch(self, audio: torch.Tensor) -> torch.Tensor:
        batch, n = audio.shape
        frames_count = self.stft_frames(n)
        left = self._left_pad(n, frames_count)
        padded = self.workspace.get("padded", (batch, left + n), audio.dtype, audio.device)
        padded[:, :left].zero_()
        padded[:, left:].copy_(audio)
        frames = padded.unfold(-1, self.n_fft, self.hop)  # [B, T, n_fft] view
        windowed = self.workspace.get("windowed", tuple(frames.shape), audio.dtype, audio.device)
        torch.mul(frames, self.window.to(audio.dtype), out=windowed)
        # no ``out=``: torch's FFT writes a fresh result and copies it into ``out`` (one more pass)
        return torch.fft.rfft(windowed, dim=-1).transpose(1, 2)

    def to_layout(self, full: torch.Tensor) -> torch.Tensor:
        """Full STFT → the layout's bins [B, n_fft/2, stft_frames] (frames are expanded later, on the
        level/IF image, by ``expand_frames``)."""
        return full[:, 1:] if self.layout == "magenta" else full[:, :-1]

    def expand_frames(self, spec: torch.Tensor) -> torch.Tensor:
        """notono: append the last frame of a [..., T] level/IF image twice (the port's ``_expand``;
        the repeated frames therefore carry the same level AND the same IF as the last real frame)."""
        if self.layout == "magenta":
            return spec
        return torch.cat([spec, spec[..., -1:], spec[..., -1:]], dim=-1)

    def from_layout(self, kept: torch.Tensor, num_samples: int, restore: bool = True) -> torch.Tensor:
        """Inverse of ``to_layout``: repeated frames dropped, the dropped DC (magenta) or Nyquist (notono)
        row re-inserted. ``restore=True`` rebuilds it exactly from the other bins: both Hann windows are
        0 at sample 0, so every windowed frame y has ``y[0] = Σ_k Y[k] / n_fft = 0``, which fixes the
        one missing real bin. ``restore=False`` inserts zeros (what magenta and the port do)."""
        if self.layout == "notono":
            frames = self.stft_frames(num_samples)
            if kept.shape[-1] < frames:
                raise AudioInputError(
                    f"{num_samples} samples need {frames} STFT frames, the spectrogram has {kept.shape[-1]}"
                )
            kept = kept[..., :frames]
        if restore:
            inner = kept[:, :-1] if self.layout == "magenta" else kept[:, 1:]  # bins 1 .. n_fft/2 - 1
            edge = kept[:, -1:] if self.layout == "magenta" else kept[:, :1]  # Nyquist or DC (real)
            missing = -(2 * inner.real.sum(dim=1, keepdim=True) + edge.real)
            missing = torch.complex(missing, torch.zeros_like(missing))
        else:
            missing = torch.zeros_like(kept[:, :1])
        if self.layout == "magenta":
            return torch.cat([missing, kept], dim=1)
        return torch.cat([kept, missing], dim=1)

    # -- synthesis ----------------------------------------------------------------------------
    def synthesis(self, full: torch.Tensor, num_samples: int, out: torch.Tensor | None = None) -> torch.Tensor:
        """Full STFT [B, n_fft/2 + 1, T] → audio [B, num_samples] (windowed overlap-add); ``out``
        (no gradients, optional) receives it."""
        frames_count = full.shape[-1]
        if self.layout == "magenta":
            start = self._left_pad(num_samples, frames_count)
            if start < 0:
                raise AudioInputError(
                    f"{frames_count} frames cover {self.hop * (frames_count - 1) + self.n_fft} samples, "
                    f"fewer than the {num_samples} asked for"
                )
        else:
            start = self.n_fft // 2
        window = self.window.to(full.real.dtype)
        # frame-major [B, T, n_fft] frames: the FFT runs along contiguous rows when ``full`` is stored
        # frame-major (torch.stft's output) and the overlap-add reads hop-long rows
        scratch = not (torch.is_grad_enabled() and full.requires_grad)  # reuse buffers (see workspace)
        # no ``out=``: torch's FFT writes a fresh result and copies it into ``out`` (one more pass)
        frames = torch.fft.irfft(full.transpose(1, 2), n=self.n_fft, dim=-1)
        signal = self._overlap_add(frames, window, scratch)
        inverse = self._inverse_envelope(frames_count, window)[start:start + num_samples]
        return torch.mul(signal[:, start:start + num_samples], inverse, out=out)

    def _overlap_add(self, frames: torch.Tensor, window: torch.Tensor, scratch: bool = False) -> torch.Tensor:
        """[B, T, n_fft] frames → windowed and summed [B, n_fft + hop·(T-1)]. When hop divides n_fft
        this is n_fft/hop shifted multiply-adds of hop-long chunks (several times faster than F.fold)."""
        batch, count, n_fft = frames.shape
        total = n_fft + self.hop * (count - 1)
        if n_fft % self.hop:
            windowed = frames.transpose(1, 2) * window[None, :, None]
            return F.fold(windowed, (1, total), (1, n_fft), stride=(1, self.hop))[:, 0, 0]
        overlap = n_fft // self.hop
        chunks = frames.reshape(batch, count, overlap, self.hop)  # [B, T, overlap, hop]
        pieces = window.reshape(overlap, self.hop)
        shape = (batch, count + overlap - 1, self.hop)
        if scratch:
            out = self.workspace.get("overlap_add", shape, frames.dtype, frames.device).zero_()
        else:
            out = frames.new_zeros(shape)
        for j in range(overlap):  # fused multiply-adds, no temporaries
            out[:, j:j + count].addcmul_(chunks[:, :, j], pieces[j])
        return out.reshape(batch, total)

    def _inverse_envelope(self, frames_count: int, window: torch.Tensor) -> torch.Tensor:
        """1 / (floored overlap-added squared window), cached per frame count, dtype and device."""
        key = (frames_count, window.dtype, window.device)
        cached = self._envelopes.get(key)
        if cached is None:
            total = self.n_fft + self.hop * (frames_count - 1)
            squared = (window.detach() ** 2)[None, :, None].expand(1, self.n_fft, frames_count)
            envelope = F.fold(squared, (1, total), (1, self.n_fft), stride=(1, self.hop))[0, 0, 0]
            cached = 1.0 / envelope.clamp_min(ENVELOPE_FLOOR * self.steady_envelope)
            if len(self._envelopes) > 8:
                self._envelopes.clear()
            self._envelopes[key] = cached
        return cached
