"""The paper website's experiments, rebuilt on any bundle (`specinpaint reproduce website`).

What the paper's website showed, measured on whatever a bundle was trained on:

* the unconditional grid: notes generated from scratch for every family the bundle offers × a
  pitch ladder (MIDI 24, 31, …, 80 kept inside the bundle's pitch range);
* on one note, three inpainting variants: "two seconds" (the middle two seconds resampled, or the
  middle half of a note shorter than four seconds), "bottom quarter" (the lowest quarter of the
  frequency rows, over the whole note) and "keep top" (the top codes kept, every bottom code
  resampled).

The output is one HTML page (`report.py`) with a player and a spectrogram per note, the WAVs and
PNGs beside it, and ``website.json`` saying what was made from what.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from specinpaint.core.atomic import atomic_write_bytes, atomic_write_text
from specinpaint.core.codemaps import Codemaps
from specinpaint.core.region import Region
from specinpaint.editing import EditError, Editor

from .report import ReportGrid, ReportItem, write_report

log = logging.getLogger(__name__)
LADDER = tuple(range(24, 81, 7))  # 24, 31, …, 80: the website's pitches
PAGE, SUMMARY = "index.html", "website.json"


@dataclass
class Note:
    """The note the inpainting variants start from: audio ``[N]`` and its labels (None: unknown)."""

    audio: torch.Tensor
    pitch: int | None
    family: str | None
    source: str


def pitch_ladder(editor: Editor, ladder: Sequence[int] = LADDER) -> list[int]:
    """The ladder's pitches inside the bundle's pitch range (its middle pitch when none is)."""
    lo, hi = editor.labels.pitch_range
    inside = [p for p in ladder if lo <= p <= hi]
    return inside or [(lo + hi) // 2]


def variant_regions(editor: Editor, columns: int) -> dict[str, tuple[Region | dict[str, torch.Tensor], str]]:
    """(region, level) of each inpainting variant for a note of ``columns`` top columns."""
    geometry = editor.geometry
    duration = columns * geometry.column_seconds
    span = min(2.0, duration / 2)
    middle = Region(time_s=(duration / 2 - span / 2, duration / 2 + span / 2))
    top = geometry.levels[0]
    rows, width = geometry.level_shapes(columns)[top]
    low = torch.zeros(rows, width, dtype=torch.bool)
    low[: max(1, rows // 4)] = True
    return {"two seconds": (middle, top), "bottom quarter": ({top: low}, top), "keep top": (Region(), geometry.levels[-1])}


def heldout_note(editor: Editor) -> Note:
    """A held-out note of the bundle's own data (the middle one of those with labels it offers)."""
    from specinpaint.studies.data_source import evaluation_datasets

    heldout, _, description = evaluation_datasets(editor.pipeline, with_train=False)
    labels = editor.labels
    usable = []
    for index in range(len(heldout)):
        item = heldout[index]
        family = labels.family_name(int(item["family"]))
        if family in labels.offered and labels.pitch_range[0] <= int(item["pitch"]) <= labels.pitch_range[1]:
            usable.append((index, item, family))
    if not usable:
        raise EditError(f"no held-out note of {description['dataset']} has labels this bundle offers")
    index, item, family = usable[len(usable) // 2]
    name = item.get("note_str", f"#{index}")
    return Note(torch.as_tensor(item["audio"]).float(), int(item["pitch"]), family,
                f"held-out note {name} of {description['dataset']} ({description['split']})")


def rendered_note(editor: Editor, family: str | None = None, pitch: int = 60) -> Note:
    """A note rendered from the built-in General MIDI SoundFont (an NSynth family's first program)."""
    from specinpaint.data.gm_programs import programs_for
    from specinpaint.data.soundfont_synth import SoundFontSynth, default_soundfont

    labels = editor.labels
    family = family or ("keyboard" if "keyboard" in labels.offered else labels.offered[0])
    pitch = min(max(pitch, labels.pitch_range[0]), labels.pitch_range[1])
    program = programs_for(family)[0].program
    geometry = editor.geometry
    synth = SoundFontSynth(default_soundfont(), geometry.sample_rate)
    audio = torch.from_numpy(synth.render(program, pitch, 100, geometry.num_samples, int(0.75 * geometry.num_samples)))
    peak = float(audio.abs().max())
    if peak <= 0:
        raise EditError(f"the SoundFont rendered silence for {family} at MIDI {pitch}; give NOTE.wav")
    return Note(0.5 * audio / peak, pitch, family, f"{family} MIDI {pitch} rendered from {synth.path.name}")


def reproduce_website(
    editor: Editor, out_dir: str | Path, note: Note, *, seed: int = 0, ladder: Sequence[int] = LADDER,
    batch_size: int = 16, progress: bool = True, title: str | None = None,
) -> Path:
    """Generate the grid and the inpainting variants into ``out_dir``; return the page's path."""
    from tqdm import tqdm

    out = Path(out_dir)
    (out / "grid").mkdir(parents=True, exist_ok=True)
    (out / "note").mkdir(parents=True, exist_ok=True)
    families, pitches = list(editor.labels.offered), pitch_ladder(editor, ladder)
    cells = [(family, pitch) for family in families for pitch in pitches]
    steps = -(-len(cells) // batch_size) + 2 + len(variant_regions(editor, editor.geometry.window_columns))
    with tqdm(total=steps, desc="website", unit="step", disable=not progress) as bar:
        grid = _grid(editor, out, cells, families, pitches, seed, batch_size, bar)
        items, variants = _variants(editor, out, note, seed, bar)
    summary = {"note": {"source": note.source, "pitch": note.pitch, "family": note.family}, "seed": seed,
               "grid": {"families": families, "pitches": pitches}, "variants": variants,
               "pipeline": editor.pipeline.config.name}
    atomic_write_text(out / SUMMARY, json.dumps(summary, indent=1))
    page = title or f"specinpaint — the paper website's experiments on {editor.pipeline.config.name}"
    footer = f"Seed {seed}. What was made from what: <a href='{SUMMARY}'>{SUMMARY}</a>."
    return write_report(out / PAGE, page, items, summary={"note": summary["note"], "grid": summary["grid"]},
                        footer=footer, grids=[grid])


def _grid(editor: Editor, out: Path, cells: list[tuple[str, int]], families: list[str], pitches: list[int],
          seed: int, batch_size: int, bar: Any) -> ReportGrid:
    from specinpaint.core.audio import write_wav

    from .images import log_magnitude_png

    grid = ReportGrid("Unconditional generation", "Notes sampled from scratch for every family of the bundle × "
                      "the pitch ladder (top prior, then bottom prior).", families, [str(p) for p in pitches])
    for batch, start in enumerate(range(0, len(cells), batch_size)):
        chunk = cells[start:start + batch_size]
        result = editor.generate([p for _, p in chunk], [f for f, _ in chunk], n=len(chunk),
                                 sampling={"seed": seed + batch})
        spec = editor.decode_spectrogram(result.codes, pitch=[p for _, p in chunk],
                                         family=[f for f, _ in chunk])[:, editor.level_channel]
        for i, (family, pitch) in enumerate(chunk):
            stem = f"grid/{_safe(family)}-{pitch}"
            write_wav(out / f"{stem}.wav", result.audio[i], editor.geometry.sample_rate)
            atomic_write_bytes(out / f"{stem}.png", log_magnitude_png(spec[i], editor.db_per_log_unit))
            grid.cells[(family, str(pitch))] = (f"{stem}.wav", f"{stem}.png")
        bar.update()
    return grid


def _variants(editor: Editor, out: Path, note: Note, seed: int, bar: Any) -> tuple[list[ReportItem], dict]:
    from specinpaint.core.audio import write_wav

    from .commands.show import write_note_pngs

    folder = out / "note"
    rate = editor.geometry.sample_rate
    pitch, family = _usable_labels(editor, note)
    items: list[ReportItem] = []

    def add(name: str, title: str, description: str, audio: torch.Tensor, codes: Codemaps, masks=None,
            audio_path: Path | None = None, **details: Any) -> None:
        wav = folder / f"{name}.wav"
        if audio_path is None:
            write_wav(wav, audio, rate)
        pngs = write_note_pngs(editor, codes, folder, stem=f"{name}-", masks=masks, channels=1, fast_codemaps=True,
                               audio_path=audio_path, pitch=pitch, family=family)
        images = [(p.stem.removeprefix(f"{name}-"), str(p.relative_to(out))) for p in pngs]
        items.append(ReportItem(title, description, str(wav.relative_to(out)), images, details))
        bar.update()

    original = folder / "original.wav"
    write_wav(original, note.audio, rate)
    codes = editor.encode_long(note.audio)
    add("original", "The note", f"{note.source}; its input spectrogram (first window) and what its codes decode to.",
        note.audio, codes, audio_path=original, pitch=note.pitch, family=note.family)
    reconstruction = editor.decode_long(codes, pitch=pitch, family=family)[0]
    add("reconstruction", "Its reconstruction", "The note's codes decoded back to audio: what every variant "
        "starts from.", reconstruction, codes)
    columns = codes[editor.geometry.levels[0]].shape[-1]
    summary: dict[str, Any] = {}
    descriptions = {
        "two seconds": "The middle two seconds resampled (the middle half of a shorter note), at every frequency.",
        "bottom quarter": "The lowest quarter of the frequency rows resampled over the whole note.",
        "keep top": "The top codes kept, every bottom code resampled: the same structure, new detail.",
    }
    for index, (name, (region, level)) in enumerate(variant_regions(editor, columns).items()):
        result = editor.inpaint(codes, region, pitch=pitch, family=family, level=level, seed=seed + 101 + index)
        changed = {lvl: int((result.codes[lvl] != codes[lvl]).sum()) for lvl in codes.levels}
        cells = {lvl: int(m.sum()) for lvl, m in result.masks.items()}
        stem = name.replace(" ", "-")
        add(stem, f"Inpainted: {name}", descriptions[name], result.audio[0], result.codes, result.masks,
            level=level, cells=str(cells), changed=str(changed))
        summary[name] = {"level": level, "region": _describe(region), "cells": cells, "changed": changed,
                         "audio": f"note/{stem}.wav", "pitch": pitch, "family": family}
    return items, summary


def _usable_labels(editor: Editor, note: Note) -> tuple[int | None, str | None]:
    """The note's labels where the bundle offers them (else unconditioned, said once in the log)."""
    labels = editor.labels
    family = note.family if note.family in labels.offered else None
    pitch = note.pitch if note.pitch is not None and labels.pitch_range[0] <= note.pitch <= labels.pitch_range[1] else None
    if (note.family, note.pitch) != (family, pitch):
        log.info("the note's labels (%s, %s) are not all offered by the bundle; inpainting with (%s, %s)",
                 note.family, note.pitch, family, pitch)
    return pitch, family


def _describe(region: Any) -> Any:
    if isinstance(region, Region):
        return {"time_s": region.time_s, "freq_hz": region.freq_hz}
    return {level: f"{int(mask.sum())} cells ({mask.any(1).sum().item()} lowest rows)" for level, mask in region.items()}


def _safe(name: str) -> str:
    """A family name as a file name part."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
