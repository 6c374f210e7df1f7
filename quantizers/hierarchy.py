"""`HierarchicalVAE`: the VQ-VAE-2 hierarchy with the bottleneck left open, shared by the `vqvae2`
and `fsq` plugins (neither plugin imports the other).

The skeleton owns what every hierarchical bottleneck has in common: the encoders (finest first),
the decoders that bring the next coarser quantized map down to a level, the 1×1 convs into the
code space, the upsamplers, the final decoder, the channel-weighted reconstruction loss and the
codemap contract (levels ``top``, ``middle``…, ``bottom``; shapes; decode checks). What a level's
bottleneck is comes from a *codebook factory*: ``make_codebook(level) → module`` with the
`LevelCodebook` interface (EMA codebook, FSQ, or a third party's). The module names (``encoders``,
``cond_decoders``, ``quantize_convs``, ``codebooks``, ``upsamplers``, ``decoder``) are the weights
layout of every bundle: keep them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, Protocol, cast

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from torch import nn

from specinpaint.core.codemaps import Codemaps
from specinpaint.core.conditioning import Conditioning
from specinpaint.core.errors import ConfigError, SpecinpaintError
from specinpaint.core.quantizer import Quantizer, QuantizerOutput

from .blocks import Decoder, Encoder, Stride, Upsampler
from .decoder_labels import DecoderLabels


def level_names(num_levels: int) -> tuple[str, ...]:
    """Coarsest first: 1 → (top,), 2 → (top, bottom), 3 → (top, middle, bottom),
    4 → (top, middle2, middle1, bottom)."""
    if num_levels == 1:
        return ("top",)
    middles = ["middle"] if num_levels == 3 else [f"middle{i}" for i in range(num_levels - 2, 0, -1)]
    return ("top", *middles, "bottom")


def channels_first(maps: torch.Tensor, memory_format: torch.memory_format = torch.channels_last) -> torch.Tensor:
    """[B, F, T, D] code vectors → [B, D, F, T] feature maps in the hierarchy's memory layout
    (`HierarchicalVAE.memory_format`); for channels-last, the permuted view of a contiguous ``maps``
    already has it and nothing is copied."""
    return maps.permute(0, 3, 1, 2).contiguous(memory_format=memory_format)


def stride_product(strides: list[Stride]) -> tuple[int, int]:
    return math.prod(s[0] for s in strides), math.prod(s[1] for s in strides)


class LevelCodebook(Protocol):
    """What the skeleton asks of one level's bottleneck (``quantizers.codebook.EMACodebook`` and
    ``quantizers.fsq.FSQCodebook`` are two)."""

    num_codes: int

    def __call__(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, Any]:
        """[N, D] → (straight-through quantized [N, D], codes [N], commitment loss or None, stats with
        ``as_metrics(prefix)``); updates its state in training mode."""
        ...

    def nearest(self, z: torch.Tensor) -> torch.Tensor: ...

    def lookup(self, codes: torch.Tensor) -> torch.Tensor: ...


CodebookFactory = Callable[[str], nn.Module]


class HierarchyParams(BaseModel):
    """Architecture and loss fields shared by the hierarchical quantizers (vqvae2, fsq)."""

    model_config = ConfigDict(extra="forbid")

    in_channels: int = Field(2, ge=1, description="spectrogram channels (e.g. log-magnitude + IF)")
    hidden_channels: int = Field(128, ge=2)
    residual_channels: int = Field(32, ge=1)
    num_residual_blocks: int = Field(2, ge=0)
    num_levels: int = Field(2, ge=1, le=4, description="codemap levels, coarsest is 'top'")
    bottom_strides: list[tuple[int, int]] = Field(
        default_factory=lambda: [(2, 2)] * 4,
        description="(freq, time) stride of each strided conv of the finest encoder",
    )
    top_strides: list[tuple[int, int]] = Field(
        default_factory=lambda: [(2, 2)],
        description="(freq, time) strides from one level to the next coarser one",
    )
    embed_dim: int = Field(64, ge=1, description="channels of the quantized maps")
    dead_code_steps: int = Field(
        50, ge=0, description="a code unused for this many training steps is dead (0: never)"
    )
    recon_loss: Literal["mse", "l1"] = "mse"
    channel_weights: list[float] | None = Field(
        None, description="weight of each channel in the reconstruction loss (normalised units)"
    )
    stft_loss_weight: float = Field(
        0.0, ge=0, description="multi-resolution STFT loss on decoded audio (applied by the trainer)"
    )
    stft_loss_fft_sizes: list[int] = Field(default_factory=lambda: [512, 1024, 2048])
    level_loss_weight: float = Field(
        0.0, ge=0, description="spectral convergence of the level channel in linear magnitude (keeps harmonic "
        "peaks and loudness; applied by the trainer)",
    )
    timbre_loss_weight: float = Field(
        0.0, ge=0, description="distance between the features of a small family classifier (the timbre critic, "
        "trained first on training notes, then frozen) on the decoded and the target level channel; needs family "
        "labels (applied by the trainer, see training.timbre_critic)",
    )
    timbre_critic_steps: int = Field(300, ge=1, description="training steps (batch 16) of the timbre critic")
    timbre_critic_width: int = Field(16, ge=1, description="channels of the timbre critic's first conv block")
    adversarial_loss_weight: float = Field(
        0.0, ge=0, description="weight of a patch discriminator's hinge term on the decoded level channel (the "
        "discriminator trains beside the quantizer, conditioned on the family; applied by the trainer, see "
        "training.adversary)",
    )
    adversarial_feature_weight: float = Field(
        0.0, ge=0, description="weight of the feature-matching term (the discriminator's activations on the decoded "
        "vs the real level channel); counts only with adversarial_loss_weight > 0",
    )
    adversarial_start_step: int = Field(200, ge=0, description="quantizer steps before the discriminator starts")
    adversarial_width: int = Field(16, ge=1, description="channels of the discriminator's first conv block")
    adversarial_lr: float = Field(2e-4, gt=0, description="Adam learning rate of the discriminator")
    recon_after_clean: bool = Field(
        False, description="the reconstruction losses see the decoder output after the representation's clean() "
        "(the paper's phase-threshold mask), re-normalised: masked bins cost nothing once the output is below "
        "the threshold (applied by the trainer)",
    )

    decoder_label_channels: int = Field(
        0, ge=0, description="channels of pitch/family maps the decoder sees beside the codes (0: the decoder sees "
        "codes only; see quantizers.decoder_labels)",
    )
    decoder_label_pitch_maps: Literal["table", "comb"] = Field(
        "table", description="how the decoder sees the pitch: a learned map per pitch, or the harmonic comb of the "
        "representation's rows (quantizers.decoder_labels)",
    )
    decoder_label_family_maps: Literal["vector", "table"] = Field(
        "vector", description="how the decoder sees the family: one learned vector on every row, or a learned map "
        "over frequency per family (quantizers.decoder_labels)",
    )
    decoder_label_rows: int = Field(
        64, ge=1, description="frequency resolution of each pitch's or family's learned map (table)"
    )
    decoder_label_families: int = Field(11, ge=1, description="family classes the decoder knows (NSynth has 11)")
    decoder_label_dropout: float = Field(
        0.1, ge=0, le=1, description="training probability of null labels (so unlabelled audio decodes too)"
    )
    decoder_harmonic_gain: bool = Field(
        False, description="the decoder also outputs a gain per channel for the pitch's harmonic comb, drawn onto "
        "its output at full resolution (puts harmonics on exact rows, finer than a code; needs "
        "decoder_label_pitch_maps 'comb')",
    )
    finest_level_dropout: float = Field(
        0.0, ge=0, lt=1, description="training probability that the decoder sees an example without its finest "
        "level's codes (zeros instead), so the coarser levels must carry the note's broad shape and do not "
        "collapse to one fixed map while the finest codes and the labels carry everything",
    )

    @field_validator("bottom_strides", "top_strides")
    @classmethod
    def _positive(cls, value: list[tuple[int, int]]) -> list[tuple[int, int]]:
        if any(f < 1 or t < 1 for f, t in value):
            raise ValueError("strides must be >= 1")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> HierarchyParams:
        if not self.bottom_strides:
            raise ValueError("bottom_strides must not be empty")
        if self.num_levels > 1 and not self.top_strides:
            raise ValueError("top_strides must not be empty with more than one level")
        if self.channel_weights is not None:
            if len(self.channel_weights) != self.in_channels:
                raise ValueError(
                    f"channel_weights has {len(self.channel_weights)} entries, in_channels is {self.in_channels}"
                )
            if any(w < 0 for w in self.channel_weights) or sum(self.channel_weights) <= 0:
                raise ValueError("channel_weights must be >= 0 with a positive sum")
        if self.decoder_harmonic_gain and not (self.decoder_label_channels and self.decoder_label_pitch_maps == "comb"):
            raise ValueError("decoder_harmonic_gain needs decoder_label_channels > 0 and decoder_label_pitch_maps 'comb'")
        if self.adversarial_feature_weight > 0 and self.adversarial_loss_weight <= 0:
            raise ValueError("adversarial_feature_weight needs adversarial_loss_weight > 0 (the discriminator trains "
                             "only then)")
        return self

    def check_level_keys(self, mapping: dict, field: str) -> None:
        names = level_names(self.num_levels)
        unknown = sorted(set(mapping) - set(names))
        if unknown:
            raise ValueError(f"{field}: unknown level {unknown[0]} (levels: {', '.join(names)})")


class HierarchicalVAE(Quantizer):
    """Encoders, decoders and codemap contract of a hierarchical VQ-VAE; the bottleneck of each
    level comes from ``make_codebook`` and its commitment loss is weighted by ``commitment_cost``."""

    params: HierarchyParams

    def __init__(self, params: HierarchyParams, make_codebook: CodebookFactory, commitment_cost: float) -> None:
        super().__init__(params)
        p = params
        self.commitment_cost = commitment_cost
        self._levels = level_names(p.num_levels)
        finest_first = self._levels[::-1]
        c, d = p.hidden_channels, p.embed_dim
        block = (p.residual_channels, p.num_residual_blocks)
        self.encoders = nn.ModuleDict()
        self.quantize_convs = nn.ModuleDict()
        self.codebooks = nn.ModuleDict()
        self.cond_decoders = nn.ModuleDict()  # decodes the next coarser quantized map for this level
        self.upsamplers = nn.ModuleDict()  # brings a coarser quantized map to the finest resolution
        for depth, name in enumerate(finest_first):  # creation order fixes the initial weights of a seed
            if depth == 0:
                self.encoders[name] = Encoder(p.in_channels, c, *block, p.bottom_strides)
            else:
                self.encoders[name] = Encoder(c, c, *block, p.top_strides)
                self.upsamplers[name] = Upsampler(d, list(p.top_strides) * depth)
            coarsest = depth == len(finest_first) - 1
            if not coarsest:
                self.cond_decoders[name] = Decoder(d, d, c, *block, p.top_strides)
            self.quantize_convs[name] = nn.Conv2d(c if coarsest else c + d, d, 1)
            self.codebooks[name] = make_codebook(name)
        self._num_codes = {name: int(self.codebooks[name].num_codes) for name in self._levels}
        self.decoder_labels = (
            DecoderLabels(p.decoder_label_pitch_maps, p.decoder_label_channels, p.decoder_label_rows,
                          stride_product(p.bottom_strides)[0], p.decoder_label_families, p.decoder_label_dropout,
                          p.decoder_label_family_maps)
            if p.decoder_label_channels else None
        )
        label_channels = self.decoder_labels.out_channels if self.decoder_labels is not None else 0
        out_channels = p.in_channels * (2 if p.decoder_harmonic_gain else 1)  # + a comb gain per channel
        self.decoder = Decoder(d * len(self._levels) + label_channels, out_channels, c, *block, p.bottom_strides)
        weights = torch.tensor(p.channel_weights or [1.0] * p.in_channels, dtype=torch.float32)
        self.register_buffer("channel_weights", weights / weights.sum(), persistent=False)
        self.memory_format = torch.contiguous_format
        self.use_memory_format(torch.channels_last)

    def use_memory_format(self, memory_format: torch.memory_format) -> None:
        """One memory layout for every conv weight and activation. Channels-last by default:
        oneDNN's convolutions then run a training step of the tiny quantizer about 1.2x as fast
        (benchmarks/bench_training_throughput.py, ``channels_last_speedup``). One layout everywhere also keeps every gradient in
        its parameter's strides, which DDP's buckets and the fused optimiser rely on."""
        self.to(memory_format=memory_format)
        self.memory_format = memory_format

    # -- contract --------------------------------------------------------------------------------
    @property
    def levels(self) -> tuple[str, ...]:
        return self._levels

    @property
    def num_codes(self) -> dict[str, int]:
        return dict(self._num_codes)

    @property
    def label_conditioned(self) -> bool:
        return self.decoder_labels is not None

    def bind_representation(self, representation) -> None:
        if self.decoder_labels is not None:
            self.decoder_labels.set_bin_frequencies(representation.bin_frequencies_hz(),
                                                    representation.frequency_resolution_hz())

    def level_factors(self) -> dict[str, tuple[int, int]]:
        """Total (freq, time) downsampling of each level relative to the input."""
        bf, bt = stride_product(self.params.bottom_strides)
        tf, tt = stride_product(self.params.top_strides)
        depth = {name: len(self._levels) - 1 - i for i, name in enumerate(self._levels)}
        return {name: (bf * tf ** depth[name], bt * tt ** depth[name]) for name in self._levels}

    def codemap_shapes(self, input_shape: tuple[int, int, int]) -> dict[str, tuple[int, int]]:
        channels, freq, time = input_shape
        if channels != self.params.in_channels:
            raise ConfigError(
                f"quantizer.params.in_channels is {self.params.in_channels} but the representation gives "
                f"{channels} channels"
            )
        shapes = {}
        for name, (ff, ft) in self.level_factors().items():
            if freq % ff or time % ft:
                raise ConfigError(
                    f"spectrogram {freq}×{time} is not divisible by the '{name}' level's downsampling "
                    f"{ff}×{ft} (quantizer strides)"
                )
            shapes[name] = (freq // ff, time // ft)
        return shapes

    def parameter_count(self) -> int:
        """Trainable parameters (EMA codebooks are buffers and are not counted)."""
        return sum(p.numel() for p in self.parameters())

    # -- internals -------------------------------------------------------------------------------
    def _codebook(self, name: str) -> LevelCodebook:
        return cast(LevelCodebook, self.codebooks[name])

    def _check_input(self, spec: torch.Tensor) -> None:
        if spec.dim() != 4:
            raise SpecinpaintError(f"quantizer input must be [B, C, F, T], got {tuple(spec.shape)}")
        self.codemap_shapes(tuple(spec.shape[1:]))

    def _features(self, spec: torch.Tensor) -> dict[str, torch.Tensor]:
        feats: dict[str, torch.Tensor] = {}
        x = spec.contiguous(memory_format=self.memory_format)
        for name in self._levels[::-1]:
            x = self.encoders[name](x)
            feats[name] = x
        return feats

    def level_latent(self, name: str, feature: torch.Tensor, coarser: torch.Tensor | None) -> torch.Tensor:
        """Level ``name``'s latent before quantisation ``[B, D, F, T]``: its encoder feature, joined
        with the coarser level's quantised map (``None`` for the coarsest) as the decoder upsamples it."""
        if coarser is not None:
            feature = torch.cat([self.cond_decoders[name](coarser), feature], 1)
        return self.quantize_convs[name](feature)

    def _quantize(self, feats: dict[str, torch.Tensor], train: bool):
        """Top-down quantization. Returns (quantized maps, codes, commitment losses, metrics)."""
        quants: dict[str, torch.Tensor] = {}
        codes: dict[str, torch.Tensor] = {}
        commits: dict[str, torch.Tensor] = {}
        metrics: dict[str, torch.Tensor | float] = {}
        coarser = None
        for name in self._levels:
            z = self.level_latent(name, feats[name], coarser)
            b, d, f, t = z.shape
            flat = z.permute(0, 2, 3, 1).reshape(-1, d)
            codebook = self._codebook(name)
            if train:
                q, idx, commit, stats = codebook(flat)
                if commit is not None:
                    commits[name] = commit
                metrics.update(stats.as_metrics(name))
            else:
                idx = codebook.nearest(flat)
                q = codebook.lookup(idx).to(z.dtype)
            quants[name] = channels_first(q.view(b, f, t, d), self.memory_format)
            codes[name] = idx.view(b, f, t)
            coarser = quants[name]
        return quants, codes, commits, metrics

    def _decode_quantized(self, quants: dict[str, torch.Tensor], conditioning: Conditioning | None) -> torch.Tensor:
        """The decoder's output in the default (contiguous) layout that the rest of the toolkit
        reshapes freely; `memory_format` stays inside the quantizer."""
        return self._decode_in_layout(quants, conditioning).contiguous()

    def _decode_in_layout(self, quants: dict[str, torch.Tensor], conditioning: Conditioning | None) -> torch.Tensor:
        finest = self._levels[-1]
        parts = [self.upsamplers[name](quants[name]) for name in self._levels[:-1]]
        parts.append(self._drop_finest(quants[finest]))
        labels = self.decoder_labels
        if labels is None:
            return self.decoder(torch.cat(parts, 1))
        b, _, f, t = quants[finest].shape
        pitch, family = labels.indices(conditioning, b)
        comb = labels.comb(pitch) if labels.pitch_maps == "comb" else None
        parts.append(labels(pitch, family, f, t, comb).to(quants[finest].dtype).contiguous(memory_format=self.memory_format))
        out = self.decoder(torch.cat(parts, 1))
        if not self.params.decoder_harmonic_gain:
            return out
        # The comb at full resolution, scaled per channel and position by the decoder: harmonics
        # land on exact rows (a null pitch has an empty comb, so unlabelled decoding is `base`).
        base, gain = out.chunk(2, dim=1)
        return base + gain * comb[:, None, :, None].to(base.dtype)

    def _drop_finest(self, finest: torch.Tensor) -> torch.Tensor:
        """Training only: zero the finest level's map for a ``finest_level_dropout`` share of the
        examples (the coarser maps and the labels must then reconstruct them alone)."""
        rate = self.params.finest_level_dropout
        if not self.training or rate <= 0 or len(self._levels) < 2:
            return finest
        kept = torch.rand(finest.shape[0], 1, 1, 1, device=finest.device) >= rate
        return finest * kept.to(finest.dtype)

    def recon_loss(self, recon: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Channel-weighted reconstruction loss and the per-channel errors [C]."""
        diff = (recon.float() - target.float())
        err = diff.abs() if self.params.recon_loss == "l1" else diff.pow(2)
        per_channel = err.mean(dim=(0, 2, 3))
        return (per_channel * self.channel_weights).sum(), per_channel

    # -- public API ------------------------------------------------------------------------------
    def forward(self, spec: torch.Tensor, conditioning: Conditioning | None = None) -> QuantizerOutput:
        """Training/evaluation pass: reconstruction, codes, weighted losses and usage metrics (0-d
        tensors: read once per logging window). Codebooks are updated only in training mode.
        ``conditioning`` reaches the decoder when it takes labels (else it is ignored)."""
        self._check_input(spec)
        quants, codes, commits, metrics = self._quantize(self._features(spec), train=True)
        recon = self._decode_quantized(quants, conditioning)
        recon_loss, per_channel = self.recon_loss(recon, spec)
        losses = {"recon": recon_loss}
        for name, commit in commits.items():
            losses[f"commit/{name}"] = self.commitment_cost * commit
        for i, value in enumerate(per_channel.detach().unbind()):
            metrics[f"recon/{self.params.recon_loss}_c{i}"] = value
        return QuantizerOutput(recon, Codemaps(codes), losses, metrics)

    @torch.no_grad()
    def encode(self, spec: torch.Tensor) -> Codemaps:
        """[B, C, F, T] → Codemaps (nearest codes; never updates the codebooks)."""
        self._check_input(spec)
        _, codes, _, _ = self._quantize(self._features(spec), train=False)
        return Codemaps(codes)

    def decode(self, codes: Codemaps, conditioning: Conditioning | None = None) -> torch.Tensor:
        """Codemaps → reconstructed normalised spectrogram [B, C, F, T]; ``conditioning`` (the
        notes' labels) reaches the decoder when it takes labels (else it is ignored)."""
        missing = [name for name in self._levels if name not in codes]
        if missing:
            raise SpecinpaintError(f"codemaps lack level '{missing[0]}' (quantizer levels: {', '.join(self._levels)})")
        factors = self.level_factors()
        finest = self._levels[-1]
        base_f, base_t = codes.shapes[finest]
        ff0, ft0 = factors[finest]
        quants = {}
        for name in self._levels:
            ff, ft = factors[name]
            expected = (base_f * ff0 // ff, base_t * ft0 // ft)
            if codes.shapes[name] != expected:
                raise SpecinpaintError(
                    f"codemap '{name}' has shape {codes.shapes[name]}, expected {expected} to match "
                    f"'{finest}' {codes.shapes[finest]}"
                )
            try:
                lookup = self._codebook(name).lookup(codes[name].to(self.channel_weights.device))
                quants[name] = channels_first(lookup, self.memory_format)
            except ValueError as exc:
                raise SpecinpaintError(f"codemap '{name}': {exc}") from None
        return self._decode_quantized(quants, conditioning)
