"""Where a pipeline loses the instrument family: the evaluation's family classifier on the same
held-out notes at each step from the raw audio to a generated note.

    python scripts/family_probe.py BUNDLE [--per-family 10] [--seed 0] [--generate] [--pooled]
                                          [--split-level DB ...]

Rows: the raw notes; the representation's own round trip (no quantizer); the reconstruction with
the notes' labels and without; the reconstruction's level channel with the raw notes' phase
channel, and the raw level with the reconstruction's phase (which channel carries the loss); with
``--generate``, notes generated at the same labels; with ``--pooled``, the raw level channel
averaged over the cells of the finest code map (over time, over frequency, over both) and decoded
with the raw phase: how much of the family a decoder could keep if it knew only each cell's mean
level, i.e. whether the code grid's resolution is what loses it; with ``--split-level DB``, the
level channel taken from the raw note where the raw note is within DB decibels of its peak and from
the reconstruction below (and the other way round): whether the family is lost in the loud
harmonics or in the quiet parts (tails, noise, the valleys between harmonics). Each row prints the accuracy and how many notes
the classifier put in each family, so a collapse onto a few families shows. The classifier is the
one `specinpaint evaluate` trained and cached for the bundle's dataset (trained now if missing).
Why a script: it answers a research question about one bundle; `evaluate` reports the measures.
"""

from __future__ import annotations

import argparse
import collections
import math
import random
from collections.abc import Callable

import torch

from specinpaint.core.bundle import load_bundle
from specinpaint.core.conditioning import Conditioning
from specinpaint.core.pipeline import Pipeline
from specinpaint.editing import Editor
from specinpaint.editing.attenuate import db_per_log_unit
from specinpaint.studies.context import EvaluationContext
from specinpaint.studies.evaluation_spec import EvaluationSpec
from specinpaint.training.data import build_dataset


def pooled_rows(pipeline: Pipeline, spec: torch.Tensor,
                to_audio: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, torch.Tensor]:
    """The raw level channel replaced by its mean over each cell of the finest code map (rows ×
    frames per cell), along time, frequency or both; the phase channel stays raw."""
    finest = pipeline.quantizer.levels[-1]
    cells = pipeline.codemap_shapes[finest]
    if spec.shape[-2] % cells[0] or spec.shape[-1] % cells[1]:
        raise SystemExit(f"--pooled: the spectrogram {tuple(spec.shape[-2:])} is not a whole number of "
                         f"{finest} cells {tuple(cells)}")
    rows_per_cell, frames_per_cell = spec.shape[-2] // cells[0], spec.shape[-1] // cells[1]
    level = pipeline.representation.level_channel
    out = {}
    for name, kernel in {f"raw level, mean over {frames_per_cell} frames": (1, frames_per_cell),
                         f"raw level, mean over {rows_per_cell} rows": (rows_per_cell, 1),
                         f"raw level, mean per {finest} cell": (rows_per_cell, frames_per_cell)}.items():
        channel = spec[:, level:level + 1]
        pooled = torch.nn.functional.avg_pool2d(channel, kernel)
        mixed = spec.clone()
        mixed[:, level:level + 1] = torch.nn.functional.interpolate(pooled, size=channel.shape[-2:], mode="nearest")
        out[name] = to_audio(mixed)
    return out


def relative_level_db(pipeline: Pipeline, spec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(level in dB, level in dB relative to each note's peak), both ``[B, F, T]``, of the
    spectrogram as it is heard: after the representation's ``clean`` (the phase threshold's
    floor), which decoding applies too (a decoder trained with ``recon_after_clean`` may output
    anything under that floor)."""
    rep = pipeline.representation
    level = rep.clean(pipeline.normalizer.denormalize(spec))[:, rep.level_channel]
    db = level * db_per_log_unit(rep)
    return db, db - db.amax(dim=(-2, -1), keepdim=True)


def level_error_by_band(pipeline: Pipeline, spec: torch.Tensor, recon: torch.Tensor,
                        edges: tuple[float, ...] = (20.0, 40.0, 60.0, 80.0)) -> list[tuple[str, float, float, float]]:
    """(band of the raw bins' distance below their note's peak, share of the bins, mean
    reconstructed − raw level, mean absolute difference), in dB."""
    raw_db, relative = relative_level_db(pipeline, spec)
    error = relative_level_db(pipeline, recon)[0] - raw_db
    bounds = [0.0, *edges, math.inf]
    out = []
    for upper, lower in zip(bounds[:-1], bounds[1:], strict=True):
        inside = (relative <= -upper) & (relative > -lower) if upper else relative > -lower
        name = f"{upper:g}-{lower:g} dB below" if math.isfinite(lower) else f"more than {upper:g} dB below"
        values = error[inside]
        out.append((name, float(inside.float().mean()), float(values.mean()) if values.numel() else math.nan,
                    float(values.abs().mean()) if values.numel() else math.nan))
    return out


def level_split_rows(pipeline: Pipeline, spec: torch.Tensor, recon: torch.Tensor, decibels: list[float],
                     to_audio: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, torch.Tensor]:
    """The level channel from the raw note in its bins within ``decibels`` of the note's peak and
    from the reconstruction elsewhere, and the other way round (the same raw mask both times); then
    the raw note's quiet bins split in two, each taken alone from the raw note: the frames where
    the note has ended (its loudest bin under the cut) and the quiet bins of the frames where it
    sounds. The phase channel stays the reconstruction's (Griffin-Lim rebuilds it anyway)."""
    level = pipeline.representation.level_channel
    relative_db = relative_level_db(pipeline, spec)[1]
    out = {}
    for db in decibels:
        loud = relative_db > -db
        for name, (inside, outside) in {f"raw level above -{db:g} dB, recon below": (spec, recon),
                                        f"recon level above -{db:g} dB, raw below": (recon, spec)}.items():
            mixed = recon.clone()
            mixed[:, level] = torch.where(loud, inside[:, level], outside[:, level])
            out[name] = to_audio(mixed)
        # the quiet bins split in two: frames where the note has ended (its loudest bin under the
        # cut) and the quiet bins of the frames where it still sounds (between its harmonics)
        ended = (relative_db.amax(dim=-2, keepdim=True) <= -db).expand_as(relative_db)
        for name, mask in {f"raw on frames ended (< -{db:g} dB), recon elsewhere": ended,
                           f"raw on bins < -{db:g} dB while sounding, recon elsewhere": ~loud & ~ended}.items():
            mixed = recon.clone()
            mixed[:, level] = torch.where(mask, spec[:, level], recon[:, level])
            out[name] = to_audio(mixed)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--per-family", type=int, default=10, help="validation notes per family")
    parser.add_argument("--seed", type=int, default=0, help="which notes are drawn, and the generation seed")
    parser.add_argument("--generate", action="store_true", help="also generate notes at the same labels")
    parser.add_argument("--pooled", action="store_true",
                        help="also the raw level channel averaged over the finest code map's cells")
    parser.add_argument("--split-level", type=float, nargs="+", default=[], metavar="DB",
                        help="also mix raw and reconstructed level at these decibels below each note's peak")
    args = parser.parse_args()

    pipeline = load_bundle(args.bundle).eval()
    dataset = build_dataset(pipeline.config, "valid")
    context = EvaluationContext(pipeline, dataset, EvaluationSpec(device="cpu"),
                                train_dataset=build_dataset(pipeline.config, "train"))
    classifier = context.classifier
    if classifier is None:
        raise SystemExit("the dataset has no family labels to classify")
    by_family = collections.defaultdict(list)
    for index, family in enumerate(dataset.families):
        by_family[int(family)].append(index)
    rng = random.Random(args.seed)
    chosen = [i for f in sorted(by_family) for i in rng.sample(by_family[f], min(args.per_family, len(by_family[f])))]
    samples = pipeline.config.num_samples
    audio = torch.stack([torch.as_tensor(dataset[i]["audio"]).float().reshape(-1)[:samples] for i in chosen])
    pitch = torch.tensor([int(dataset.pitches[i]) for i in chosen])
    family = torch.tensor([int(dataset.families[i]) for i in chosen])
    labels = Conditioning(pitch=pitch, family=family)

    rows: dict[str, torch.Tensor] = {"raw notes": audio}
    with torch.no_grad():
        spec = pipeline.spectrogram(audio)
        codes = pipeline.quantizer.encode(spec)
        recon = pipeline.decode_codes(codes, labels)
        # every row but "no labels" is decoded as the pipeline decodes labelled notes: with their pitch
        to_audio = lambda s: pipeline.audio_from_spectrogram(s, samples, labels.pitch)  # noqa: E731
        level = pipeline.representation.level_channel
        rows["representation round trip"] = to_audio(spec)
        rows["reconstruction, labelled"] = to_audio(recon)
        rows["reconstruction, no labels"] = pipeline.audio_from_spectrogram(pipeline.decode_codes(codes), samples)
        for name, (keep, other) in {"reconstructed level + raw phase": (recon, spec),
                                    "raw level + reconstructed phase": (spec, recon)}.items():
            mixed = other.clone()
            mixed[:, level] = keep[:, level]
            rows[name] = to_audio(mixed)
        if args.pooled:
            rows.update(pooled_rows(pipeline, spec, to_audio))
        if args.split_level:
            rows.update(level_split_rows(pipeline, spec, recon, args.split_level, to_audio))
        if args.generate:
            editor = Editor(pipeline)
            rows["generated (bundle's sampling)"] = editor.generate(
                pitch.tolist(), family.tolist(), n=len(chosen), sampling={"seed": args.seed}).audio

    print(f"{len(chosen)} validation notes; classifier held-out accuracy (ceiling) {classifier.heldout_accuracy:.3f}")
    for name, notes in rows.items():
        predicted = classifier.predict(notes.float())
        accuracy = float((predicted == family).float().mean())
        counts = collections.Counter(predicted.tolist())
        print(f"{name:34s} {accuracy:6.3f}   predicted families {sorted(counts.items())}")
    if args.split_level:
        print("reconstruction's level error by the raw bin's distance below its note's peak:")
        for band, share, mean, absolute in level_error_by_band(pipeline, spec, recon):
            print(f"  {band:24s} share {share:.3f}  reconstructed - raw {mean:+.1f} dB  mean |error| {absolute:.1f} dB")


if __name__ == "__main__":
    main()
