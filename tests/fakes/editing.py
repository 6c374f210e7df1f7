"""Two-level in-process plugins for the editing API, server and web-app tests.

They implement the core contracts with tiny, deterministic models so the editing mechanics
(masks, windows, context, labels, seeds) can be checked exactly and fast:

* ``edit-stft``: log-magnitude + phase STFT (32 rows × 64 frames for 1024 samples at 8 kHz);
* ``edit-ladder``: a two-level quantizer, top [4, 4] and bottom [8, 8], decoding to the sum of a
  top and a bottom level per cell (so every code change changes the audio);
* ``edit-prior``: a "prior" whose draws depend on the seed, the labels and (for the bottom level)
  the aligned top codes; it records every call (with the ``time_offset`` it was given, if any:
  one is passed only when ``max_time_offset > 0``) so tests can inspect windows and context.
"""

from __future__ import annotations

import contextlib

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from fakes import register
from specinpaint.core import (
    Codemaps,
    Normalizer,
    Prior,
    PriorLoss,
    Quantizer,
    QuantizerOutput,
    Representation,
)


class EditStft(Representation):
    """STFT log-magnitude and phase; 62-point FFT (32 rows), hop 16, last frame dropped."""

    description = "small log-magnitude/phase STFT (editing test fake)"
    channel_names = ("log_magnitude", "phase")

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        sample_rate: int = 8000
        hop: int = 16

    n_fft = 62

    @property
    def sample_rate(self) -> int:
        return self.params.sample_rate

    def _window(self, device):
        return torch.hann_window(self.n_fft, device=device)

    def encode(self, audio):
        stft = torch.stft(audio, self.n_fft, self.params.hop, window=self._window(audio.device), return_complex=True)
        stft = stft[..., :-1]
        return torch.stack([torch.log(stft.abs() + 1e-6), stft.angle()], 1)

    def decode(self, spec, length):
        mag = torch.exp(spec[:, 0]) - 1e-6
        stft = torch.polar(mag.clamp_min(0), spec[:, 1])
        stft = torch.nn.functional.pad(stft, (0, 1))
        return torch.istft(stft, self.n_fft, self.params.hop, window=self._window(spec.device), length=length)

    def output_shape(self, num_samples):
        return (2, self.n_fft // 2 + 1, num_samples // self.params.hop)

    def bin_frequencies_hz(self):
        return torch.arange(self.n_fft // 2 + 1) * self.params.sample_rate / self.n_fft

    def frame_times_s(self, num_frames):
        return torch.arange(num_frames) * self.params.hop / self.params.sample_rate


class EditNormalizer(Normalizer):
    """(x - shift) / scale per channel with fixed buffers (exactly invertible)."""

    description = "fixed affine (editing test fake)"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, params):
        super().__init__(params)
        self.register_buffer("shift", torch.tensor([-6.0, 0.0]).view(1, 2, 1, 1))
        self.register_buffer("scale", torch.tensor([4.0, 3.2]).view(1, 2, 1, 1))

    def normalize(self, spec):
        return (spec - self.shift) / self.scale

    def denormalize(self, spec):
        return spec * self.scale + self.shift

    def fit(self, batches):
        return None


class EditLadder(Quantizer):
    """Two levels: top = nearest codebook value of the magnitude pooled 8×16, bottom = nearest
    codebook value of the residual pooled 4×8. Decoding adds both (phase decodes to zero)."""

    description = "two-level pooled scalar quantizer (editing test fake)"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        num_codes: int = Field(16, ge=2)

    def __init__(self, params):
        super().__init__(params)
        self.top_book = nn.Parameter(torch.linspace(-1.5, 1.5, params.num_codes))
        self.bottom_book = nn.Parameter(torch.linspace(-0.5, 0.5, params.num_codes))

    @property
    def levels(self):
        return ("top", "bottom")

    @property
    def num_codes(self):
        return {"top": self.params.num_codes, "bottom": self.params.num_codes}

    def codemap_shapes(self, input_shape):
        _, f, t = input_shape
        return {"top": (f // 8, t // 16), "bottom": (f // 4, t // 8)}

    @staticmethod
    def _nearest(values, book):
        return (values.unsqueeze(-1) - book).abs().argmin(-1)

    def encode(self, spec):
        mag = spec[:, :1, :32]
        top = self._nearest(nn.functional.avg_pool2d(mag, (8, 16))[:, 0], self.top_book)
        top_up = self.top_book[top].repeat_interleave(8, 1).repeat_interleave(16, 2)
        residual = nn.functional.avg_pool2d(mag - top_up.unsqueeze(1), (4, 8))[:, 0]
        return Codemaps({"top": top, "bottom": self._nearest(residual, self.bottom_book)})

    def decode(self, codes):
        top = self.top_book[codes["top"]].repeat_interleave(8, 1).repeat_interleave(16, 2)
        bottom = self.bottom_book[codes["bottom"]].repeat_interleave(4, 1).repeat_interleave(8, 2)
        mag = top + bottom
        return torch.stack([mag, torch.zeros_like(mag)], 1)

    def forward(self, spec):
        codes = self.encode(spec)
        recon = self.decode(codes)
        return QuantizerOutput(recon, codes, {"mse": ((recon - spec) ** 2).mean()})


class EditPrior(Prior):
    """Draws ``(noise + pitch + 3·family [+ aligned top code]) mod num_codes`` at masked cells,
    noise from ``options.seed``. Refuses windows of the wrong size; records every call."""

    description = "label- and context-dependent random codes (editing test fake)"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        level: str = "top"
        codemap_shape: tuple[int, int] = (4, 4)
        num_codes: int = 16
        context: tuple[str, ...] = ()
        max_time_offset: int = 0

    def __init__(self, params):
        super().__init__(params)
        self.weight = nn.Parameter(torch.zeros(()))
        self.calls: list[dict] = []

    @property
    def level(self):
        return self.params.level

    @property
    def context_levels(self):
        return tuple(self.params.context)

    @property
    def codemap_shape(self):
        return tuple(self.params.codemap_shape)

    @property
    def max_time_offset(self):
        return self.params.max_time_offset

    def loss(self, codes, conditioning, mask=None):
        return PriorLoss(self.weight * 0 + 1.0)

    @torch.no_grad()
    def inpaint(self, codes, mask, conditioning, options, **offset):
        current = codes[self.level]
        if tuple(current.shape[-2:]) != self.codemap_shape or tuple(mask.shape) != tuple(current.shape):
            raise AssertionError(f"{self.level} prior got window {tuple(current.shape)}, mask {tuple(mask.shape)}")
        self.calls.append({"codes": codes.clone(), "mask": mask.clone(), "options": options,
                           "pitch": conditioning.pitch.clone(), "family": conditioning.family.clone(),
                           "time_offset": offset.get("time_offset")})
        gen = torch.Generator().manual_seed(options.seed if options.seed is not None else 12345)
        noise = torch.randint(0, self.params.num_codes, current.shape, generator=gen)
        labels = (conditioning.pitch.clamp_min(0) + 3 * conditioning.family.clamp_min(0)).view(-1, 1, 1)
        new = noise + labels
        for level in self.context_levels:
            ctx = codes[level]
            new = new + ctx.repeat_interleave(current.shape[1] // ctx.shape[1], 1).repeat_interleave(
                current.shape[2] // ctx.shape[2], 2
            )
        return torch.where(mask, new % self.params.num_codes, current)


class EditNotes(torch.utils.data.Dataset):
    """Labelled sine notes (only so configs validate; the editing tests need no data)."""

    description = "sine notes (editing test fake)"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        root: str | None = None
        split: str = "train"

    def __init__(self, params):
        self.params = params

    def __len__(self):
        return 4

    def __getitem__(self, i):
        t = torch.arange(1024) / 8000
        return {"audio": 0.5 * torch.sin(2 * torch.pi * 220 * (i + 1) * t), "pitch": 57 + 12 * i, "family": i}


EDIT_FAKES = {
    "datasets": {"edit-notes": EditNotes},
    "representations": {"edit-stft": EditStft},
    "normalizers": {"edit-affine": EditNormalizer},
    "quantizers": {"edit-ladder": EditLadder},
    "priors": {"edit-prior": EditPrior},
}


def edit_config(**overrides) -> dict:
    """1024 samples at 8 kHz (0.128 s) → spec [2, 32, 64] → top [4, 4], bottom [8, 8]."""
    config = {
        "name": "edit-fake",
        "num_samples": 1024,
        "representation": {"name": "edit-stft", "params": {}},
        "normalizer": {"name": "edit-affine", "params": {}},
        "quantizer": {"name": "edit-ladder", "params": {"num_codes": 16}},
        "priors": {
            "top": {"name": "edit-prior", "params": {"level": "top", "codemap_shape": [4, 4]}},
            "bottom": {"name": "edit-prior", "params": {"level": "bottom", "codemap_shape": [8, 8],
                                                          "context": ["top"]}},
        },
        "data": {"dataset": {"name": "edit-notes", "params": {}}},
    }
    config.update(overrides)
    return config


def edit_plugins() -> contextlib.AbstractContextManager[None]:
    """Register the fakes in-process for the duration of the block."""
    return register(EDIT_FAKES)


def make_pipeline(**overrides):
    """A fake two-level pipeline in eval mode (plugins must be registered)."""
    from specinpaint.core import Pipeline, load_config

    return Pipeline(load_config(edit_config(**overrides))).eval()
