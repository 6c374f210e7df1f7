"""Small in-process plugins implementing the core contracts, for tests of the spine (registry,
config, bundle) that must not depend on the real model plugins."""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from specinpaint.core import (
    Codemaps,
    Normalizer,
    Prior,
    PriorLoss,
    Quantizer,
    QuantizerOutput,
    Representation,
)


class FrameRepresentation(Representation):
    """Audio [B, N] → [B, 1, F, T] by framing (exact inverse)."""

    description = "framing (test fake)"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        sample_rate: int = 16000
        rows: int = 8

    @property
    def sample_rate(self) -> int:
        return self.params.sample_rate

    def encode(self, audio):
        b, n = audio.shape
        return audio.reshape(b, 1, n // self.params.rows, self.params.rows).transpose(2, 3)

    def decode(self, spec, length):
        return spec.transpose(2, 3).reshape(spec.shape[0], -1)[:, :length]

    def output_shape(self, num_samples):
        return (1, self.params.rows, num_samples // self.params.rows)

    def bin_frequencies_hz(self):
        return torch.linspace(0, self.params.sample_rate / 2, self.params.rows)

    def frame_times_s(self, num_frames):
        return torch.arange(num_frames) * self.params.rows / self.params.sample_rate


class PoolQuantizer(Quantizer):
    """One level: average-pool by `factor`, nearest of `num_codes` learned scalars."""

    description = "pooled scalar codebook (test fake)"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        num_codes: int = Field(16, ge=2)
        factor: int = 2
        channels: int = 1

    def __init__(self, params):
        super().__init__(params)
        self.codebook = nn.Parameter(torch.linspace(-1, 1, params.num_codes))
        self.scale = nn.Parameter(torch.ones(params.channels))

    @property
    def levels(self):
        return ("top",)

    @property
    def num_codes(self):
        return {"top": self.params.num_codes}

    def codemap_shapes(self, input_shape):
        _, f, t = input_shape
        return {"top": (f // self.params.factor, t // self.params.factor)}

    def encode(self, spec):
        pooled = nn.functional.avg_pool2d(spec.mean(1, keepdim=True), self.params.factor)[:, 0]
        return Codemaps({"top": (pooled.unsqueeze(-1) - self.codebook).abs().argmin(-1)})

    def decode(self, codes):
        values = self.codebook[codes["top"]].unsqueeze(1)
        up = values.repeat_interleave(self.params.factor, 2).repeat_interleave(self.params.factor, 3)
        return up * self.scale.view(1, -1, 1, 1)

    def forward(self, spec):
        codes = self.encode(spec)
        recon = self.decode(codes)
        return QuantizerOutput(recon, codes, {"mse": ((recon - spec) ** 2).mean()})


class UniformPrior(Prior):
    """Independent per-position logits (enough to exercise the contract)."""

    description = "independent categorical (test fake)"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        level: str = "top"
        codemap_shape: tuple[int, int] = (4, 4)
        num_codes: int = 16

    def __init__(self, params):
        super().__init__(params)
        self.logits = nn.Parameter(torch.zeros(*params.codemap_shape, params.num_codes))

    @property
    def level(self):
        return self.params.level

    @property
    def codemap_shape(self):
        return tuple(self.params.codemap_shape)

    def loss(self, codes, conditioning, mask=None):
        target = codes[self.level]
        logits = self.logits.expand(target.shape[0], -1, -1, -1)
        return PriorLoss(nn.functional.cross_entropy(logits.permute(0, 3, 1, 2), target))

    @torch.no_grad()
    def inpaint(self, codes, mask, conditioning, options):
        gen = torch.Generator().manual_seed(options.seed or 0)
        probs = torch.softmax(self.logits / options.temperature, -1).flatten(0, 1)
        draws = torch.multinomial(probs, mask.shape[0], replacement=True, generator=gen).T
        return torch.where(mask, draws.reshape(mask.shape), codes[self.level])


class ScaleNormalizer(Normalizer):
    """x * scale with a fitted, persistent scale (exactly invertible)."""

    description = "global scale (test fake)"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, params):
        super().__init__(params)
        self.register_buffer("scale", torch.ones(()))

    def normalize(self, spec):
        return spec * self.scale

    def denormalize(self, spec):
        return spec / self.scale

    def fit(self, batches):
        peak = max(float(b.abs().max()) for b in batches)
        self.scale.fill_(1.0 / max(peak, 1e-8))


class SineNotes(torch.utils.data.Dataset):
    """A few sine notes with labels, NSynth-item shaped."""

    description = "sine notes (test fake)"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        root: str | None = None
        split: str = "train"
        num_samples: int = 512
        count: int = 8

    def __init__(self, params):
        self.params = params

    def __len__(self):
        return self.params.count

    def __getitem__(self, i):
        t = torch.arange(self.params.num_samples) / 16000
        pitch = 48 + i
        freq = 440 * 2 ** ((pitch - 69) / 12)
        return {"audio": 0.5 * torch.sin(2 * torch.pi * freq * t), "pitch": pitch, "family": i % 11}


FAKES = {
    "datasets": {"test-sines": SineNotes},
    "normalizers": {"test-scale": ScaleNormalizer},
    "representations": {"test-frames": FrameRepresentation},
    "quantizers": {"test-pool": PoolQuantizer},
    "priors": {"test-uniform": UniformPrior},
}


def fake_config(**overrides) -> dict:
    """A pipeline dict using the fakes: 512 samples → [1, 8, 64] → top codes [4, 32]."""
    config = {
        "name": "fake",
        "num_samples": 512,
        "representation": {"name": "test-frames", "params": {"rows": 8}},
        "normalizer": {"name": "test-scale", "params": {}},
        "quantizer": {"name": "test-pool", "params": {"num_codes": 16, "factor": 2}},
        "priors": {"top": {"name": "test-uniform", "params": {"codemap_shape": [4, 32]}}},
    }
    config["data"] = {"dataset": {"name": "test-sines", "params": {}}}
    config.update(overrides)
    return config


class GridRep:
    """The geometry a representation exposes to the silence metric: 16 linear rows to 8 kHz,
    hop-512 frames at 16 kHz (nothing else of a Representation)."""

    sample_rate = 16000

    def output_shape(self, n):
        return (2, 16, n // 512)

    def bin_frequencies_hz(self):
        return (torch.arange(16) + 0.5) * 500.0

    def frame_times_s(self, t):
        return (torch.arange(t) + 0.5) * 512 / 16000
