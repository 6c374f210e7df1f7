"""Reconstruction: held-out notes encoded to codes and decoded back, compared with the raw notes.

* ``sc``, ``lsd_db``, ``mrstft`` (↓): spectral convergence, log-spectral distance, multi-resolution
  STFT distance of the decoded audio against the raw note;
* ``level_error_db_mean``/``_std``: decoded energy over raw energy in dB, per note (0 = same level);
* ``pitch_accuracy`` (↑): pYIN on the decoded notes within the tolerance of the label, next to
  ``raw_pitch_accuracy``, the same estimator on the raw notes (its ceiling on these notes);
* ``family_accuracy`` (↑): the family classifier on the decoded notes, next to ``raw_family_accuracy``;
* ``unlabelled_sc``, ``unlabelled_pitch_accuracy``: only for a quantizer whose decoder takes the
  notes' labels (decoded with them above): the same notes decoded without labels;
* ``estimated_pitch_sc``, ``estimated_pitch_accuracy``: the same notes decoded with the pitch
  estimated from the raw audio and no family, as the app and the CLI decode audio that comes
  without labels (`specinpaint.editing.pitch_estimate`);
* ``roundtrip_*``: the representation's own round trip (no quantizer) against the raw note, and
  ``*_vs_roundtrip``: decoded against that round trip (what the quantizer alone loses);
* ``{level}_perplexity`` (↑), ``{level}_dead_fraction`` (↓): code usage on these notes;
  ``{level}_cell_entropy_bits`` (↑): how much each cell's code varies from note to note (0: the
  level gives every note the same map, a collapsed level);
* ``{level}_silent_*``: codes in cells that are silent in the raw audio (metrics/silence.py).

Every measure is a plugin of the ``metrics`` registry, looked up by name (`DISTANCES`,
`SILENCE_METRIC`, and ``pitch-accuracy`` in the context) as a third-party metric would be.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import torch

from specinpaint.core.conditioning import NULL_LABEL, Conditioning
from specinpaint.core.registry import registry
from specinpaint.editing.labels import LabelVocabulary
from specinpaint.editing.pitch_estimate import pitch_labels
from specinpaint.metrics.codebook import cell_entropy_bits, codebook_stats

from . import notes
from .context import EvaluationContext

#: Column → name of a ``metrics`` plugin ``metric(reference [B, N], estimate [B, N]) -> [B]``,
#: built with its default params.
DISTANCES: dict[str, str] = {"sc": "spectral-convergence", "lsd_db": "log-spectral-distance", "mrstft": "mrstft"}
SILENCE_METRIC = "silent-code-entropy"


def level_error_db(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """Energy of ``estimate`` over energy of ``reference`` in dB, per note ``[B]``."""
    ref = reference.double().square().sum(-1).clamp_min(1e-12)
    est = estimate.double().square().sum(-1).clamp_min(1e-12)
    return 10.0 * torch.log10(est / ref)


def finite_mean(values: list[float]) -> float:
    kept = [v for v in values if math.isfinite(v)]
    return sum(kept) / len(kept) if kept else math.nan


def finite_std(values: list[float]) -> float:
    kept = [v for v in values if math.isfinite(v)]
    if len(kept) < 2:
        return math.nan
    mean = sum(kept) / len(kept)
    return math.sqrt(sum((v - mean) ** 2 for v in kept) / (len(kept) - 1))


@torch.no_grad()
def evaluate_reconstruction(ctx: EvaluationContext) -> dict[str, Any]:
    pipeline, spec = ctx.pipeline, ctx.spec
    device = ctx.ready_pipeline()
    indices = notes.spread(len(ctx.dataset), spec.reconstruction_notes)
    levels = list(pipeline.quantizer.levels)
    metrics_registry = registry("metrics")
    distances = {column: metrics_registry.build(name, {}) for column, name in DISTANCES.items()}
    silence = metrics_registry.build(SILENCE_METRIC, {"silence_db": spec.silence_db, "n_fft": spec.silence_n_fft,
                                                      "hop": spec.silence_hop})
    per_note: dict[str, list[float]] = defaultdict(list)
    codes_by_level: dict[str, list[torch.Tensor]] = defaultdict(list)
    silent_by_level: dict[str, list[torch.Tensor]] = defaultdict(list)
    raw_all, decoded_all, pitch_all, family_all, unlabelled_all, codes_all = [], [], [], [], [], []
    labelled = pipeline.quantizer.label_conditioned
    for batch in notes.batches(ctx.dataset, indices, ctx.num_samples, spec.batch_size):
        raw = batch.audio.to(device)
        spectrogram = pipeline.spectrogram(raw)
        codes = pipeline.quantizer.encode(spectrogram)
        labels = batch.conditioning()
        decoded = pipeline.decode(codes, raw.shape[-1], labels).float()
        signals = {"raw": raw.float(), "dec": decoded}
        pairs = [("", "raw", "dec")]
        if spec.roundtrip:
            signals["rt"] = pipeline.audio_from_spectrogram(spectrogram, raw.shape[-1], labels.pitch).float()
            pairs += [("roundtrip_", "raw", "rt"), ("vs_roundtrip_", "rt", "dec")]
        for prefix, ref, est in pairs:
            for name, distance in distances.items():
                key = f"{name}_vs_roundtrip" if prefix == "vs_roundtrip_" else f"{prefix}{name}"
                per_note[key] += distance(signals[ref], signals[est]).double().cpu().tolist()
        per_note["level_error_db"] += level_error_db(signals["raw"], decoded).cpu().tolist()
        for level in levels:
            level_codes = codes[level].cpu()
            codes_by_level[level].append(level_codes)
            silent_by_level[level].append(silence.silent_cells(
                raw.cpu(), pipeline.representation, tuple(level_codes.shape[1:]), ctx.num_samples,
            ))
        if labelled:
            unlabelled = pipeline.audio_from_spectrogram(pipeline.decode_codes(codes), raw.shape[-1]).float()
            per_note["unlabelled_sc"] += distances["sc"](raw.float(), unlabelled).double().cpu().tolist()
            unlabelled_all.append(unlabelled.cpu())
            codes_all.append(codes)
        raw_all.append(raw.float().cpu())
        decoded_all.append(decoded.cpu())
        pitch_all.append(batch.pitch)
        family_all.append(batch.family)

    raw, decoded = torch.cat(raw_all), torch.cat(decoded_all)
    pitch, family = torch.cat(pitch_all), torch.cat(family_all)
    metrics: dict[str, float] = {"notes": float(len(indices))}
    metrics.update({key: finite_mean(values) for key, values in per_note.items() if key != "level_error_db"})
    metrics["level_error_db_mean"] = finite_mean(per_note["level_error_db"])
    metrics["level_error_db_std"] = finite_std(per_note["level_error_db"])
    decoded_pitch = ctx.score_pitch(ctx.estimate_pitch(decoded), pitch)
    raw_pitch = ctx.score_pitch(ctx.estimate_pitch(raw), pitch)
    metrics["pitch_accuracy"] = float(decoded_pitch["accuracy"])
    metrics["raw_pitch_accuracy"] = float(raw_pitch["accuracy"])
    metrics["octave_error_rate"] = float(decoded_pitch["octave_error_rate"])
    if labelled:
        unlabelled_pitch = ctx.score_pitch(ctx.estimate_pitch(torch.cat(unlabelled_all)), pitch)
        metrics["unlabelled_pitch_accuracy"] = float(unlabelled_pitch["accuracy"])
        metrics.update(_estimated_pitch_decoding(ctx, codes_all, raw_all, raw_pitch["midi"], pitch, distances["sc"]))
    families = ctx.family_accuracy(decoded, family)
    if families is not None:
        metrics["family_accuracy"] = families[0]
        metrics["raw_family_accuracy"] = ctx.family_accuracy(raw, family)[0]  # type: ignore[index]
    num_codes = pipeline.quantizer.num_codes
    for level in levels:
        level_codes = torch.cat(codes_by_level[level])
        stats = codebook_stats(level_codes, num_codes[level])
        metrics[f"{level}_perplexity"] = stats.perplexity
        metrics[f"{level}_dead_fraction"] = stats.dead_fraction
        metrics[f"{level}_cell_entropy_bits"] = cell_entropy_bits(level_codes, num_codes[level])
        entropy, distinct, cells = silence(level_codes, torch.cat(silent_by_level[level]))
        metrics[f"{level}_silent_entropy_bits"] = entropy
        metrics[f"{level}_silent_distinct_codes"] = float(distinct)
        metrics[f"{level}_silent_fraction"] = cells / level_codes.numel()
    details = {
        "level_error_db": per_note["level_error_db"],
        "sc": per_note["sc"],
        "pitch": pitch.tolist(),
        "estimated_midi": [None if not math.isfinite(v) else round(v, 3) for v in decoded_pitch["midi"].tolist()],
        "raw_estimated_midi": [None if not math.isfinite(v) else round(v, 3) for v in raw_pitch["midi"].tolist()],
    }
    return {"metrics": metrics, "details": details}


def _estimated_pitch_decoding(
    ctx: EvaluationContext, codes_all: list, raw_all: list[torch.Tensor], raw_midi: torch.Tensor,
    pitch: torch.Tensor, sc: Any,
) -> dict[str, float]:
    """SC and pitch accuracy of the notes decoded with the pitch pYIN estimated on the raw notes
    (rounded to a MIDI note of the bundle's range, null where unvoiced) and no family."""
    pipeline = ctx.pipeline
    labels = pitch_labels(raw_midi, LabelVocabulary.of(pipeline).pitch_range)
    decoded_all, sc_all, start = [], [], 0
    for codes, raw in zip(codes_all, raw_all, strict=True):
        count = raw.shape[0]
        guessed = labels[start:start + count]
        start += count
        conditioning = Conditioning(pitch=guessed, family=torch.full_like(guessed, NULL_LABEL))
        decoded = pipeline.decode(codes, raw.shape[-1], conditioning).float()
        sc_all += sc(raw.to(decoded.device), decoded).double().cpu().tolist()
        decoded_all.append(decoded.cpu())
    scored = ctx.score_pitch(ctx.estimate_pitch(torch.cat(decoded_all)), pitch)
    return {"estimated_pitch_sc": finite_mean(sc_all), "estimated_pitch_accuracy": float(scored["accuracy"])}
