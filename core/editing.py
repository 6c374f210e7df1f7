"""High-level editing API mixed into `Pipeline`: generate, inpaint, attenuate, sample packs.

Kept apart from `pipeline.py` so the bundle/composition code and the editing code stay small.
Everything here uses only the core contracts (Representation, Normalizer, Quantizer, Prior).

Long notes. The models see fixed windows (e.g. 4 top columns = 4 s). Codemaps may be longer
(``W + k`` columns); they are processed through overlapping windows that keep context: each
prior call sees already-final columns to its left (and unmasked columns to its right) and commits
only the columns in its middle, so a region spanning two windows is one continuous edit — the
original cut independent 4-column windows with no context between them.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import sys
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import torch

from .codemaps import Codemaps
from .conditioning import NSYNTH_FAMILIES, Conditioning
from .errors import SpecinpaintError
from .prior import SamplingOptions
from .region import Region, aligned_masks, dilate_mask, region_to_masks, upsample_mask

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .normalizer import Normalizer
    from .prior import Prior
    from .quantizer import Quantizer
    from .representation import Representation

LN10 = math.log(10.0)
_log = logging.getLogger(__name__)


class EditError(SpecinpaintError):
    """An edit request that cannot be carried out (bad region, bad codes, unknown layer)."""


#: A region is a ``Region`` (seconds × Hz, an axis may be None = whole axis), any object with
#: ``time_s``/``freq_hz`` attributes, or explicit boolean masks by level name ([F, T] or [B, F, T]).
RegionLike = Region | Mapping[str, Any] | Any


@dataclass
class EditResult:
    """What every editing call returns: audio ``[B, N]`` at ``sample_rate`` (None when the call
    was asked not to decode) and the codes; ``masks`` = the cells the edit was allowed to change."""

    audio: torch.Tensor | None
    codes: Codemaps
    sample_rate: int
    masks: dict[str, torch.Tensor] = field(default_factory=dict)

    def wav_bytes(self, index: int = 0) -> bytes:
        from .audio import wav_bytes

        if self.audio is None:
            raise EditError("this result was computed with decode=False; it has no audio")
        return wav_bytes(self.audio[index], self.sample_rate)


@dataclass
class SamplePack:
    """One note per pitch sharing the same top codes (``keep the top, resample the bottom``)."""

    audio: torch.Tensor
    codes: Codemaps
    pitches: list[int]
    family: str
    sample_rate: int

    def names(self) -> list[str]:
        return [f"{self.family}-{p}.wav" for p in self.pitches]

    def to_zip(self) -> bytes:
        """A zip of ``{family}-{pitch}.wav`` files, built in memory."""
        from .audio import wav_bytes

        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, audio in zip(self.names(), self.audio, strict=True):
                archive.writestr(name, wav_bytes(audio, self.sample_rate))
        return buffer.getvalue()


class EditingMixin:
    """Generate, inpaint, attenuate and sample-pack on top of a `Pipeline`'s contracts."""

    # Provided by Pipeline (declared for type checkers).
    representation: Representation
    normalizer: Normalizer
    quantizer: Quantizer
    priors: Any
    config: Any
    training: bool

    # -- geometry ----------------------------------------------------------------------------
    @property
    def levels(self) -> tuple[str, ...]:
        """Quantizer levels, coarsest first (e.g. ``("top", "bottom")``)."""
        return tuple(self.quantizer.levels)

    @property
    def window_seconds(self) -> float:
        """Duration the models see at once (``num_samples / sample_rate``)."""
        return self.config.num_samples / self.representation.sample_rate

    @property
    def window_columns(self) -> int:
        """Columns of the coarsest level per model window (e.g. 4 top columns)."""
        return self.codemap_shapes[self.levels[0]][1]  # type: ignore[attr-defined]

    @property
    def column_seconds(self) -> float:
        """Seconds per coarsest-level column (1 s for the paper)."""
        return self.window_seconds / self.window_columns

    def level_ratios(self) -> dict[str, int]:
        """Time upsampling factor of each level relative to the coarsest level."""
        shapes = self.codemap_shapes  # type: ignore[attr-defined]
        base = shapes[self.levels[0]][1]
        out = {}
        for level in self.levels:
            if shapes[level][1] % base:
                raise EditError(f"level '{level}' has {shapes[level][1]} columns, not a multiple of {base}")
            out[level] = shapes[level][1] // base
        return out

    def level_shapes(self, num_columns: int) -> dict[str, tuple[int, int]]:
        """Map sizes of every level for a codemap of ``num_columns`` coarsest columns."""
        shapes = self.codemap_shapes  # type: ignore[attr-defined]
        ratios = self.level_ratios()
        return {lvl: (shapes[lvl][0], num_columns * ratios[lvl]) for lvl in self.levels}

    def check_codes(self, codes: Codemaps) -> int:
        """Validate levels, row counts, column alignment and code ranges; return the number of
        coarsest columns. Longer-than-window codemaps are allowed (>= one window)."""
        if set(codes.levels) != set(self.levels):
            raise EditError(f"codes have levels {codes.levels}, the pipeline expects {list(self.levels)}")
        columns = codes[self.levels[0]].shape[-1]
        if columns < self.window_columns:
            raise EditError(
                f"codemap '{self.levels[0]}' has {columns} columns, at least {self.window_columns} are needed"
            )
        try:
            codes.check(self.level_shapes(columns), self.quantizer.num_codes)
        except EditError:
            raise
        except SpecinpaintError as exc:
            raise EditError(str(exc)) from None
        return columns

    # -- context -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _inference(self) -> Iterator[None]:
        """Eval mode and no autograd for the duration of one editing call (restored after)."""
        was_training = self.training
        self.eval()  # type: ignore[attr-defined]
        try:
            with torch.no_grad():
                yield
        finally:
            if was_training:
                self.train()  # type: ignore[attr-defined]

    def sampling_options(self, sampling: SamplingOptions | Mapping[str, Any] | None = None, **changes: Any) -> SamplingOptions:
        """The config's sampling defaults, updated by ``sampling`` then by non-None ``changes``."""
        base = self.config.sampling.model_dump()
        if isinstance(sampling, SamplingOptions):
            base.update(sampling.model_dump(exclude_unset=True))
        elif sampling is not None:
            base.update(dict(sampling))
        base.update({k: v for k, v in changes.items() if v is not None})
        try:
            return SamplingOptions.model_validate(base)
        except Exception as exc:  # pydantic ValidationError → one line
            errors = getattr(exc, "errors", None)
            first = errors()[0] if callable(errors) else {"loc": ("?",), "msg": str(exc)}
            raise EditError(f"sampling.{'.'.join(map(str, first['loc']))}: {first['msg']}") from None

    def _prior(self, level: str) -> Prior:
        if level not in self.priors:
            raise EditError(f"no prior for level '{level}' in this pipeline (priors: {', '.join(self.priors)})")
        return self.priors[level]

    def _device(self) -> torch.device:
        return self.device  # type: ignore[attr-defined]

    # -- audio of any length -----------------------------------------------------------------
    def _column_samples(self, columns: int) -> int:
        return round(columns * self.config.num_samples / self.window_columns)

    def encode_long(self, audio: torch.Tensor) -> Codemaps:
        """Audio [B, N] (or [N]) of any length → codemaps of ``max(W, ceil(N / column))``
        coarsest columns; windows of ``num_samples`` go through the same path as training
        (``Pipeline.encode``), the last one overlapping its neighbour instead of padding."""
        from .audio import fit_length, prepare_batch

        audio = prepare_batch(audio)
        n = audio.shape[-1]
        w = self.window_columns
        columns = max(w, math.ceil(n / self._column_samples(1) - 1e-9))
        audio = fit_length(audio, self._column_samples(columns))
        pieces: dict[str, list[torch.Tensor]] = {lvl: [] for lvl in self.levels}
        ratios = self.level_ratios()
        done = 0
        with self._inference():
            for start in _window_starts(columns, w):
                offset = self._column_samples(start)
                chunk = fit_length(audio[:, offset:], self.config.num_samples)
                codes = self.encode(chunk)  # type: ignore[attr-defined]
                keep_from = done - start  # columns already covered by the previous window
                for lvl in self.levels:
                    pieces[lvl].append(codes[lvl][..., keep_from * ratios[lvl]:].cpu())
                done = start + w
        return Codemaps({lvl: torch.cat(pieces[lvl], -1) for lvl in self.levels})

    def decode_long(self, codes: Codemaps, length: int | None = None) -> torch.Tensor:
        """Codemaps of any (>= one window) length → audio [B, length]. Windows overlap by half
        and are cross-faded, so long notes have no hard seams."""
        columns = self.check_codes(codes)
        w = self.window_columns
        total = self._column_samples(columns)
        with self._inference():
            if columns == w:
                audio = self.decode(codes).cpu()  # type: ignore[attr-defined]
            else:
                audio = self._decode_overlapped(codes, columns)
        if length is not None:
            from .audio import fit_length

            return fit_length(audio, length)
        return audio[..., :total]

    def _decode_overlapped(self, codes: Codemaps, columns: int) -> torch.Tensor:
        w, n = self.window_columns, self.config.num_samples
        hop = max(1, w // 2)
        starts = sorted(set(list(range(0, columns - w + 1, hop)) + [columns - w]))
        total = self._column_samples(columns)
        out = torch.zeros(codes.batch_size, total)
        weight = torch.zeros(total)
        fade = _trapezoid(n, self._column_samples(hop))
        for start in starts:
            window = self._slice_codes(codes, start, w)
            audio = self.decode(window).cpu()  # type: ignore[attr-defined]
            offset = self._column_samples(start)
            span = min(n, total - offset)
            ramp = fade[:span].clone()
            if start == 0:
                ramp[: span // 2] = 1.0
            if start == starts[-1]:
                ramp[span // 2:] = 1.0
            out[:, offset:offset + span] += audio[:, :span] * ramp
            weight[offset:offset + span] += ramp
        return out / weight.clamp_min(1e-6)

    def decode_spectrogram(self, codes: Codemaps) -> torch.Tensor:
        """Codemaps of any length → the raw (denormalised, cleaned) spectrogram [B, C, F, T] of
        all columns, window by window (for images and analysis)."""
        columns = self.check_codes(codes)
        w = self.window_columns
        pieces, done = [], 0
        device = self._device()
        with self._inference():
            for start in _window_starts(columns, w):
                spec = self.quantizer.decode(self._slice_codes(codes, start, w).to(device))
                spec = self.representation.clean(self.normalizer.denormalize(spec)).cpu()
                per_column = spec.shape[-1] // w
                pieces.append(spec[..., (done - start) * per_column:])
                done = start + w
        return torch.cat(pieces, -1)

    def _slice_codes(self, codes: Codemaps, start: int, width: int) -> Codemaps:
        ratios = self.level_ratios()
        return Codemaps({
            lvl: codes[lvl][..., start * ratios[lvl]:(start + width) * ratios[lvl]] for lvl in codes.levels
        })

    def as_codes(self, source: Codemaps | torch.Tensor | Any) -> Codemaps:
        """Codemaps pass through (validated); audio tensors/arrays are encoded (any length)."""
        if isinstance(source, Codemaps):
            self.check_codes(source)
            return source.to("cpu")
        return self.encode_long(torch.as_tensor(source))

    # -- regions -----------------------------------------------------------------------------
    def frame_times(self, num_columns: int) -> torch.Tensor:
        """Centre time (s) of every spectrogram frame under a ``num_columns``-column codemap: the
        representation's own frame times for one window; for longer maps frames are spaced
        uniformly at the column rate, matching how `encode_long` cuts audio into windows."""
        frames = self.spectrogram_shape[-1]  # type: ignore[attr-defined]
        times = self.representation.frame_times_s(frames).detach().double().cpu()
        if num_columns == self.window_columns:
            return times
        step = self.column_seconds * self.window_columns / frames
        return times[0] + torch.arange(frames * num_columns // self.window_columns, dtype=torch.float64) * step

    def bin_frequencies(self) -> torch.Tensor:
        """Centre frequency (Hz) of every spectrogram row, low to high."""
        return self.representation.bin_frequencies_hz().detach().double().cpu()

    def region_masks(
        self,
        region: RegionLike,
        num_columns: int,
        *,
        layer: str | None = None,
        batch: int = 1,
        dilate: int = 0,
    ) -> dict[str, torch.Tensor]:
        """Bool masks [B, F_l, T_l] for every level of a ``num_columns``-column codemap, True where
        the edit may change codes.

        ``layer`` is the level being resampled (default: the coarsest): coarser levels get empty
        masks; ``layer`` gets the region on its own grid; finer levels get the upsampled ``layer``
        mask (every token conditioned on a changed coarser token is redrawn). Explicit masks are
        given per level; a missing ``layer`` mask is derived (pooled or upsampled) from the others.
        ``dilate`` grows the ``layer`` mask by that many cells."""
        layer = layer or self.levels[0]
        if layer not in self.levels:
            raise EditError(f"unknown layer '{layer}' (layers: {', '.join(self.levels)})")
        shapes = self.level_shapes(num_columns)
        try:
            if isinstance(region, Mapping):
                base = self._explicit_mask(region, shapes, layer, batch)
            else:
                region = _as_region(region)
                masks = region_to_masks(
                    region, self.bin_frequencies(), self.frame_times(num_columns), shapes, aligned=False
                )
                base = masks[layer].expand(batch, *shapes[layer])
            base = dilate_mask(base, dilate)
            out = aligned_masks(base, layer, shapes)
        except EditError:
            raise
        except SpecinpaintError as exc:
            raise EditError(str(exc)) from None
        index = self.levels.index(layer)
        for lvl in self.levels[:index]:
            out[lvl] = torch.zeros_like(out[lvl])
        if not bool(out[layer].any()):
            raise EditError(f"region selects no '{layer}' cell (it lies outside the note's time or frequency range)")
        return {lvl: out[lvl].clone() for lvl in self.levels}

    def _explicit_mask(
        self, given: Mapping[str, Any], shapes: Mapping[str, tuple[int, int]], layer: str, batch: int
    ) -> torch.Tensor:
        """The ``layer`` mask [B, F, T] from explicit level masks (upsampled from the nearest
        coarser given level, else pooled from the nearest finer one)."""
        unknown = set(given) - set(shapes)
        if unknown:
            raise EditError(f"mask levels {sorted(unknown)} are not codemap levels ({', '.join(shapes)})")
        if not given:
            raise EditError("explicit region needs at least one level mask")
        masks: dict[str, torch.Tensor] = {}
        for lvl, value in given.items():
            try:
                mask = torch.as_tensor(value)
            except (TypeError, ValueError, RuntimeError) as exc:
                raise EditError(f"mask '{lvl}' is not a rectangular array of booleans ({exc})") from None
            if mask.dtype.is_floating_point or mask.dtype.is_complex:
                raise EditError(f"mask '{lvl}' must hold booleans or 0/1 integers")
            if mask.dtype != torch.bool and mask.numel():
                odd = mask[(mask != 0) & (mask != 1)]
                if odd.numel():
                    raise EditError(f"mask '{lvl}' must hold booleans or 0/1 integers, found {int(odd[0])}")
            if mask.dim() == 2:
                mask = mask.unsqueeze(0)
            if mask.dim() != 3 or tuple(mask.shape[-2:]) != tuple(shapes[lvl]):
                raise EditError(f"mask '{lvl}' has shape {tuple(mask.shape)}, expected {tuple(shapes[lvl])}")
            if mask.shape[0] not in (1, batch):
                raise EditError(f"mask '{lvl}' has batch {mask.shape[0]}, expected 1 or {batch}")
            masks[lvl] = mask.bool().expand(batch, *shapes[lvl])
        if layer in masks:
            return masks[layer]
        order = list(shapes)
        index = order.index(layer)
        coarser = [lvl for lvl in order[:index] if lvl in masks]
        if coarser:
            return upsample_mask(masks[coarser[-1]], shapes[layer])
        finer = next(lvl for lvl in order[index + 1:] if lvl in masks)
        return aligned_masks(masks[finer], finer, shapes)[layer]

    # -- sampling ------------------------------------------------------------------------------
    def _level_windows(self, level: str, mask: torch.Tensor) -> list[tuple[int, int, int]]:
        """The prior calls needed to resample ``level`` under ``mask``: ``(start, first, end)``
        per call, in coarsest columns — the window ``[start, start + W)`` is shown to the prior
        and columns ``[first, end)`` are committed. Depends only on the mask, so it is known
        before sampling (progress totals) and each window keeps context on both sides."""
        r, w = self.level_ratios()[level], self.window_columns
        columns = mask.shape[-1] // r
        pending = mask.any(dim=(0, 1)).view(columns, r).any(-1).tolist()
        ctx = max(1, w // 4) if columns > w else 0
        plan, first = [], 0
        while True:
            first = next((c for c in range(first, columns) if pending[c]), columns)
            if first == columns:
                return plan
            start = min(max(first - ctx, 0), columns - w)
            end = columns if start + w >= columns else max(first + 1, start + w - ctx)
            plan.append((start, first, end))
            first = end

    def _level_options(self, levels: Sequence[str], options: SamplingOptions) -> dict[str, SamplingOptions]:
        """Sampling options per level, decided before any sampling: the requested sampler where
        the level's prior supports it, else autoregressive (one log line per such level)."""
        out = {}
        for level in levels:
            prior = self._prior(level)
            if prior.supports_sampler(options.sampler):
                out[level] = options
                continue
            if not prior.supports_sampler("autoregressive"):
                raise EditError(f"the '{level}' prior ({type(prior).__name__}) supports neither "
                                f"'{options.sampler}' nor 'autoregressive' sampling")
            _log.info("level '%s': %s has no '%s' sampler; sampling it autoregressively", level,
                      type(prior).__name__, options.sampler)
            out[level] = options.model_copy(update={"sampler": "autoregressive"})
        return out

    def _inpaint_level(
        self,
        maps: dict[str, torch.Tensor],
        level: str,
        mask: torch.Tensor,
        conditioning: Conditioning,
        options: SamplingOptions,
        plan: Sequence[tuple[int, int, int]],
        bar: Any = None,
    ) -> None:
        """Resample ``maps[level]`` where ``mask`` (in place), one prior call per ``plan`` window."""
        prior = self._prior(level)
        ratios = self.level_ratios()
        r, w = ratios[level], self.window_columns
        device = self._device()
        remaining = mask.clone()
        cond = conditioning.to(device)
        for call, (start, first, end) in enumerate(plan):
            window = Codemaps({
                lvl: maps[lvl][..., start * ratios[lvl]:(start + w) * ratios[lvl]].to(device) for lvl in maps
            })
            wmask = remaining[..., start * r:(start + w) * r].to(device)
            seed = None if options.seed is None else options.seed + 7919 * call
            opts = options.model_copy(update={"seed": seed})
            new = prior.inpaint(window, wmask, cond, opts).to("cpu")
            lo, hi = first * r, end * r
            commit = remaining[..., lo:hi]
            maps[level][..., lo:hi] = torch.where(commit, new[..., lo - start * r:hi - start * r], maps[level][..., lo:hi])
            remaining[..., lo:hi] = False
            if bar is not None:
                bar.update(1)

    def _resample(
        self,
        codes: Codemaps,
        masks: Mapping[str, torch.Tensor],
        layer: str,
        conditioning: Conditioning,
        options: SamplingOptions,
        progress: bool = False,
    ) -> Codemaps:
        """Resample ``layer`` under its mask, then every finer level under its mask."""
        if layer not in self.levels:
            raise EditError(f"unknown layer '{layer}' (layers: {', '.join(self.levels)})")
        maps = {lvl: codes[lvl].clone().cpu() for lvl in codes.levels}
        levels = [lvl for lvl in self.levels[self.levels.index(layer):] if bool(masks[lvl].any())]
        per_level = self._level_options(levels, options)
        plans = {lvl: self._level_windows(lvl, masks[lvl].cpu()) for lvl in levels}
        with _progress_bar(sum(map(len, plans.values())), progress) as bar:
            for lvl in levels:
                if bar is not None:
                    bar.set_description(f"sampling {lvl}")
                self._inpaint_level(maps, lvl, masks[lvl].cpu(), conditioning, per_level[lvl], plans[lvl], bar)
        return Codemaps(maps)

    # -- public API ----------------------------------------------------------------------------
    def generate(
        self,
        pitch: int | Sequence[int] | None = None,
        family: str | int | Sequence[str | int] | None = None,
        n: int = 1,
        sampling: SamplingOptions | Mapping[str, Any] | None = None,
        *,
        columns: int | None = None,
        decode: bool = True,
        progress: bool = False,
    ) -> EditResult:
        """``n`` new notes from scratch, sampled as one batch: the coarsest level from its prior,
        then every finer level conditioned on it. ``columns`` > window makes longer notes;
        ``progress`` shows a bar over the prior calls (windows) on stderr."""
        if n < 1:
            raise EditError(f"n must be >= 1, got {n}")
        columns = self.window_columns if columns is None else columns
        if columns < self.window_columns:
            raise EditError(f"columns must be >= {self.window_columns}, got {columns}")
        conditioning = Conditioning.make(_labels(pitch), _labels(family), n)
        options = self.sampling_options(sampling)
        shapes = self.level_shapes(columns)
        blank = Codemaps({lvl: torch.zeros(n, *shape, dtype=torch.long) for lvl, shape in shapes.items()})
        masks = {lvl: torch.ones(n, *shape, dtype=torch.bool) for lvl, shape in shapes.items()}
        with self._inference():
            codes = self._resample(blank, masks, self.levels[0], conditioning, options, progress)
            audio = self.decode_long(codes) if decode else None
        return EditResult(audio, codes, self.representation.sample_rate, masks)

    def inpaint(
        self,
        source: Codemaps | torch.Tensor | Any,
        region: RegionLike,
        pitch: int | Sequence[int] | None = None,
        family: str | int | Sequence[str | int] | None = None,
        layer: Literal["top", "bottom"] | str = "top",
        sampler: str | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        *,
        sampling: SamplingOptions | Mapping[str, Any] | None = None,
        dilate: int = 0,
        decode: bool = True,
        progress: bool = False,
    ) -> EditResult:
        """Resample the codes inside ``region`` under new labels.

        ``layer='top'``: the masked top tokens are redrawn by the top prior, then the bottom tokens
        under the (upsampled) top mask by the bottom prior conditioned on the new top.
        ``layer='bottom'``: only the bottom prior, on the bottom-resolution region.
        Codes outside the region never change. ``source`` is codemaps or audio (encoded first).
        ``sampler='parallel'`` runs on every level whose prior supports it, the others sample
        autoregressively. ``progress`` shows a bar over the prior calls (windows) on stderr."""
        codes = self.as_codes(source)
        columns = self.check_codes(codes)
        batch = codes.batch_size
        masks = self.region_masks(region, columns, layer=layer, batch=batch, dilate=dilate)
        options = self.sampling_options(sampling, sampler=sampler, temperature=temperature, top_p=top_p, seed=seed)
        conditioning = Conditioning.make(_labels(pitch), _labels(family), batch)
        with self._inference():
            new = self._resample(codes, masks, layer, conditioning, options, progress)
            audio = self.decode_long(new) if decode else None
        return EditResult(audio, new, self.representation.sample_rate, masks)

    def attenuate(
        self,
        source: Codemaps | torch.Tensor | Any,
        region: RegionLike,
        amount_db: float = 20.0,
        *,
        decode: bool = True,
    ) -> EditResult:
        """Lower the log power inside ``region`` by ``amount_db`` dB: decode to a spectrogram,
        attenuate the magnitude channel there, re-encode (the original's "erase" brush). Only
        codes inside the region (at each level's resolution) may change."""
        if not math.isfinite(amount_db) or amount_db < 0:
            raise EditError(f"amount_db must be a finite number >= 0, got {amount_db}")
        codes = self.as_codes(source)
        columns = self.check_codes(codes)
        masks = self.region_masks(region, columns, layer=self.levels[-1], batch=codes.batch_size)
        masks = {lvl: m | _coarse_any(masks[self.levels[-1]], m.shape[-2:]) for lvl, m in masks.items()}
        if amount_db == 0:  # nothing to lower: keep the codes (re-encoding is not idempotent)
            with self._inference():
                audio = self.decode_long(codes) if decode else None
            return EditResult(audio, codes, self.representation.sample_rate, masks)
        channel = self.magnitude_channel()
        w = self.window_columns
        ratios = self.level_ratios()
        maps = {lvl: codes[lvl].clone() for lvl in self.levels}
        device = self._device()
        with self._inference():
            for start in _window_starts(columns, w):
                window = self._slice_codes(codes, start, w).to(device)
                spec = self.normalizer.denormalize(self.quantizer.decode(window))
                cell = self._spectrogram_mask(masks, start, spec.shape[-2:]).to(device)
                spec = spec.clone()
                spec[:, channel] = spec[:, channel] - cell.float() * amount_db / self.db_per_log_unit()
                spec = self.representation.clean(spec)
                new = self.quantizer.encode(self.normalizer.normalize(spec)).to("cpu")
                for lvl in self.levels:
                    lo, hi = start * ratios[lvl], (start + w) * ratios[lvl]
                    maps[lvl][..., lo:hi] = torch.where(masks[lvl][..., lo:hi], new[lvl], maps[lvl][..., lo:hi])
            result = Codemaps(maps)
            audio = self.decode_long(result) if decode else None
        return EditResult(audio, result, self.representation.sample_rate, masks)

    def magnitude_channel(self) -> int:
        """Index of the representation's log-level channel."""
        return int(self.representation.level_channel)

    def db_per_log_unit(self) -> float:
        """dB per natural-log unit of the level channel: 10/ln 10 for a log *power* channel,
        20/ln 10 for a log magnitude."""
        return (10.0 if self.representation.level_is_power else 20.0) / LN10

    def _spectrogram_mask(self, masks: Mapping[str, torch.Tensor], start: int, size: torch.Size) -> torch.Tensor:
        """The finest level's mask over one window, upsampled to spectrogram resolution [B, F, T]."""
        finest = self.levels[-1]
        r = self.level_ratios()[finest]
        w = self.window_columns
        window = masks[finest][..., start * r:(start + w) * r].float().unsqueeze(1)
        up = torch.nn.functional.interpolate(window, size=tuple(size), mode="nearest")
        return up[:, 0].bool()

    def sample_pack(
        self,
        codes: Codemaps | torch.Tensor | Any,
        pitches: Sequence[int],
        family: str | int | None = None,
        sampling: SamplingOptions | Mapping[str, Any] | None = None,
    ) -> SamplePack:
        """Keep the coarsest codes of the first example, resample every finer level once per
        pitch, all pitches in one batch."""
        pitches = [int(p) for p in pitches]
        if not pitches:
            raise EditError("sample pack needs at least one pitch")
        base = self.as_codes(codes).select(0)
        columns = self.check_codes(base)
        n = len(pitches)
        repeated = Codemaps({lvl: base[lvl].expand(n, -1, -1).clone() for lvl in self.levels})
        shapes = self.level_shapes(columns)
        masks = {lvl: torch.ones(n, *shapes[lvl], dtype=torch.bool) for lvl in self.levels}
        masks[self.levels[0]] = torch.zeros(n, *shapes[self.levels[0]], dtype=torch.bool)
        family_name = _family_name(family)
        conditioning = Conditioning.make(pitches, family, n)
        options = self.sampling_options(sampling)
        with self._inference():
            new = repeated
            if len(self.levels) > 1:
                new = self._resample(repeated, masks, self.levels[1], conditioning, options)
            audio = self.decode_long(new)
        return SamplePack(audio, new, pitches, family_name, self.representation.sample_rate)


# -- helpers -----------------------------------------------------------------------------------
def _labels(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return list(value)
    return value


def _family_name(family: str | int | None) -> str:
    if family is None:
        return "any"
    if isinstance(family, str):
        return family
    index = int(family)
    return NSYNTH_FAMILIES[index] if 0 <= index < len(NSYNTH_FAMILIES) else "any"


def _as_region(region: Any) -> Region:
    if isinstance(region, Region):
        return region
    time_s = getattr(region, "time_s", None)
    freq_hz = getattr(region, "freq_hz", None)
    if time_s is None and freq_hz is None:
        raise EditError(
            f"region must be a Region (time_s, freq_hz), an object with those attributes or a mapping "
            f"of level masks, got {type(region).__name__}"
        )
    return Region(time_s=time_s, freq_hz=freq_hz)


@contextlib.contextmanager
def _progress_bar(total: int, enabled: bool) -> Iterator[Any]:
    """A tqdm bar on stderr over ``total`` prior calls, or None when disabled (library default)."""
    if not enabled:
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=total, unit="window", file=sys.stderr, dynamic_ncols=True, leave=False) as bar:
        yield bar


def _window_starts(columns: int, width: int) -> list[int]:
    """Non-overlapping window starts covering ``columns``; the last window is shifted left to
    end at ``columns`` (overlapping its neighbour) rather than padded."""
    starts = list(range(0, columns - width + 1, width))
    if starts[-1] + width < columns:
        starts.append(columns - width)
    return starts


def _trapezoid(n: int, ramp: int) -> torch.Tensor:
    """Weights rising linearly over ``ramp`` samples, flat, then falling (cross-fades)."""
    ramp = max(1, min(ramp, n // 2))
    weights = torch.ones(n)
    edge = torch.linspace(0, 1, ramp + 2)[1:-1]
    weights[:ramp] = edge
    weights[n - ramp:] = edge.flip(0)
    return weights


def _coarse_any(mask: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Coarser-level cells that hold any selected finer cell."""
    from .region import downsample_mask

    return downsample_mask(mask, tuple(shape))
