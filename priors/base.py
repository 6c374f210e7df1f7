"""What the transformer priors share: input validation, inference mode, class vectors for
classifier-free guidance, token inputs with optional learned 2-D positions, weight init."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from specinpaint.core.codemaps import Codemaps
from specinpaint.core.conditioning import NULL_LABEL, Conditioning
from specinpaint.core.errors import SpecinpaintError
from specinpaint.core.linearize import Linearizer
from specinpaint.core.prior import Prior, PriorLoss, SamplingOptions

from .class_embedding import ClassEmbedding
from .params import TransformerParams


class TokenInput(nn.Module):
    """Token ids at sequence slots ``[start, start + L)`` plus each example's class vector → input
    vectors ``[B, L, d_model]``, with learned frequency-row and time-column embeddings of each
    slot's cell.

    ``sum`` (default): d_model-wide token, row, column and class vectors added. The absolute
    embeddings are there in both position modes: a spectrogram is not shift-invariant in frequency,
    and a fully masked input (all mask tokens) would otherwise give every position the same vector
    under rotary (relative-only) attention. ``rope`` adds 2-D relative positions inside attention
    on top of them.

    ``concat`` (the original's layout): a ``token_dim`` embedding projected to what is left of
    d_model, then ``position_dim`` learned dims (half row, half column) and the class vector, side
    by side.

    Time: the column embedding has ``columns + max_time_offset`` rows; a window that starts
    ``time_offset`` columns into a longer note reads rows ``time_offset + column`` (offset 0, or
    ``max_time_offset`` 0: rows ``column``, exactly as before the option)."""

    def __init__(self, vocab: int, p: TransformerParams, lin: Linearizer, max_time_offset: int = 0) -> None:
        super().__init__()
        d_model = p.d_model
        self.project: nn.Linear | None = None
        time_rows = lin.shape[1] + max_time_offset
        if p.embedding == "sum":
            self.tokens = nn.Embedding(vocab, d_model)
            self.freq = nn.Embedding(lin.shape[0], d_model)
            self.time = nn.Embedding(time_rows, d_model)
        else:
            self.tokens = nn.Embedding(vocab, p.token_dim)
            self.project = nn.Linear(p.token_dim, p.token_width)
            self.project.init_std = p.token_dim**-0.5  # its output as large as the other parts
            self.freq = nn.Embedding(lin.shape[0], p.position_dim // 2)
            self.time = nn.Embedding(time_rows, p.position_dim - p.position_dim // 2)
        self.register_buffer("coords", lin.coords.clone(), persistent=False)

    def forward(
        self, tokens: torch.Tensor, classes: torch.Tensor, start: int = 0, time_offset: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``tokens [B, L]``, ``classes [B, class_width]``, optional ``time_offset [B]`` (columns
        of this map's level) → ``[B, L, d_model]``."""
        cells = self.coords[start : start + tokens.shape[1]]
        columns = cells[:, 1] if time_offset is None else cells[None, :, 1] + time_offset[:, None]
        if self.project is None:
            return self.tokens(tokens) + self.freq(cells[:, 0]) + self.time(columns) + classes[:, None]
        b, n = tokens.shape
        parts = [self.freq(cells[:, 0]), self.time(columns), classes[:, None].expand(b, n, -1)]
        return torch.cat([self.project(self.tokens(tokens)), *(t.expand(b, n, -1) for t in parts)], dim=-1)


def class_embedding(p: TransformerParams) -> ClassEmbedding:
    """The class embedding the params ask for (d_model-wide and summed, or concatenated)."""
    if p.embedding == "sum":
        return ClassEmbedding(p.d_model, tuple(p.pitch_range), p.num_families, p.pitch_embedding)
    return ClassEmbedding(p.class_dim, tuple(p.pitch_range), p.num_families, p.pitch_embedding, "concat")


def init_weights(module: nn.Module) -> None:
    """Small normal init (std 0.02, or a module's own ``init_std``) for linear and embedding
    weights, zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=getattr(m, "init_std", 0.02))
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)


def masked_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy and accuracy (a detached 0-d tensor: no device sync) over already-selected
    positions (``[M, V]``, ``[M]``)."""
    loss = nn.functional.cross_entropy(logits.float(), targets)
    if not targets.numel():
        return loss, torch.zeros((), device=logits.device)
    return loss, (logits.detach().argmax(dim=-1) == targets).float().mean()


class TransformerPrior(Prior):
    """Common plumbing; subclasses build the networks and implement `loss` and `inpaint`."""

    params: TransformerParams

    @property
    def level(self) -> str:
        return self.params.level

    @property
    def codemap_shape(self) -> tuple[int, int]:
        rows, columns = self.params.codemap_shape
        return rows, columns

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def max_time_offset(self) -> int:
        return self.params.max_time_offset

    def time_offsets(self, time_offset: int | torch.Tensor | None, batch: int) -> torch.Tensor | None:
        """A window's start in this level's columns (an int, or a LongTensor ``[B]`` per example)
        → LongTensor ``[B]`` clamped to ``max_time_offset`` (a window further into a note is
        modelled as the furthest one trained), or None when every offset is 0 (the unshifted path:
        today's outputs, bit for bit)."""
        if time_offset is None:
            return None
        offsets = torch.as_tensor(time_offset, dtype=torch.long, device=self.device)
        if offsets.dim() == 0:
            offsets = offsets.expand(batch)
        if tuple(offsets.shape) != (batch,):
            raise SpecinpaintError(f"time_offset must be an int or a [B] tensor with B={batch}, got {tuple(offsets.shape)}")
        if offsets.numel() and int(offsets.min()) < 0:
            raise SpecinpaintError(f"time_offset must be >= 0, got {offsets.tolist()}")
        offsets = offsets.clamp_max(self.max_time_offset)
        return offsets.contiguous() if bool(offsets.any()) else None

    @contextlib.contextmanager
    def inference(self) -> Iterator[None]:
        """no_grad + eval for the duration, restoring the module's train flags afterwards."""
        flags = {m: m.training for m in self.modules()}
        self.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            for m, flag in flags.items():
                m.training = flag

    # -- validation --------------------------------------------------------------------------
    def level_codes(self, codes: Codemaps, level: str, shape: tuple[int, int], num_codes: int) -> torch.Tensor:
        """``codes[level]`` on the model's device, checked for shape and code range."""
        if not isinstance(codes, Codemaps):
            raise SpecinpaintError(f"{type(self).__name__} expects Codemaps, got {type(codes).__name__}")
        if level not in codes:
            raise SpecinpaintError(f"{type(self).__name__} needs codemap level '{level}' (got {', '.join(codes.levels)})")
        value = codes[level]
        if tuple(value.shape[1:]) != tuple(shape):
            raise SpecinpaintError(f"codemap '{level}' has shape {tuple(value.shape[1:])}, expected {tuple(shape)}")
        if value.numel() and (int(value.min()) < 0 or int(value.max()) >= num_codes):
            raise SpecinpaintError(f"codemap '{level}' holds codes outside [0, {num_codes})")
        return value.to(self.device)

    def check_mask(self, mask: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise SpecinpaintError(f"mask must be a bool tensor, got {getattr(mask, 'dtype', type(mask).__name__)}")
        if tuple(mask.shape) != tuple(ref.shape):
            raise SpecinpaintError(f"mask shape {tuple(mask.shape)} does not match codemap '{self.level}' {tuple(ref.shape)}")
        return mask.to(ref.device)

    def check_conditioning(self, conditioning: Conditioning, batch: int) -> Conditioning:
        if not isinstance(conditioning, Conditioning):
            raise SpecinpaintError(f"conditioning must be a Conditioning, got {type(conditioning).__name__}")
        if conditioning.batch_size != batch:
            raise SpecinpaintError(f"conditioning has batch {conditioning.batch_size}, codes have batch {batch}")
        return conditioning.to(self.device)

    # -- conditioning ------------------------------------------------------------------------
    def class_vectors(self, embed: ClassEmbedding, conditioning: Conditioning, options: SamplingOptions,
                      ) -> tuple[torch.Tensor, Guidance]:
        """``[B, d]`` class vectors when unguided; with guidance ``[2B, d]`` (conditional, then the
        unconditional half: no labels, or the same pitch without the family for
        ``guidance_drop='family'``), or ``[3B, d]`` (conditional, pitch only, no labels) when a
        ``pitch_guidance_scale`` is set (the drop then does not matter); the `Guidance` says which."""
        cond = embed(conditioning)
        no_family = Conditioning(conditioning.pitch, torch.full_like(conditioning.family, NULL_LABEL))
        if options.pitch_guidance_scale is not None:  # a strength per label, whatever the drop
            if options.guidance_scale == options.pitch_guidance_scale == 1.0:
                return cond, Guidance()
            vectors = [cond, embed(no_family), embed.null(conditioning.batch_size)]
            return torch.cat(vectors), Guidance((options.guidance_scale, options.pitch_guidance_scale))
        if options.guidance_scale == 1.0:
            return cond, Guidance()
        if options.guidance_drop == "family":
            return torch.cat([cond, embed(no_family)]), Guidance((options.guidance_scale,))
        return torch.cat([cond, embed.null(conditioning.batch_size)]), Guidance((options.guidance_scale,))

    def variations(
        self, codes: Codemaps, mask: torch.Tensor, conditioning: Conditioning, options: SamplingOptions, n: int,
        time_offset: int | torch.Tensor = 0,
    ) -> torch.Tensor:
        """``n`` variations of each example, sampled as one batch: ``[B·n, F, T]``, example-major
        (rows b·n … b·n + n − 1 are the variations of example b)."""
        if n < 1:
            raise SpecinpaintError(f"number of variations must be >= 1, got {n}")
        index = torch.arange(codes.batch_size).repeat_interleave(n)
        repeated = Codemaps({k: v[index.to(v.device)] for k, v in codes.items()})
        if isinstance(time_offset, torch.Tensor) and time_offset.dim() == 1:
            time_offset = time_offset[index.to(time_offset.device)]
        return self.inpaint(repeated, mask[index.to(mask.device)], conditioning.repeat(n), options,
                            time_offset=time_offset)

    @staticmethod
    def loss_result(loss: torch.Tensor, metrics: dict[str, float | torch.Tensor]) -> PriorLoss:
        return PriorLoss(loss=loss, metrics={"loss": loss.detach(), **metrics})


@dataclass(frozen=True)
class Guidance:
    """The classifier-free guidance of one sampling call: its scales (see `sampling.guide`; none:
    unguided). The batch is repeated once per pass: two for one scale, three for two."""

    scales: tuple[float, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.scales)

    @property
    def copies(self) -> int:
        return len(self.scales) + 1 if self.scales else 1


def doubled(x: torch.Tensor, guided: Guidance) -> torch.Tensor:
    """Repeat a batch for the passes of classifier-free guidance ([cond; null], or [cond; pitch
    only; null] with a pitch scale)."""
    return torch.cat([x] * guided.copies) if guided else x
