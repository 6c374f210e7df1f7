"""Long notes (issue 14, part 4): render sustained notes longer than a window, store their codes
for random-crop prior training, and measure whether a middle window that knows its start joins
its neighbours better than one modelled as a note's onset.

Two measurements, on notes whose true codes are known:

* **window NLL**: each prior's mean negative log-likelihood of the true codes of every window of a
  long note (top: all tokens hidden, autoregressive; bottom: teacher-forced given the true top),
  at the window's right ``time_offset`` against offset 0. A prior that learned where windows lie
  should find the middle windows likelier at their own offsets.
* **seam flux**: the middle ``region`` columns are resampled (top and bottom) by the editor's long
  windows, with offsets and with every offset 0 (same weights: the priors' ``max_time_offset`` is
  set to 0 for the run); the decoded level channel's spectral flux (mean |Δ| between consecutive
  frames, per frame pair) at the region's two seams is compared with the flux of the original
  codes decoded the same way. Lower excess flux at the seams = a smoother join.

Command line (after training priors with ``training.prior_<level>.random_crop=true``)::

    python -m specinpaint.studies.long_notes codes BUNDLE OUT_DIR [--seconds 12 ...]
    python -m specinpaint.studies.long_notes measure BUNDLE CODE_STORE [--json OUT.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from specinpaint.core.codemaps import Codemaps
from specinpaint.core.conditioning import NSYNTH_FAMILIES, Conditioning
from specinpaint.core.pipeline import Pipeline
from specinpaint.data.code_store import CodeStore, CodeStoreWriter
from specinpaint.editing import Editor

log = logging.getLogger(__name__)

#: families whose SoundFont patches hold a note (a middle window is a sustained tone)
SUSTAINED_FAMILIES = ("brass", "flute", "organ", "reed", "string", "synth_lead", "vocal")


# -- long notes and their codes ----------------------------------------------------------------
def render_long_notes(
    seconds: float = 12.0, release_seconds: float = 1.0, families: Sequence[str] = SUSTAINED_FAMILIES,
    programs_per_family: int = 2, pitch_step: int = 5, sample_rate: int = 16000, peak_db: float = -6.0,
    soundfont: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Sustained SoundFont notes: note-on at 0, note-off ``release_seconds`` before the end, each
    normalised to ``peak_db``; every ``pitch_step``-th pitch of each program's natural range.
    Items: ``audio`` (float32 [N]), ``pitch``, ``family``, ``name``."""
    from specinpaint.data.gm_programs import programs_for
    from specinpaint.data.soundfont_synth import SoundFontSynth, default_soundfont

    synth = SoundFontSynth(soundfont or default_soundfont(), sample_rate)
    n = round(seconds * sample_rate)
    off = round((seconds - release_seconds) * sample_rate)
    notes = []
    for family in families:
        chosen = [p for p in programs_for(family) if synth.has_program(p.program)][:programs_per_family]
        for program in chosen:
            lo, hi = max(24, program.natural_range[0]), min(84, program.natural_range[1])
            for pitch in range(lo, hi + 1, pitch_step):
                audio = synth.render(program.program, pitch, 100, n, off)
                peak = float(np.abs(audio).max())
                if not math.isfinite(peak) or peak < 1e-4:
                    continue
                audio = audio * np.float32(10 ** (peak_db / 20) / peak)
                notes.append({"audio": audio, "pitch": pitch, "family": NSYNTH_FAMILIES.index(family),
                              "name": f"{family}_{program.program:03d}-{pitch:03d}-100"})
    return notes


def extract_long_codes(
    pipeline: Pipeline, notes: Sequence[dict[str, Any]], out_dir: str | Path, split: str | None = None
) -> CodeStore:
    """Codemaps of whole long notes (window by window, `editing.windows.encode_long`) into a code
    store; ``meta.quantizer_date`` is the bundle's, so ``specinpaint train prior-* --codes`` reuses
    it. Every note must have the same length."""
    editor = Editor(pipeline)
    maps: list[Codemaps] = []
    for note in notes:
        maps.append(editor.encode_long(torch.as_tensor(note["audio"])[None]))
    shapes = {lvl: tuple(maps[0][lvl].shape[1:]) for lvl in maps[0].levels}
    trained = pipeline.extras.get("trained", {}).get("quantizer", {})
    meta = {"pipeline": pipeline.config.name, "quantizer_date": trained.get("date"), "long_notes": True,
            "columns": shapes[editor.geometry.levels[0]][1]}
    with CodeStoreWriter(out_dir, shapes, dict(pipeline.quantizer.num_codes), len(maps), split=split,
                         meta=meta) as writer:
        for note, codes in zip(notes, maps, strict=True):
            writer.append(codes, [note["pitch"]], [note["family"]], [note["name"]])
    return CodeStore(out_dir, verify=False)


# -- measurements ------------------------------------------------------------------------------
@contextlib.contextmanager
def offsets_off(pipeline: Pipeline) -> Iterator[None]:
    """Every prior with a time table behaves as if it had none (offsets clamp to 0, the editor
    passes none) for the duration: the same weights, every window a note's start."""
    saved = {}
    for level, prior in pipeline.priors.items():
        params = getattr(prior, "params", None)
        if params is not None and getattr(params, "max_time_offset", 0):
            saved[level] = params
            prior.params = params.model_copy(update={"max_time_offset": 0})
    try:
        yield
    finally:
        for level, params in saved.items():
            pipeline.priors[level].params = params


def window_nll(pipeline: Pipeline, codes: Codemaps, conditioning: Conditioning) -> dict[str, Any]:
    """Per level and window start (coarsest columns): mean NLL of the true codes with the right
    offset and with offset 0. Keys ``{level: {"right": [..], "zero": [..], "starts": [..]}}``."""
    editor = Editor(pipeline)
    geometry = editor.geometry
    columns = codes[geometry.levels[0]].shape[-1]
    w = geometry.window_columns
    starts = list(range(0, columns - w + 1))
    out: dict[str, Any] = {}
    device = pipeline.device
    cond = conditioning.to(device)
    for level, prior in pipeline.priors.items():
        right, zero = [], []
        r = geometry.ratios[level]
        with editor.inference():
            for start in starts:
                window = geometry.slice(codes, start, w).to(device)
                mask = torch.ones_like(window[level], dtype=torch.bool)
                for offset, into in ((start * r, right), (0, zero)):
                    kwargs = {"time_offset": offset} if prior.max_time_offset > 0 else {}
                    loss = prior.loss(window, cond, mask, **kwargs)
                    into.append(float(loss.metrics.get("ar_loss", loss.loss.item())))
        out[level] = {"starts": starts, "right": right, "zero": zero}
    return out


def frame_flux(spec: torch.Tensor) -> torch.Tensor:
    """Spectral flux of a level channel ``[B, F, T]``: mean |Δ| over rows per frame pair → ``[B, T-1]``."""
    return (spec[..., 1:] - spec[..., :-1]).abs().mean(dim=-2)


def seam_flux(
    pipeline: Pipeline, codes: Codemaps, conditioning: Conditioning, region: tuple[int, int],
    seeds: Sequence[int] = (0, 1, 2),
) -> dict[str, Any]:
    """Resample coarsest columns ``[a, b)`` of every note (all rows, top then bottom) with right
    offsets and with offsets off; the mean flux of the decoded level channel at the two seams
    (frame pairs across columns a and b), for the original codes too, and inside the region.
    Keys: ``original``, ``right``, ``zero`` (seam flux), ``*_inside`` (mean flux inside)."""
    editor = Editor(pipeline)
    geometry = editor.geometry
    columns = editor.check_codes(codes)
    a, b = region
    channel = editor.level_channel
    masks = {lvl: torch.zeros(codes.batch_size, *shape, dtype=torch.bool)
             for lvl, shape in geometry.level_shapes(columns).items()}
    for lvl in geometry.levels:
        r = geometry.ratios[lvl]
        masks[lvl][..., a * r:b * r] = True

    def measure(maps: Codemaps) -> tuple[float, float]:
        spec = editor.decode_spectrogram(maps, pitch=conditioning.pitch.tolist(),
                                         family=conditioning.family.tolist())[:, channel]
        per_column = spec.shape[-1] // columns
        flux = frame_flux(spec)  # pair j: frames j → j + 1
        seams = [a * per_column - 1, b * per_column - 1]
        seams = [s for s in seams if 0 <= s < flux.shape[-1]]
        inside = flux[..., a * per_column:b * per_column - 1]
        return float(flux[..., seams].mean()), float(inside.mean())

    original = measure(codes)
    results: dict[str, list[tuple[float, float]]] = {"right": [], "zero": []}
    for seed in seeds:
        options = editor.sampling_options(None, seed=seed)
        for key in ("right", "zero"):
            ctx = offsets_off(pipeline) if key == "zero" else contextlib.nullcontext()
            with ctx:
                new = editor.resample(codes, columns, masks, geometry.levels[0], conditioning, options, decode=False)
            results[key].append(measure(new.codes))
    out: dict[str, Any] = {"original": original[0], "original_inside": original[1], "region": [a, b],
                           "seeds": list(seeds)}
    for key, values in results.items():
        out[key] = float(np.mean([v[0] for v in values]))
        out[f"{key}_inside"] = float(np.mean([v[1] for v in values]))
    return out


def long_note_report(pipeline: Pipeline, store: CodeStore, max_notes: int = 16,
                     seeds: Sequence[int] = (0, 1, 2)) -> dict[str, Any]:
    """Both measurements on the first ``max_notes`` notes of a store of long notes. The resampled
    region is ``W`` coarsest columns in the middle of the note, moved one column right when its
    seams would fall on the edges of the windows `decode_spectrogram` decodes (non-overlapping,
    each with edge flux of its own): 12 columns, W = 4 → columns 5–8."""
    count = min(max_notes, len(store))
    codes, conditioning = store.batch(list(range(count)))
    geometry = Editor(pipeline).geometry
    columns = codes[geometry.levels[0]].shape[-1]
    w = geometry.window_columns
    a = max(0, (columns - w) // 2)
    if a % w == 0 and a + w < columns:  # seams off the decoder's window edges, which have flux of their own
        a += 1
    nll = window_nll(pipeline, codes, conditioning)
    middle = [i for i, s in enumerate(nll[geometry.levels[0]]["starts"]) if 0 < s < columns - w]
    summary = {
        level: {
            "middle_right": float(np.mean([v["right"][i] for i in middle])) if middle else float("nan"),
            "middle_zero": float(np.mean([v["zero"][i] for i in middle])) if middle else float("nan"),
            "first_right": v["right"][0], "first_zero": v["zero"][0],
        }
        for level, v in nll.items()
    }
    flux = seam_flux(pipeline, codes, conditioning, (a, a + w), seeds)
    return {"notes": count, "columns": columns, "window_columns": w,
            "max_time_offset": {lvl: p.max_time_offset for lvl, p in pipeline.priors.items()},
            "nll": nll, "nll_summary": summary, "seam_flux": flux}


# -- command line ------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m specinpaint.studies.long_notes", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    codes = sub.add_parser("codes", help="render long notes and store their codes (train/valid splits)")
    codes.add_argument("bundle")
    codes.add_argument("out", help="code directory: OUT/train, OUT/valid")
    codes.add_argument("--seconds", type=float, default=12.0)
    codes.add_argument("--pitch-step", type=int, default=5)
    codes.add_argument("--programs-per-family", type=int, default=2)
    codes.add_argument("--valid-every", type=int, default=5, help="every Nth note goes to valid")
    measure = sub.add_parser("measure", help="window NLL and seam flux on a store of long notes")
    measure.add_argument("bundle")
    measure.add_argument("store")
    measure.add_argument("--notes", type=int, default=16)
    measure.add_argument("--seeds", type=int, default=3)
    measure.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    pipeline = Pipeline.load(args.bundle).eval()
    if args.command == "codes":
        notes = render_long_notes(args.seconds, pitch_step=args.pitch_step, programs_per_family=args.programs_per_family)
        valid = [n for i, n in enumerate(notes) if i % args.valid_every == 0]
        train = [n for i, n in enumerate(notes) if i % args.valid_every != 0]
        for split, items in (("train", train), ("valid", valid)):
            store = extract_long_codes(pipeline, items, Path(args.out) / split, split)
            print(f"{split}: {store}")
        return 0
    report = long_note_report(pipeline, CodeStore(args.store), args.notes, tuple(range(args.seeds)))
    text = json.dumps(report, indent=1)
    if args.json:
        Path(args.json).write_text(text)
    print(json.dumps({"nll_summary": report["nll_summary"], "seam_flux": report["seam_flux"]}, indent=1))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
