"""The default end-to-end job (`specinpaint run`): render the built-in dataset, train the tiny
pipeline (VQ-VAE-2 + both priors), then generate and inpaint a few notes and write WAVs,
spectrogram/codemap PNGs and an HTML report.

Layout of the output directory (default ``outputs/default``)::

    bundle/           the trained pipeline (`specinpaint serve` loads it)
    codes/<split>/    code stores (the server's "sample from dataset")
    quantizer/, prior_top/, prior_bottom/   training metrics and checkpoints
    demo/             WAVs and PNGs of the demo notes
    evaluation/       the quick `specinpaint evaluate` report of the bundle (JSON, Markdown, PNGs)
    report.html       audio players + images for every demo note, the evaluation's summary table

A second run reuses every finished training stage; the (seeded) demo notes and the report are
re-made only when the bundle's weights changed (``demo/demo.json`` records which weights made them).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from specinpaint.core.atomic import atomic_write_text
from specinpaint.core.bundle import BUNDLE_DIR, METADATA_FILE, WEIGHTS_FILE
from specinpaint.core.codemaps import Codemaps
from specinpaint.core.conditioning import NULL_LABEL, Conditioning
from specinpaint.core.errors import BundleError
from specinpaint.core.region import Region

from .report import ReportItem, write_report

log = logging.getLogger(__name__)
DEMO_DIR, REPORT_FILE, STAMP_FILE, EVALUATION_DIR = "demo", "report.html", "demo.json", "evaluation"
JOB_VERSION = 1  # bump when the demo changes, so existing outputs are re-rendered


@dataclass
class JobResult:
    out_dir: Path
    bundle: Path
    report: Path
    items: list[ReportItem]
    evaluation: Any = None  # the quick EvaluationReport (None with evaluate=False)


def run_default_job(
    config: str | Path | Mapping[str, Any] = "tiny",
    out_dir: str | Path = "outputs/default",
    overrides: Iterable[str] = (),
    *,
    seed: int = 0,
    progress: bool = True,
    evaluate: bool = True,
    evaluation_overrides: Iterable[str] = (),
) -> JobResult:
    """Train (or reuse) the pipeline in ``out_dir``, evaluate it (quick, ``out_dir/evaluation``)
    and write the demo notes and the report."""
    from specinpaint.core.yaml_config import load_config
    from specinpaint.training.stages import train_all

    out = Path(out_dir)
    resolved = load_config(config, list(overrides))
    log.info("training (or reusing) the '%s' pipeline in %s", resolved.name, out)
    try:
        pipeline = train_all(resolved, out, resume=True, progress=progress).eval()
    except BundleError as exc:
        raise BundleError(
            f"{exc} (the output folder {out} holds a run of another config: choose another --out or delete it)"
        ) from exc
    bundle = out / BUNDLE_DIR
    digest = _bundle_digest(bundle)
    evaluation = ensure_evaluation(pipeline, out, digest, list(evaluation_overrides)) if evaluate else None
    stamp = {"job": JOB_VERSION, "seed": seed, "bundle": digest, "evaluated": evaluation is not None}
    previous = _read_stamp(out)
    if previous is not None and previous.get("stamp") == stamp and (out / REPORT_FILE).is_file():
        log.info("demo notes and report are up to date for this bundle: %s", out / REPORT_FILE)
        items = [ReportItem(**item) for item in previous["items"]]
        return JobResult(out, bundle, out / REPORT_FILE, items, evaluation)
    items = make_demo(pipeline, out, seed=seed, progress=progress, dataset_codes=_first_store_note(out))
    summary = {
        "config": resolved.name,
        "sample_rate": pipeline.sample_rate,
        "codemaps": pipeline.codemap_shapes,
        "trained": pipeline.extras.get("trained", {}),
    }
    footer = (f"Serve this pipeline with <code>specinpaint serve {out / BUNDLE_DIR}</code> and open "
              "<code>http://127.0.0.1:8000/</code>.")
    rows = None
    if evaluation is not None:
        from specinpaint.studies.report import summary_rows

        rows = (summary_rows(evaluation), f"{EVALUATION_DIR}/evaluation.md")
    report = write_report(out / REPORT_FILE, f"specinpaint — {resolved.name} pipeline", items, summary, footer,
                          evaluation=rows)
    atomic_write_text(out / DEMO_DIR / STAMP_FILE,
                      json.dumps({"stamp": stamp, "items": [asdict(i) for i in items]}, indent=1))
    return JobResult(out, bundle, report, items, evaluation)


def ensure_evaluation(pipeline, out: Path, digest: str, overrides: list[str] | None = None):
    """The quick evaluation of this bundle (``out/evaluation``; ``overrides`` are evaluation
    settings), re-run only when the weights or the settings changed."""
    from specinpaint.studies.data_source import evaluation_datasets, optional_split
    from specinpaint.studies.evaluate import EvaluationReport, evaluate_pipeline
    from specinpaint.studies.evaluation_spec import parse_spec
    from specinpaint.studies.report import JSON_FILE, write_report

    folder = out / EVALUATION_DIR
    spec = parse_spec(overrides or [], quick=True)
    try:
        saved = json.loads((folder / JSON_FILE).read_text())
        info = saved.get("info", {})
        if info.get("bundle_digest") == digest and info.get("spec") == spec.model_dump(mode="json"):
            return EvaluationReport(saved["sections"], saved["timings"], saved["info"], saved.get("skipped", {}))
    except (OSError, ValueError, KeyError):
        pass
    log.info("evaluating the pipeline (quick): %s", folder)
    heldout, train, description = evaluation_datasets(pipeline)
    unseen = optional_split(pipeline, spec.unseen_split)
    report = evaluate_pipeline(pipeline, heldout, spec, train_dataset=train, unseen_dataset=unseen,
                               info={"bundle": str(out / BUNDLE_DIR), "bundle_digest": digest, **description})
    write_report(report, folder)
    return report


def _bundle_digest(bundle: Path) -> str:
    """The bundle's weights checksum (from its metadata): changes whenever training changed it."""
    meta = json.loads((bundle / METADATA_FILE).read_text())
    return str(meta["files"][WEIGHTS_FILE]["sha256"])


def _read_stamp(out: Path) -> dict | None:
    try:
        return json.loads((out / DEMO_DIR / STAMP_FILE).read_text())
    except (OSError, ValueError):
        return None


def _first_store_note(out: Path) -> tuple[Codemaps, Conditioning] | None:
    """Codes and labels of one training note (from the run's code store), for the 'dataset note'
    demo."""
    from specinpaint.core.errors import SpecinpaintError

    try:
        from specinpaint.data.code_store import CodeStore

        store = CodeStore(out / "codes" / "train", verify=False)
        return store.batch([0]) if len(store) else None
    except (SpecinpaintError, ImportError, OSError):
        return None


def demo_regions(editor) -> dict[str, Region]:
    """Boxes that make sense for any pipeline: fractions of its window and frequency range."""
    seconds = editor.geometry.window_seconds
    top_hz = float(editor.geometry.bin_frequencies()[-1])
    return {
        "middle": Region(time_s=(0.25 * seconds, 0.5 * seconds), freq_hz=(0.0, 0.25 * top_hz)),
        "low band": Region(freq_hz=(0.0, 0.12 * top_hz)),
        "tail": Region(time_s=(0.5 * seconds, seconds)),
    }


def make_demo(
    pipeline,
    out_dir: str | Path,
    *,
    seed: int = 0,
    progress: bool = True,
    dataset_codes: tuple[Codemaps, Conditioning] | None = None,
) -> list[ReportItem]:
    """Generate, inpaint, attenuate and sample-pack a few notes; write WAVs and PNGs under
    ``out_dir/demo``; return the report items (paths relative to ``out_dir``)."""
    from tqdm import tqdm

    from specinpaint.core.audio import write_wav
    from specinpaint.editing import Editor

    from .commands.show import write_note_pngs

    out = Path(out_dir)
    demo = out / DEMO_DIR
    demo.mkdir(parents=True, exist_ok=True)
    editor = Editor(pipeline)
    regions = demo_regions(editor)
    items: list[ReportItem] = []
    bar = tqdm(total=7 if dataset_codes is not None else 6, desc="demo notes", unit="note", disable=not progress)

    def add(name: str, title: str, description: str, audio: torch.Tensor, codes: Codemaps,
            masks: Mapping[str, torch.Tensor] | None = None, labels: tuple[Any, Any] = (None, None),
            **details: Any) -> None:
        """``labels``: the (pitch, family) the note's spectrogram image is decoded with."""
        wav = demo / f"{name}.wav"
        write_wav(wav, audio, editor.geometry.sample_rate)
        pngs = write_note_pngs(editor, codes, demo, stem=f"{name}-", masks=masks, channels=1,
                               fast_codemaps=True, pitch=labels[0], family=labels[1])
        images = [(p.stem.removeprefix(f"{name}-"), str(p.relative_to(out))) for p in pngs]
        items.append(ReportItem(title, description, str(wav.relative_to(out)), images, details))
        bar.update()

    brass, string, flute, organ = (_family(editor, name, i) for i, name in
                                   enumerate(("brass", "string", "flute", "organ")))
    p60, p48, p55, p67 = (_pitch(editor, p) for p in (60, 48, 55, 67))
    base = editor.generate([p60, p48], [brass, string], n=2, sampling={"seed": seed})
    for i, (pitch, family) in enumerate([(p60, brass), (p48, string)]):
        add(f"generated-{i}", f"Generated note {i + 1}: {family}, MIDI {pitch}",
            "Sampled from scratch (one batch): top codes from the top prior, bottom codes from the bottom prior.",
            base.audio[i], base.codes.select(i), labels=(pitch, family), pitch=pitch, family=family, seed=seed)
    note = base.codes.select(0)

    edit = editor.inpaint(note, regions["middle"], pitch=p60, family=flute, level="top", seed=seed + 1)
    add("inpaint-top", f"Inpainted (top level): a box re-drawn as {flute}",
        f"Region {_box(regions['middle'])}: top codes resampled, then the bottom codes under them.",
        edit.audio[0], edit.codes, edit.masks, labels=(p60, flute), changed=_changed(note, edit.codes))

    edit = editor.inpaint(note, regions["low band"], pitch=p60, family=organ, level="bottom", seed=seed + 2)
    add("inpaint-bottom", f"Inpainted (bottom level): low band re-detailed as {organ}",
        f"Region {_box(regions['low band'])}: only bottom (detail) codes resampled; the top codes are kept.",
        edit.audio[0], edit.codes, edit.masks, labels=(p60, organ), changed=_changed(note, edit.codes))

    edit = editor.attenuate(note, regions["tail"], amount_db=30.0, pitch=p60, family=brass)
    add("attenuated", "Attenuated: the second half lowered by 30 dB",
        f"Region {_box(regions['tail'])}: decoded, lowered in the spectrogram, re-encoded.",
        edit.audio[0], edit.codes, edit.masks, labels=(p60, brass), changed=_changed(note, edit.codes))

    pack = editor.sample_pack(note, [p48, p55, p67], family=brass, sampling={"seed": seed + 3})
    add("pack-67", f"Sample pack: same top codes, bottom codes resampled for MIDI {p67}",
        f"One bottom map per pitch, all pitches in one batch (the pack also holds {p48} and {p55}).",
        pack.audio[2], pack.codes.select(2), labels=(p67, brass), pitches=pack.pitches)
    if dataset_codes is not None:
        codes, conditioning = dataset_codes
        known = [None if int(v) == NULL_LABEL else int(v) for v in (conditioning.pitch[0], conditioning.family[0])]
        audio = editor.decode_long(codes, pitch=known[0], family=known[1])[0]
        add("dataset-note", "A training note, reconstructed from its codes",
            "Codes extracted by the trained quantizer, decoded back to audio.", audio, codes, labels=tuple(known))
    bar.close()
    return items


def _family(editor, name: str, index: int) -> str:
    """``name`` when the bundle offers it, else one of the bundle's own families."""
    offered = editor.labels.offered
    return name if name in offered else offered[index % len(offered)]


def _pitch(editor, pitch: int) -> int:
    """``pitch`` clipped to the bundle's pitch range."""
    lo, hi = editor.labels.pitch_range
    return min(max(pitch, lo), hi)


def _box(region: Region) -> str:
    time = f"{region.time_s[0]:.2f}–{region.time_s[1]:.2f} s" if region.time_s else "all times"
    freq = f"{region.freq_hz[0]:.0f}–{region.freq_hz[1]:.0f} Hz" if region.freq_hz else "all frequencies"
    return f"{time} × {freq}"


def _changed(before: Codemaps, after: Codemaps) -> str:
    return ", ".join(f"{lvl} {int((before[lvl] != after[lvl]).sum())}/{before[lvl].numel()}" for lvl in before.levels)
