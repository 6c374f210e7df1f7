"""Writing an `EvaluationReport`: ``evaluation.json`` (everything), ``evaluation.md`` (tables),
``plots/*.png`` and the short table `specinpaint evaluate` prints."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from specinpaint.core.atomic import atomic_write_text

from .evaluate import EvaluationReport

JSON_FILE, MARKDOWN_FILE, PLOTS_DIR = "evaluation.json", "evaluation.md", "plots"


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    value = float(value)
    if not math.isfinite(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}g}" if abs(value) < 1 else f"{value:.{digits}f}".rstrip("0").rstrip(".")


def pct(value: Any) -> str:
    return "n/a" if value is None or not math.isfinite(float(value)) else f"{100 * float(value):.1f} %"


def _interval(metrics: dict[str, Any], name: str) -> str:
    """``; 95 % interval a-b %`` when the metrics hold one for ``name`` (older reports do not)."""
    low, high = metrics.get(f"{name}_low"), metrics.get(f"{name}_high")
    if low is None or high is None or not (math.isfinite(float(low)) and math.isfinite(float(high))):
        return ""
    return f"; 95 % interval {100 * float(low):.0f}-{100 * float(high):.0f} %"


def summary_rows(report: EvaluationReport) -> list[tuple[str, str, str]]:
    """(measure, value, reference) rows: the numbers a user looks at first."""
    rows: list[tuple[str, str, str]] = []
    rec = report.sections.get("reconstruction", {}).get("metrics")
    if rec:
        rows += [
            ("reconstruction SC ↓", fmt(rec["sc"]), f"representation alone: {fmt(rec.get('roundtrip_sc'))}"),
            ("reconstruction LSD ↓", f"{fmt(rec['lsd_db'])} dB", ""),
            ("reconstruction MR-STFT ↓", fmt(rec["mrstft"]), ""),
            ("reconstruction level error", f"{fmt(rec['level_error_db_mean'])} ± {fmt(rec['level_error_db_std'])} dB",
             "0 dB = same level"),
            ("reconstruction pitch accuracy ↑", pct(rec["pitch_accuracy"]), f"raw notes: {pct(rec['raw_pitch_accuracy'])}"),
        ]
        if "family_accuracy" in rec:
            rows.append(("reconstruction family accuracy ↑", pct(rec["family_accuracy"]),
                         f"raw notes: {pct(rec.get('raw_family_accuracy'))}"))
        if "unlabelled_pitch_accuracy" in rec:
            rows.append(("decoded without labels: SC ↓", fmt(rec["unlabelled_sc"]),
                         f"pitch {pct(rec['unlabelled_pitch_accuracy'])} (the decoder takes labels)"))
        if "estimated_pitch_accuracy" in rec:
            rows.append(("decoded with the estimated pitch: SC ↓", fmt(rec["estimated_pitch_sc"]),
                         f"pitch {pct(rec['estimated_pitch_accuracy'])} (as the app decodes an upload)"))
    unseen = report.sections.get("reconstruction_unseen", {}).get("metrics")
    if unseen:
        rows.append(("unseen instruments: reconstruction SC ↓", fmt(unseen["sc"]),
                     f"pitch {pct(unseen['pitch_accuracy'])} (raw {pct(unseen['raw_pitch_accuracy'])}), level "
                     f"{fmt(unseen['level_error_db_mean'])} dB, {int(unseen['notes'])} notes"))
    gen = report.sections.get("generation", {}).get("metrics")
    if gen:
        rows += [
            ("generated pitch accuracy ↑", pct(gen["pitch_accuracy"]),
             f"{int(gen['notes'])} notes{_interval(gen, 'pitch_accuracy')}"),
            ("generated octave errors ↓", pct(gen["octave_error_rate"]), ""),
            ("generated unvoiced ↓", pct(gen["unvoiced_rate"]), ""),
        ]
        if "family_accuracy" in gen:
            rows.append(("generated family accuracy ↑", pct(gen["family_accuracy"]),
                         f"classifier ceiling {pct(gen['classifier_heldout_accuracy'])} "
                         f"(ratio {pct(gen['family_accuracy_ratio'])}){_interval(gen, 'family_accuracy')}"))
    inp = report.sections.get("inpainting", {}).get("metrics")
    if inp:
        rows += [
            ("inpainting: codes outside unchanged", pct(inp["codes_outside_unchanged"]), "must be 100 %"),
            ("inpainting: LSD outside region ↓", f"{fmt(inp['outside_lsd_db'])} dB",
             f"inside: {fmt(inp['inside_lsd_db'])} dB"),
            ("inpainting pitch accuracy ↑", pct(inp["pitch_accuracy"]), ""),
        ]
    pri = report.sections.get("priors", {}).get("metrics")
    if pri:
        for key in sorted(k for k in pri if k.endswith("_nll")):
            level = key[: -len("_nll")]
            rows.append((f"{level} prior NLL ↓ (all hidden)", f"{fmt(pri[key])} nats",
                         f"accuracy {pct(pri.get(f'{level}_accuracy'))}; codebook perplexity "
                         f"{fmt(pri.get(f'{level}_perplexity'))}, dead {pct(pri.get(f'{level}_dead_fraction'))}"))
            if f"{level}_pitch_gain" in pri:
                rows.append((f"{level} prior: NLL the labels save ↑", f"{fmt(pri[f'{level}_label_gain'])} nats",
                             f"pitch alone: {fmt(pri[f'{level}_pitch_gain'])} nats (≈0: the label is ignored)"))
    return rows


def console_table(report: EvaluationReport) -> str:
    rows = summary_rows(report)
    if not rows:
        return "nothing was evaluated"
    width = max(len(r[0]) for r in rows)
    lines = [f"{name:<{width}}  {value:>16}  {ref}".rstrip() for name, value, ref in rows]
    total = sum(v for k, v in report.timings.items() if not k.startswith("train_"))
    lines.append(f"{'evaluation time':<{width}}  {total:>14.1f} s")
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(report: EvaluationReport) -> str:
    info = report.info
    parts = [f"# Evaluation of the '{info.get('pipeline', '?')}' pipeline", ""]
    for key in ("bundle", "dataset", "split", "train_split"):
        if info.get(key) is not None:
            parts.append(f"- {key}: `{info[key]}`")
    parts += ["", "## Summary", "", _table(["measure", "value", "reference"], [list(r) for r in summary_rows(report)])]
    gen = report.sections.get("generation")
    if gen:
        for group in ("per_family", "per_register"):
            rows = [[name, str(int(v["notes"])), pct(v["pitch_accuracy"]), pct(v["octave_error_rate"]),
                     pct(v["unvoiced_rate"]), pct(v.get("family_accuracy"))] for name, v in gen[group].items()]
            parts += ["", f"## Generation {group.replace('_', ' ')}", "",
                      _table([group.split("_")[1], "notes", "pitch acc.", "octave err.", "unvoiced", "family acc."], rows)]
    inp = report.sections.get("inpainting")
    if inp:
        rows = [[name, pct(v["codes_outside_unchanged"]), fmt(v["outside_lsd_db"]), fmt(v["inside_lsd_db"]),
                 pct(v["pitch_accuracy"]), pct(v.get("family_accuracy"))] for name, v in inp["per_region"].items()]
        parts += ["", "## Inpainting per region", "",
                  _table(["region", "codes outside unchanged", "LSD outside (dB)", "LSD inside (dB)", "pitch acc.",
                          "family acc."], rows)]
    for name, section in report.sections.items():
        rows = [[key, fmt(value, 4)] for key, value in section.get("metrics", {}).items()]
        parts += ["", f"## All {name} measures", "", _table(["measure", "value"], rows)]
    if report.skipped:
        parts += ["", "## Skipped", ""] + [f"- {k}: {v}" for k, v in report.skipped.items()]
    parts += ["", "## Timings (s)", "", _table(["stage", "seconds"], [[k, fmt(v)] for k, v in report.timings.items()])]
    return "\n".join(parts) + "\n"


def write_plots(report: EvaluationReport, directory: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(fig, name: str) -> None:
        fig.tight_layout()
        fig.savefig(directory / name, dpi=100)
        plt.close(fig)
        written.append(directory / name)

    gen = report.sections.get("generation")
    if gen:
        for group in ("per_family", "per_register"):
            names = list(gen[group])
            fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(names) + 2), 3.2))
            x = range(len(names))
            ax.bar([i - 0.2 for i in x], [gen[group][n]["pitch_accuracy"] for n in names], 0.4, label="pitch")
            if all("family_accuracy" in gen[group][n] for n in names):
                ax.bar([i + 0.2 for i in x], [gen[group][n]["family_accuracy"] for n in names], 0.4, label="family")
            ax.set_xticks(list(x), names, rotation=45 if group == "per_family" else 0, ha="right")
            ax.set_ylim(0, 1)
            ax.set_ylabel("accuracy")
            ax.set_title(f"generated notes, {group.replace('_', ' ')}")
            ax.legend()
            save(fig, f"generation_{group}.png")
        points = [(n["pitch"], n["estimated_midi"]) for n in gen["details"]["notes"] if n["estimated_midi"] is not None]
        if points:
            fig, ax = plt.subplots(figsize=(4, 4))
            ax.scatter([p[0] for p in points], [p[1] for p in points], s=8)
            lo, hi = min(p[0] for p in points) - 2, max(p[0] for p in points) + 2
            ax.plot([lo, hi], [lo, hi], color="grey", linewidth=0.8)
            ax.set_xlabel("requested MIDI pitch")
            ax.set_ylabel("pYIN estimate (MIDI)")
            ax.set_title("generated notes")
            save(fig, "generation_pitch.png")
    rec = report.sections.get("reconstruction")
    if rec:
        fig, ax = plt.subplots(figsize=(4, 3))
        values = [v for v in rec["details"]["level_error_db"] if math.isfinite(v)]
        ax.hist(values, bins=20)
        ax.axvline(0, color="grey", linewidth=0.8)
        ax.set_xlabel("decoded − raw level (dB)")
        ax.set_ylabel("notes")
        ax.set_title("reconstruction level error")
        save(fig, "reconstruction_level.png")
    return written


def write_report(report: EvaluationReport, out_dir: str | Path) -> Path:
    """Write JSON, Markdown and plots into ``out_dir``; returns the Markdown path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / JSON_FILE, json.dumps(jsonable(report.to_json()), indent=1, allow_nan=False))
    write_plots(report, out / PLOTS_DIR)
    atomic_write_text(out / MARKDOWN_FILE, markdown(report))
    return out / MARKDOWN_FILE


def jsonable(value: Any) -> Any:
    """Plain JSON: non-finite floats become null (strict JSON has no NaN), tensors become lists."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value
