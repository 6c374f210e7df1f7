"""Small in-process plugins for the tests and benchmarks of the training engine: harmonic notes, a tiny
2-channel STFT representation, a fitted per-channel normaliser and a per-position prior.

They implement the core contracts only, so the engine, the code store and the CLI can be exercised
without the real representations, datasets or priors (and without any file on disk). Register them
with ``with synthetic_plugins(): ...``; ``synthetic_config()`` is a matching pipeline dict.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn
from torch.utils.data import Dataset

from fakes import register
from specinpaint.core import Codemaps, Conditioning, Normalizer, Prior, PriorLoss, Representation
from specinpaint.core.conditioning import NULL_LABEL, PITCH_MAX, PITCH_MIN


class SyntheticSTFT(Representation):
    """Log-magnitude and phase/π of a Hann STFT (Nyquist row and last frame dropped so F and T are
    powers of two): [B, N] → [B, 2, n_fft/2, N/hop]."""

    description = "tiny log-magnitude + phase STFT (tests)"
    channel_names = ("log-magnitude", "phase")

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        sample_rate: int = 16000
        n_fft: int = 128
        hop: int = 64

    @property
    def sample_rate(self) -> int:
        return self.params.sample_rate

    def _window(self, ref: torch.Tensor) -> torch.Tensor:
        return torch.hann_window(self.params.n_fft, device=ref.device, dtype=ref.dtype)

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        p = self.params
        frames = audio.shape[-1] // p.hop
        spec = torch.stft(audio, p.n_fft, p.hop, window=self._window(audio), return_complex=True)
        spec = spec[:, : p.n_fft // 2, :frames]
        return torch.stack([torch.log(spec.abs() + 1e-5), spec.angle() / math.pi], 1)

    def decode(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        p = self.params
        magnitude = torch.exp(spec[:, 0]) - 1e-5
        complex_spec = torch.polar(magnitude.clamp(min=0), spec[:, 1] * math.pi)
        complex_spec = nn.functional.pad(complex_spec, (0, 1, 0, 1))
        return torch.istft(complex_spec, p.n_fft, p.hop, window=self._window(spec), length=length)

    def output_shape(self, num_samples: int) -> tuple[int, int, int]:
        return (2, self.params.n_fft // 2, num_samples // self.params.hop)

    def bin_frequencies_hz(self) -> torch.Tensor:
        return torch.arange(self.params.n_fft // 2) * self.params.sample_rate / self.params.n_fft

    def frame_times_s(self, num_frames: int) -> torch.Tensor:
        return torch.arange(num_frames) * self.params.hop / self.params.sample_rate


class SyntheticNormalizer(Normalizer):
    """Per-channel standardisation with statistics fitted in one streaming pass."""

    description = "per-channel mean/std (tests)"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        channels: int = 2

    def __init__(self, params: BaseModel) -> None:
        super().__init__(params)
        self.register_buffer("mean", torch.zeros(params.channels))
        self.register_buffer("std", torch.ones(params.channels))
        self.register_buffer("fitted", torch.tensor(False))

    @property
    def needs_fit(self) -> bool:
        return not bool(self.fitted)

    def normalize(self, spec: torch.Tensor) -> torch.Tensor:
        return (spec - self.mean[:, None, None]) / self.std[:, None, None]

    def denormalize(self, spec: torch.Tensor) -> torch.Tensor:
        return spec * self.std[:, None, None] + self.mean[:, None, None]

    def fit(self, batches) -> None:
        total = total_sq = None
        count = 0
        for batch in batches:
            flat = batch.double().transpose(0, 1).reshape(batch.shape[1], -1)
            total = flat.sum(1) if total is None else total + flat.sum(1)
            total_sq = flat.pow(2).sum(1) if total_sq is None else total_sq + flat.pow(2).sum(1)
            count += flat.shape[1]
        if not count:
            raise ValueError("no batches to fit the normaliser on")
        mean = total / count
        std = (total_sq / count - mean.pow(2)).clamp(min=1e-12).sqrt()
        self.mean.copy_(mean.float())
        self.std.copy_(std.float())
        self.fitted.fill_(True)


class SyntheticNotes(Dataset):
    """Deterministic harmonic notes with exponential decay, NSynth-item shaped
    (``audio``, ``pitch``, ``family``, ``note_str``); splits draw from different seeds."""

    description = "synthetic harmonic notes (tests)"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        root: str | None = None
        split: str = "train"
        count: int = Field(64, ge=1)
        num_samples: int = 2048
        sample_rate: int = 16000
        seed: int = 0

    def __init__(self, params: BaseModel) -> None:
        self.params = params
        offset = {"train": 0, "valid": 1, "test": 2}.get(params.split, 3)
        gen = torch.Generator().manual_seed(params.seed * 10 + offset)
        n = params.count
        self.pitch = torch.randint(PITCH_MIN + 24, PITCH_MAX - 12, (n,), generator=gen)
        self.family = torch.randint(0, 11, (n,), generator=gen)
        self.decay = torch.rand(n, generator=gen) * 6 + 1
        self.brightness = torch.rand(n, generator=gen) * 0.6 + 0.2

    def __len__(self) -> int:
        return self.params.count

    def __getitem__(self, index: int) -> dict[str, Any]:
        p = self.params
        t = torch.arange(p.num_samples) / p.sample_rate
        f0 = 440.0 * 2 ** ((float(self.pitch[index]) - 69) / 12)
        audio = torch.zeros(p.num_samples)
        for h in range(1, 6):
            if f0 * h < p.sample_rate / 2:
                audio += float(self.brightness[index]) ** (h - 1) * torch.sin(2 * math.pi * f0 * h * t)
        audio *= torch.exp(-float(self.decay[index]) * t) * 0.3
        return {"audio": audio, "pitch": int(self.pitch[index]), "family": int(self.family[index]),
                "note_str": f"synthetic_{p.split}-{index:04d}"}


class SyntheticPrior(Prior):
    """Per-position logits plus a pitch embedding: enough to learn a small code set; the loss
    counts masked positions only (all positions when no mask is given)."""

    description = "per-position categorical prior (tests)"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        level: str = "top"
        codemap_shape: tuple[int, int] = (8, 4)
        num_codes: int = 32
        context: list[str] = Field(default_factory=list)

    def __init__(self, params: BaseModel) -> None:
        super().__init__(params)
        f, t = params.codemap_shape
        self.logits = nn.Parameter(torch.zeros(f * t, params.num_codes))
        self.pitch_embed = nn.Embedding(PITCH_MAX - PITCH_MIN + 2, params.num_codes)
        nn.init.zeros_(self.pitch_embed.weight)

    @property
    def level(self) -> str:
        return self.params.level

    @property
    def context_levels(self) -> tuple[str, ...]:
        return tuple(self.params.context)

    @property
    def codemap_shape(self) -> tuple[int, int]:
        return tuple(self.params.codemap_shape)

    def _logits(self, conditioning: Conditioning) -> torch.Tensor:
        pitch = conditioning.pitch.clamp(min=PITCH_MIN - 1) - (PITCH_MIN - 1)
        pitch = torch.where(conditioning.pitch == NULL_LABEL, torch.zeros_like(pitch), pitch)
        return self.logits[None] + self.pitch_embed(pitch)[:, None, :]

    def loss(self, codes: Codemaps, conditioning: Conditioning, mask: torch.Tensor | None = None) -> PriorLoss:
        for name in self.context_levels:
            codes[name]  # noqa: B018 - raises a clear KeyError when context is missing
        target = codes[self.level].flatten(1)
        logits = self._logits(conditioning)
        nll = nn.functional.cross_entropy(logits.transpose(1, 2), target, reduction="none")
        weight = mask.flatten(1).float() if mask is not None else torch.ones_like(nll)
        loss = (nll * weight).sum() / weight.sum().clamp(min=1)
        accuracy = ((logits.argmax(-1) == target).float() * weight).sum() / weight.sum().clamp(min=1)
        return PriorLoss(loss, {"accuracy": float(accuracy)})

    @torch.no_grad()
    def inpaint(self, codes, mask, conditioning, options) -> torch.Tensor:
        gen = torch.Generator(device=mask.device)
        gen.manual_seed(options.seed or 0)
        probs = torch.softmax(self._logits(conditioning) / options.temperature, -1)
        draws = torch.multinomial(probs.flatten(0, 1), 1, generator=gen).view(mask.shape)
        return torch.where(mask, draws, codes[self.level])


PLUGINS = {
    "representations": {"synthetic-stft": SyntheticSTFT},
    "normalizers": {"synthetic-norm": SyntheticNormalizer},
    "datasets": {"synthetic-notes": SyntheticNotes},
    "priors": {"synthetic-prior": SyntheticPrior},
}

#: A small VQ-VAE-2 for [2, 64, 32] inputs: bottom 16×8, top 8×4.
TINY_VQVAE: dict[str, Any] = {
    "hidden_channels": 16,
    "residual_channels": 8,
    "num_residual_blocks": 1,
    "bottom_strides": [[2, 2], [2, 2]],
    "top_strides": [[2, 2]],
    "embed_dim": 8,
    "num_codes": 32,
}


def synthetic_plugins() -> contextlib.AbstractContextManager[None]:
    """Register the synthetic plugins in-process for the duration of the block."""
    return register(PLUGINS)


def _section() -> dict[str, Any]:
    return {"steps": 20, "batch_size": 8, "lr": 2e-3, "log_every": 5, "eval_every": 10, "checkpoint_every": 10,
            "eval_batches": 2, "schedule": "constant"}


def synthetic_config(*, count: int = 64, priors: bool = True, **quantizer: Any) -> dict[str, Any]:
    """A pipeline dict on the synthetic plugins: 2048 samples → [2, 64, 32] → top 8×4, bottom 16×8."""
    params = {**TINY_VQVAE, **quantizer}
    codes = params["num_codes"]
    config: dict[str, Any] = {
        "name": "synthetic",
        "num_samples": 2048,
        "representation": {"name": "synthetic-stft", "params": {}},
        "normalizer": {"name": "synthetic-norm", "params": {}},
        "quantizer": {"name": "vqvae2", "params": params},
        "data": {"dataset": {"name": "synthetic-notes", "params": {"count": count}}},
        "training": {"quantizer": _section()},
    }
    if priors:
        config["priors"] = {
            "top": {"name": "synthetic-prior", "params": {"level": "top", "codemap_shape": [8, 4],
                                                           "num_codes": codes}},
            "bottom": {"name": "synthetic-prior", "params": {"level": "bottom", "codemap_shape": [16, 8],
                                                              "num_codes": codes, "context": ["top"]}},
        }
        config["training"]["priors"] = {"top": _section(), "bottom": _section()}
    return config
