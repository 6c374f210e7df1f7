"""The default training and evaluation of one ablation variant (what `specinpaint ablate` runs).

Training is the project's quantizer training (`train_quantizer`: checkpoints, resume, bundle) in
``variants/NAME/train``; an interrupted variant resumes from its last checkpoint and a variant whose
bundle is complete is only re-evaluated. Evaluation runs on the held-out split, the same notes for
every variant (spread evenly over the split, at most ``evaluation.max_notes``):

* ``*_vs_raw``: decoded audio (representation → quantizer → decoder → inverse) against the raw note;
* ``*_vs_roundtrip``: decoded audio against the representation's own round trip (no quantizer), i.e.
  what the quantizer loses on this representation;
* ``roundtrip_*``: the round trip against the raw note, i.e. what the representation itself loses;
* ``{level}_perplexity``, ``{level}_dead_fraction``: code usage over the held-out notes;
* ``{level}_silent_*``: codes in cells that are silent in the raw audio (see metrics/silence.py);
* ``pitch_accuracy``: pYIN on the decoded audio within ±0.5 semitone of the label, and
  ``raw_pitch_accuracy``, the same estimator on the raw notes (its ceiling on these notes).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from specinpaint.core.errors import DataError
from specinpaint.core.pipeline import Pipeline
from specinpaint.metrics.silence import code_entropy_bits, silent_cells

from .study import Study, Variant, VariantResult, run_study

log = logging.getLogger(__name__)

TRAIN_DIR = "train"
BUNDLE_NAME = "bundle"


def _device(preference: str) -> torch.device:
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preference)


def train_variant(variant: Variant, vdir: Path, progress: bool = True) -> Pipeline:
    """Train (or resume, or reuse) the variant's quantizer; returns the trained pipeline."""
    from specinpaint.training.quantizer_task import train_quantizer

    bundle = Path(vdir) / BUNDLE_NAME
    if bundle.is_dir():
        try:
            return Pipeline.load(bundle)
        except Exception as exc:  # an incomplete bundle is re-made from the checkpoints
            log.warning("%s: cannot reuse %s (%s); training again", variant.name, bundle, exc)
    torch.manual_seed(variant.config.training.quantizer.seed)
    pipeline = Pipeline(variant.config)
    result = train_quantizer(pipeline, out_dir=Path(vdir) / TRAIN_DIR, resume=True, progress=progress,
                             bundle_dir=bundle)
    return result.pipeline


def evaluation_notes(num_items: int, max_notes: int) -> list[int]:
    """Indices of the evaluation notes: at most ``max_notes`` spread evenly over the split."""
    if num_items <= max_notes:
        return list(range(num_items))
    if max_notes == 1:
        return [0]
    return sorted({int(round(i * (num_items - 1) / (max_notes - 1))) for i in range(max_notes)})


_RAW_PITCH: dict[str, torch.Tensor] = {}


def _raw_pitch(audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """pYIN of the raw notes, memoised by content: every variant evaluates the same notes."""
    import hashlib

    from specinpaint.metrics.pitch import estimate_midi

    key = hashlib.sha256(audio.contiguous().numpy().tobytes()).hexdigest() + f"@{sample_rate}"
    if key not in _RAW_PITCH:
        if len(_RAW_PITCH) > 8:
            _RAW_PITCH.clear()
        _RAW_PITCH[key] = estimate_midi(audio, sample_rate)
    return _RAW_PITCH[key]


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


@torch.no_grad()
def evaluate_variant(pipeline: Pipeline, variant: Variant) -> dict[str, float]:
    """Every metric column of the ablation table for one trained variant (see module docstring)."""
    from specinpaint.metrics.codebook import codebook_stats
    from specinpaint.metrics.pitch import estimate_midi, score_pitch
    from specinpaint.metrics.spectral import (
        log_spectral_distance,
        multi_resolution_stft_distance,
        spectral_convergence,
    )
    from specinpaint.training.data import AudioCollate, build_dataset

    ev = variant.evaluation
    config = pipeline.config
    split = ev.split or config.data.valid_split
    dataset = build_dataset(config, split)
    if len(dataset) == 0:
        raise DataError(f"evaluation split '{split}' has no notes")
    indices = evaluation_notes(len(dataset), ev.max_notes)
    collate = AudioCollate(config.num_samples)
    device = _device(ev.device)
    pipeline = pipeline.to(device).eval()
    levels = list(pipeline.quantizer.levels)
    num_codes = pipeline.quantizer.num_codes

    per_note: dict[str, list[float]] = defaultdict(list)
    codes_by_level: dict[str, list[torch.Tensor]] = defaultdict(list)
    silent_by_level: dict[str, list[torch.Tensor]] = defaultdict(list)
    decoded_all, raw_all, pitches = [], [], []
    pairs = (("vs_raw", "raw", "dec"), ("vs_roundtrip", "rt", "dec"), ("roundtrip", "raw", "rt"))
    for start in range(0, len(indices), ev.batch_size):
        batch = collate([dataset[i] for i in indices[start:start + ev.batch_size]])
        raw = batch.audio.to(device)
        spec = pipeline.spectrogram(raw)
        signals = {
            "raw": raw,
            "rt": pipeline.audio_from_spectrogram(spec, raw.shape[-1]),
        }
        codes = pipeline.quantizer.encode(spec)
        signals["dec"] = pipeline.audio_from_spectrogram(pipeline.quantizer.decode(codes), raw.shape[-1])
        for tag, ref, est in pairs:
            r, e = signals[ref].float(), signals[est].float()
            for name, fn in (("sc", spectral_convergence), ("lsd", log_spectral_distance),
                             ("mrstft", multi_resolution_stft_distance)):
                key = f"{name}_{tag}" if tag != "roundtrip" else f"roundtrip_{name}"
                per_note[key] += fn(r, e).double().cpu().tolist()
        for level in levels:
            level_codes = codes[level].cpu()
            codes_by_level[level].append(level_codes)
            silent_by_level[level].append(silent_cells(
                raw.cpu(), pipeline.representation, tuple(level_codes.shape[1:]), config.num_samples,
                ev.silence_db, ev.silence_n_fft, ev.silence_hop,
            ))
        decoded_all.append(signals["dec"].float().cpu())
        raw_all.append(raw.float().cpu())
        pitches.append(batch.pitch)

    metrics = {key: _mean(values) for key, values in per_note.items()}
    for level in levels:
        codes = torch.cat(codes_by_level[level])
        silent = torch.cat(silent_by_level[level])
        stats = codebook_stats(codes, num_codes[level])
        metrics[f"{level}_perplexity"] = stats.perplexity
        metrics[f"{level}_dead_fraction"] = stats.dead_fraction
        entropy, distinct, cells = code_entropy_bits(codes, silent)
        metrics[f"{level}_silent_entropy_bits"] = entropy
        metrics[f"{level}_silent_distinct_codes"] = float(distinct)
        metrics[f"{level}_silent_fraction"] = cells / codes.numel()
    if ev.pitch:
        target = torch.cat(pitches)
        rate = pipeline.sample_rate
        metrics["pitch_accuracy"] = float(score_pitch(estimate_midi(torch.cat(decoded_all), rate), target)["accuracy"])
        metrics["raw_pitch_accuracy"] = float(score_pitch(_raw_pitch(torch.cat(raw_all), rate), target)["accuracy"])
    metrics["notes"] = float(len(indices))
    return metrics


def run_default_study(study: Study, out_dir: str | Path, *, progress: bool = True, **kwargs: Any) -> list[VariantResult]:
    """:func:`run_study` with the project's quantizer training and the evaluation above."""

    def trainer(variant: Variant, vdir: Path) -> Pipeline:
        return train_variant(variant, vdir, progress=progress)

    return run_study(study, out_dir, trainer=trainer, evaluator=evaluate_variant, **kwargs)
