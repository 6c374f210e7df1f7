"""Inpainting: held-out notes with a region resampled under their own labels.

Three regions, as fractions of the pipeline's window and rows so they mean the same on any
pipeline: ``time`` (all frequencies over the second quarter of the note), ``frequency`` (the lowest
quarter of the rows over the whole note) and ``box`` (the middle half of the note × rows 1/8–1/2).
Per region:

* ``codes_outside_unchanged``: share of notes whose codes outside the edited cells are exactly the
  original ones, at every level (must be 1);
* ``outside_lsd_db`` (↓): log-spectral distance in dB between the result and the decoded original,
  over the linear-STFT bins outside the edited cells (what the edit leaks outside its region), and
  ``inside_lsd_db`` over the bins inside (how much the region changed);
* ``pitch_accuracy`` (↑) and ``family_accuracy`` (↑) of the result against the note's labels.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch

from specinpaint.core.region import Region
from specinpaint.core.registry import registry
from specinpaint.editing import Editor
from specinpaint.metrics.silence import block_edges

from .context import EvaluationContext
from .reconstruction import finite_mean

N_FFT, HOP = 2048, 512


def evaluation_regions(editor: Editor) -> dict[str, Region]:
    """The three regions in seconds × Hz (row fractions turned into Hz with the representation)."""
    seconds = editor.geometry.window_seconds
    freqs = editor.geometry.bin_frequencies()
    rows = freqs.numel()

    def hz(fraction: float) -> float:
        return float(freqs[min(rows - 1, round(fraction * rows))])

    return {
        "time": Region(time_s=(0.25 * seconds, 0.5 * seconds)),
        "frequency": Region(freq_hz=(0.0, hz(0.25))),
        "box": Region(time_s=(0.25 * seconds, 0.75 * seconds), freq_hz=(hz(0.125), hz(0.5))),
    }


def stft_cell_mask(mask: torch.Tensor, editor: Editor, num_samples: int) -> torch.Tensor:
    """A codemap mask ``[B, F, T]`` → linear-STFT bins ``[B, K, frames]`` inside masked cells."""
    pipeline = editor.pipeline
    _, rows, frames = pipeline.representation.output_shape(num_samples)
    row_edges = block_edges(editor.geometry.bin_frequencies(), mask.shape[-2])
    col_edges = block_edges(pipeline.representation.frame_times_s(frames).detach().double().cpu(), mask.shape[-1])
    sr = pipeline.sample_rate
    bin_hz = torch.arange(N_FFT // 2 + 1, dtype=torch.float64) * sr / N_FFT
    frame_s = torch.arange(num_samples // HOP + 1, dtype=torch.float64) * HOP / sr
    row = (torch.searchsorted(row_edges.contiguous(), bin_hz, right=True) - 1).clamp(0, mask.shape[-2] - 1)
    col = (torch.searchsorted(col_edges.contiguous(), frame_s, right=True) - 1).clamp(0, mask.shape[-1] - 1)
    return mask[:, row][:, :, col]


def masked_lsd_db(reference: torch.Tensor, estimate: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """RMS over the selected STFT bins of 20·log10(|Y|/|X|), per note ``[B]`` (NaN if none): the
    ``masked-log-spectral-distance`` plugin of the ``metrics`` registry."""
    metric = registry("metrics").build("masked-log-spectral-distance", {"n_fft": N_FFT, "hop_length": HOP})
    return metric(reference.float(), estimate.float(), where)


@torch.no_grad()
def evaluate_inpainting(ctx: EvaluationContext) -> dict[str, Any]:
    pipeline, spec = ctx.pipeline, ctx.spec
    ctx.ready_pipeline()
    editor = Editor(pipeline)
    batch = ctx.heldout(spec.inpainting_notes)
    codes = editor.encode_long(batch.audio)
    original = editor.decode_long(codes, pitch=batch.pitch.tolist(), family=batch.family.tolist()).float()
    per_region: dict[str, dict[str, float]] = {}
    overall: dict[str, list[float]] = defaultdict(list)
    for index, (name, region) in enumerate(evaluation_regions(editor).items()):
        result = editor.inpaint(codes, region, pitch=batch.pitch.tolist(), family=batch.family.tolist(),
                                  sampling={**spec.sampling, "seed": spec.seed + 17 * index})
        unchanged = torch.ones(codes.batch_size, dtype=torch.bool)
        for level in codes.levels:
            outside = ~result.masks[level]
            same = (result.codes[level] == codes[level]) | ~outside
            unchanged &= same.flatten(1).all(dim=1)
        inside = stft_cell_mask(result.masks[codes.levels[0]], editor, ctx.num_samples)
        audio = result.audio.float()
        outside_lsd = masked_lsd_db(original, audio, ~inside)
        inside_lsd = masked_lsd_db(original, audio, inside)
        pitch = ctx.score_pitch(ctx.estimate_pitch(audio), batch.pitch)
        entry = {
            "codes_outside_unchanged": float(unchanged.double().mean()),
            "outside_lsd_db": finite_mean(outside_lsd.tolist()),
            "inside_lsd_db": finite_mean(inside_lsd.tolist()),
            "pitch_accuracy": float(pitch["accuracy"]),
            "cells_changed_fraction": float(result.masks[codes.levels[0]].double().mean()),
        }
        families = ctx.family_accuracy(audio, batch.family)
        if families is not None:
            entry["family_accuracy"] = families[0]
        per_region[name] = entry
        for key, value in entry.items():
            overall[key].append(value)
    metrics = {"notes": float(codes.batch_size), **{key: finite_mean(values) for key, values in overall.items()}}
    metrics["codes_outside_unchanged"] = min(overall["codes_outside_unchanged"])
    return {"metrics": metrics, "per_region": per_region}
