"""SoundFont renderer: writes an NSynth-format dataset (``<split>/examples.json`` +
``<split>/audio/<note_str>.wav``) from one or more General MIDI SoundFonts.

Each note: note-on at 0 s, note-off at 3 s, 4 s long, 16 kHz mono 16-bit PCM, velocities from
NSynth's 25/50/75/100/127. GM programs map to the 11 NSynth families by the table in
`gm_programs` (drums never used). Each instrument gets one gain, calibrated so the median peak of
its velocity-127 notes sits at ``spec.target_peak_db`` (SoundFonts differ by 20 dB in level), so
velocity dynamics inside an instrument are kept. A note whose peak then exceeds full scale
(clipped: usually a resonant-filter blow-up in the patch), that is silent (below
``spec.silence_db``) or that is not finite is rejected and counted in ``render_report.json``.

Deterministic: the plan depends only on the spec (seeded NumPy generator) and every note is
played on a fresh clone of the SoundFont, so audio and JSON are identical for any worker count.
The output directory is built under a temporary name and swapped in only when complete.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from specinpaint.core.atomic import atomic_directory, sha256_file
from specinpaint.core.conditioning import NSYNTH_FAMILIES, NSYNTH_SOURCES
from specinpaint.core.errors import DataError

from .gm_programs import GMProgram, lookup, programs_for
from .note_qualities import note_qualities
from .nsynth_format import (
    AUDIO_DIR,
    EXAMPLES_FILE,
    NOTE_OFF_SECONDS,
    NUM_SAMPLES,
    SAMPLE_RATE,
    make_record,
    note_name,
)
from .render_spec import RenderSpec
from .soundfont_synth import INSTALLED, SoundFontSynth, default_soundfont, installed_soundfonts

log = logging.getLogger(__name__)
RENDERER_VERSION = 2  # bump when the audio or metadata produced for a given spec changes
REPORT_FILE = "render_report.json"
CALIBRATION_PITCHES = 5
IN_PROCESS_BELOW = 256  # fewer notes than this: no worker pool (startup would dominate)


@dataclass(frozen=True)
class Instrument:
    index: int  # NSynth "instrument" id
    instrument_str: str  # e.g. guitar_acoustic_000
    program: int
    family: int
    source: int
    soundfont: int  # index into the SoundFont list
    pitches: tuple[int, ...]
    gain: float = 1.0


@dataclass(frozen=True)
class NoteJob:
    note_str: str
    split: str
    instrument: int  # index into the instrument list
    pitch: int
    velocity: int


# ------------------------------------------------------------------------------------------ planning
def _pitches(spec: RenderSpec, program: GMProgram) -> tuple[int, ...]:
    lo, hi = spec.pitch_min, spec.pitch_max
    if spec.natural_ranges:
        nat_lo, nat_hi = program.natural_range
        lo, hi = max(lo, nat_lo), min(hi, nat_hi)
    return tuple(p for p in range(lo, hi + 1) if (p - spec.pitch_min) % spec.pitch_step == 0)


def select_instruments(
    spec: RenderSpec, synths: Sequence[SoundFontSynth]
) -> tuple[list[Instrument], list[dict[str, Any]]]:
    """(instruments to render, programs left out with the reason)."""
    rng = np.random.default_rng(spec.seed)
    wanted = [lookup(p) for p in spec.programs] if spec.programs else [
        p for family in spec.families for p in programs_for(family)
    ]
    left_out: list[dict[str, Any]] = []
    candidates: list[tuple[int, GMProgram]] = []
    for sf_index, synth in enumerate(synths):
        for program in wanted:
            if not synth.has_program(program.program):
                left_out.append({"program": program.program, "soundfont": sf_index, "reason": "not in SoundFont"})
            elif not _pitches(spec, program):
                left_out.append({"program": program.program, "soundfont": sf_index, "reason": "no pitch in range"})
            else:
                candidates.append((sf_index, program))
    chosen = candidates
    if spec.programs is None and spec.instruments_per_family is not None:
        chosen = []
        for family in range(len(NSYNTH_FAMILIES)):
            pools = []
            for source in range(len(NSYNTH_SOURCES)):
                pool = [c for c in candidates if c[1].family == family and c[1].source == source]
                pools.append([pool[i] for i in rng.permutation(len(pool))])
            taken: list[tuple[int, GMProgram]] = []
            while len(taken) < spec.instruments_per_family and any(pools):
                for pool in pools:  # round-robin over sources: mix acoustic/electronic/synthetic
                    if pool and len(taken) < spec.instruments_per_family:
                        taken.append(pool.pop(0))
            chosen += taken
    chosen.sort(key=lambda c: (c[1].family, c[1].source, c[0], c[1].program))
    counters: dict[tuple[int, int], int] = {}
    instruments = []
    for index, (sf_index, program) in enumerate(chosen):
        key = (program.family, program.source)
        counters[key] = counters.get(key, -1) + 1
        name = f"{program.family_str}_{program.source_str}_{counters[key]:03d}"
        instruments.append(Instrument(index, name, program.program, program.family, program.source,
                                      sf_index, _pitches(spec, program)))
    if not instruments:
        raise DataError("the render spec selects no instrument (check families, programs and the pitch range)")
    return instruments, left_out


def split_names(spec: RenderSpec) -> list[str]:
    """The note splits, plus the held-out instruments' split when there is one."""
    return [*spec.splits, *([spec.unseen_split] if spec.unseen_instruments_per_family else [])]


def unseen_instruments(spec: RenderSpec, instruments: Sequence[Instrument]) -> set[int]:
    """Indices of the instruments held out whole (seeded; a family keeps at least one instrument
    for training, so a family with a single instrument is never held out)."""
    if not spec.unseen_instruments_per_family:
        return set()
    rng = np.random.default_rng([spec.seed, 2])
    held: set[int] = set()
    for family in sorted({inst.family for inst in instruments}):
        members = [inst.index for inst in instruments if inst.family == family]
        count = min(spec.unseen_instruments_per_family, len(members) - 1)
        if count > 0:
            held.update(int(i) for i in rng.choice(members, count, replace=False))
    return held


def plan_notes(spec: RenderSpec, instruments: Sequence[Instrument]) -> list[NoteJob]:
    """Every note to render, with its split (seeded, deterministic)."""
    rng = np.random.default_rng([spec.seed, 1])
    velocities = spec.velocities
    per_pitch = spec.velocities_per_pitch
    notes: list[tuple[str, int, int, int]] = []
    for inst in instruments:
        for pitch in inst.pitches:
            if per_pitch is None or per_pitch >= len(velocities):
                chosen = velocities
            else:
                chosen = sorted(velocities[i] for i in rng.choice(len(velocities), per_pitch, replace=False))
            for velocity in chosen:
                notes.append((note_name(inst.instrument_str, pitch, velocity), inst.index, pitch, velocity))
    if spec.max_notes is not None and len(notes) > spec.max_notes:
        keep = sorted(rng.choice(len(notes), spec.max_notes, replace=False))
        notes = [notes[i] for i in keep]
    unseen = unseen_instruments(spec, instruments)
    held = [i for i, note in enumerate(notes) if note[1] in unseen]
    order = rng.permutation([i for i, note in enumerate(notes) if note[1] not in unseen])
    fractions = np.array(list(spec.splits.values()), dtype=np.float64)
    bounds = np.round(np.cumsum(fractions) / fractions.sum() * len(order)).astype(int)
    names = list(spec.splits)
    split_of = {i: spec.unseen_split for i in held}
    start = 0
    for name, stop in zip(names, bounds, strict=True):
        for i in order[start:stop]:
            split_of[int(i)] = name
        start = stop
    return [NoteJob(n, split_of[i], inst, pitch, vel) for i, (n, inst, pitch, vel) in enumerate(notes)]


def calibrate(instruments: list[Instrument], synths: Sequence[SoundFontSynth], spec: RenderSpec) -> list[Instrument]:
    """One gain per instrument: median velocity-127 peak over a few pitches → ``target_peak_db``."""
    out = []
    target = 10 ** (spec.target_peak_db / 20)
    for inst in instruments:
        idx = np.unique(np.linspace(0, len(inst.pitches) - 1, CALIBRATION_PITCHES).round().astype(int))
        peaks = []
        for i in idx:
            audio = synths[inst.soundfont].render(inst.program, inst.pitches[i], 127, NUM_SAMPLES, _note_off())
            peak = float(np.abs(audio).max())
            if np.isfinite(peak):
                peaks.append(peak)
        median = float(np.median(peaks)) if peaks else 0.0
        gain = target / median if median > 1e-6 else 1.0
        out.append(Instrument(**{**asdict(inst), "gain": gain}))
    return out


def _note_off() -> int:
    return int(NOTE_OFF_SECONDS * SAMPLE_RATE)


# ------------------------------------------------------------------------------------------ rendering
_STATE: dict[str, Any] = {}  # per-process: loaded SoundFonts (inherited by forked workers)


def _init_worker(paths: list[str], instruments: list[Instrument], spec: RenderSpec, out: str) -> None:
    if _STATE.get("paths") != paths:
        _STATE["synths"] = [SoundFontSynth(p, SAMPLE_RATE) for p in paths]
        _STATE["paths"] = paths
    _STATE.update(instruments=instruments, spec=spec, out=Path(out))


def _render_chunk(jobs: list[NoteJob]) -> list[tuple[str, str | None, list[int], float]]:
    """Render and write notes; returns (note_str, reject reason or None, qualities, peak)."""
    import soundfile as sf

    synths, instruments, spec, out = _STATE["synths"], _STATE["instruments"], _STATE["spec"], _STATE["out"]
    silence = 10 ** (spec.silence_db / 20)
    results = []
    for job in jobs:
        inst = instruments[job.instrument]
        audio = synths[inst.soundfont].render(inst.program, job.pitch, job.velocity, NUM_SAMPLES, _note_off())
        audio *= np.float32(inst.gain)
        peak = float(np.abs(audio).max())
        reason = None
        if not np.isfinite(peak):
            reason = "non_finite"
        elif peak > 1.0:
            reason = "clipped"
        elif peak < silence:
            reason = "silent"
        if reason is not None:
            results.append((job.note_str, reason, [], peak if np.isfinite(peak) else -1.0))
            continue
        qualities = note_qualities(audio, inst.program, SAMPLE_RATE)
        sf.write(str(out / job.split / AUDIO_DIR / f"{job.note_str}.wav"), audio, SAMPLE_RATE,
                 subtype="PCM_16", format="WAV")
        results.append((job.note_str, None, qualities, peak))
    return results


def _run(jobs: list[NoteJob], workers: int, init_args: tuple, progress: bool) -> list[tuple]:
    chunk = max(16, len(jobs) // (workers * 8) + 1)
    chunks = [jobs[i : i + chunk] for i in range(0, len(jobs), chunk)]
    if workers <= 1 or len(jobs) < IN_PROCESS_BELOW:
        _init_worker(*init_args)
        iterator = map(_render_chunk, chunks)
        pool = None
    else:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        context = multiprocessing.get_context(method)
        if method == "fork":
            _init_worker(*init_args)  # loaded once here, shared copy-on-write by the workers
        pool = context.Pool(workers, initializer=_init_worker, initargs=init_args)
        iterator = pool.imap(_render_chunk, chunks)
    try:
        if progress:
            from tqdm import tqdm

            iterator = tqdm(iterator, total=len(chunks), unit="chunk", desc="render")
        return [r for part in iterator for r in part]
    finally:
        if pool is not None:
            pool.close()
            pool.join()


def _as_paths(soundfont: str | Path | Sequence[str | Path] | None) -> list[Path]:
    """SoundFont paths; ``None`` is the built-in one and the word ``installed`` (alone or in a
    list) stands for `installed_soundfonts()`."""
    if soundfont is None:
        return [default_soundfont()]
    items = [soundfont] if isinstance(soundfont, (str, Path)) else list(soundfont)
    paths: list[Path] = []
    for item in items:
        expanded = installed_soundfonts() if str(item) == INSTALLED else [Path(item).expanduser()]
        paths += [p for p in expanded if p not in paths]
    if not paths:
        raise DataError("no SoundFont given")
    return paths


def render_into(
    target: Path, spec: RenderSpec, soundfonts: list[Path], workers: int | None = None, progress: bool = False
) -> dict[str, Any]:
    """Render into an existing empty directory ``target``; returns the report (also written)."""
    start = time.perf_counter()
    synths = [SoundFontSynth(p, SAMPLE_RATE) for p in soundfonts]
    instruments, left_out = select_instruments(spec, synths)
    instruments = calibrate(instruments, synths, spec)
    jobs = plan_notes(spec, instruments)
    for split in split_names(spec):
        (target / split / AUDIO_DIR).mkdir(parents=True, exist_ok=True)
    workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
    _STATE.clear()
    _STATE.update(paths=[str(p) for p in soundfonts], synths=synths)
    try:
        results = _run(jobs, workers, ([str(p) for p in soundfonts], instruments, spec, str(target)), progress)
    finally:
        _STATE.clear()  # do not keep SoundFonts (up to 150 MB) alive after the render
    render_seconds = time.perf_counter() - start

    by_note = {job.note_str: job for job in jobs}
    accepted = sorted(r[0] for r in results if r[1] is None)
    note_id = {name: i for i, name in enumerate(accepted)}
    examples: dict[str, dict[str, Any]] = {split: {} for split in split_names(spec)}
    rejected: list[dict[str, Any]] = []
    for note_str, reason, qualities, peak in results:
        job = by_note[note_str]
        if reason is not None:
            rejected.append({"note_str": note_str, "reason": reason, "peak": round(peak, 4)})
            continue
        inst = instruments[job.instrument]
        examples[job.split][note_str] = make_record(
            note=note_id[note_str], instrument=inst.index, instrument_str=inst.instrument_str, pitch=job.pitch,
            velocity=job.velocity, family=inst.family, source=inst.source, qualities=qualities,
        )
    for split, entries in examples.items():
        ordered = dict(sorted(entries.items()))
        (target / split / EXAMPLES_FILE).write_text(json.dumps(ordered, indent=1))
    if not accepted:
        raise DataError(f"every one of the {len(jobs)} rendered notes was rejected (silent or clipped)")
    report = {
        "format": "specinpaint-render/1",
        "renderer_version": RENDERER_VERSION,
        "spec": spec.model_dump(),
        "soundfonts": [{"path": str(p), "sha256": sha256_file(p), "bytes": p.stat().st_size} for p in soundfonts],
        "sample_rate": SAMPLE_RATE,
        "num_samples": NUM_SAMPLES,
        "note_off_seconds": NOTE_OFF_SECONDS,
        "instruments": [
            {
                "instrument": inst.index, "instrument_str": inst.instrument_str, "program": inst.program,
                "gm_name": lookup(inst.program).name, "preset_name": synths[inst.soundfont].preset_name(inst.program),
                "soundfont": inst.soundfont, "gain_db": round(20 * float(np.log10(inst.gain)), 2),
                "pitch_range": [min(inst.pitches), max(inst.pitches)],
            }
            for inst in instruments
        ],
        "programs_left_out": left_out,
        "counts": {split: len(entries) for split, entries in examples.items()},
        "notes_planned": len(jobs),
        "notes_written": len(accepted),
        "rejected": {reason: sum(r["reason"] == reason for r in rejected) for reason in ("clipped", "silent", "non_finite")},
        "rejected_notes": rejected,
        "workers": workers,
        "seconds": round(render_seconds, 3),
        "notes_per_second": round(len(jobs) / max(render_seconds, 1e-9), 1),
    }
    (target / REPORT_FILE).write_text(json.dumps(report, indent=1))
    log.info("rendered %d notes (%d rejected) in %.1f s (%.0f notes/s, %d workers)", len(accepted),
             len(rejected), render_seconds, report["notes_per_second"], workers)
    return report


def render_dataset(
    out_dir: str | Path,
    spec: RenderSpec | None = None,
    soundfont: str | Path | Sequence[str | Path] | None = None,
    *,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Render an NSynth-format dataset into ``out_dir`` (built atomically) and return its path.

    ``soundfont``: a .sf2 path, a list of them, or None for pretty_midi's TimGM6mb.sf2. An existing
    ``out_dir`` is replaced only with ``overwrite=True`` and only if it is a previous render (or empty).
    """
    spec = spec or RenderSpec()
    out = Path(out_dir).expanduser()
    paths = _as_paths(soundfont)
    if out.exists():
        if not out.is_dir():
            raise DataError(f"{out}: exists and is not a directory")
        if any(out.iterdir()):
            if not (out / REPORT_FILE).is_file():
                raise DataError(f"{out}: not empty and not a previous render; refusing to overwrite it")
            if not overwrite:
                raise DataError(f"{out}: already holds a render (use overwrite / --force to replace it)")
    with atomic_directory(out) as tmp:
        render_into(tmp, spec, paths, workers, progress)
    return out
