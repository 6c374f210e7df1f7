"""Ablation tables (CSV, Markdown, JSON) and PNG bar charts, written atomically.

Why a fixed column vocabulary: the same names appear in ``result.json``, the table, the plots and
the pytest-benchmark ``extra_info``, so a record from ``pytest benchmarks/`` and a table from
``specinpaint ablate`` can be compared column by column.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from specinpaint.core.atomic import atomic_path, atomic_write_text

# column → (meaning, which direction is better: "lower" / "higher" / "")
METRIC_DOCS: dict[str, tuple[str, str]] = {
    "sc_vs_raw": ("spectral convergence, decoded audio vs raw audio", "lower"),
    "lsd_vs_raw": ("log-spectral distance (dB), decoded vs raw", "lower"),
    "mrstft_vs_raw": ("multi-resolution STFT distance, decoded vs raw", "lower"),
    "sc_vs_roundtrip": ("spectral convergence, decoded vs the representation's own round trip", "lower"),
    "lsd_vs_roundtrip": ("log-spectral distance (dB), decoded vs round trip", "lower"),
    "mrstft_vs_roundtrip": ("multi-resolution STFT distance, decoded vs round trip", "lower"),
    "roundtrip_sc": ("spectral convergence, round trip (no quantizer) vs raw", "lower"),
    "roundtrip_lsd": ("log-spectral distance (dB), round trip vs raw", "lower"),
    "roundtrip_mrstft": ("multi-resolution STFT distance, round trip vs raw", "lower"),
    "pitch_accuracy": ("pYIN pitch of decoded audio equals the label (fraction of notes)", "higher"),
    "raw_pitch_accuracy": ("same estimator on the raw audio (its ceiling)", "higher"),
    "notes": ("held-out notes evaluated", ""),
}
LEVEL_DOCS: dict[str, tuple[str, str]] = {
    "perplexity": ("codebook perplexity exp(H) of codes on the held-out notes", "higher"),
    "dead_fraction": ("fraction of the codebook never used on the held-out notes", "lower"),
    "silent_entropy_bits": ("entropy (bits) of the codes in silent cells; few codes for silence = low", "lower"),
    "silent_distinct_codes": ("number of distinct codes in silent cells", "lower"),
    "silent_fraction": ("fraction of code cells that are silent in the raw audio", ""),
}
TIMING_COLUMNS = ("train_s", "eval_s")
SPECTRAL_GROUPS = {
    "vs raw audio": ("sc_vs_raw", "lsd_vs_raw", "mrstft_vs_raw"),
    "vs own round trip": ("sc_vs_roundtrip", "lsd_vs_roundtrip", "mrstft_vs_roundtrip"),
    "round trip vs raw": ("roundtrip_sc", "roundtrip_lsd", "roundtrip_mrstft"),
}


def describe(column: str) -> tuple[str, str]:
    """(meaning, better) for a column, including per-level ones such as ``bottom_perplexity``."""
    if column in METRIC_DOCS:
        return METRIC_DOCS[column]
    for suffix, doc in LEVEL_DOCS.items():
        if column.endswith("_" + suffix):
            level = column[: -len(suffix) - 1]
            return f"{level} level: {doc[0]}", doc[1]
    if column in TIMING_COLUMNS:
        return ("seconds spent " + ("training" if column == "train_s" else "evaluating"), "")
    return ("", "")


def _order_key(column: str) -> tuple[int, int, str]:
    fixed = list(METRIC_DOCS)
    if column in fixed:
        return (0, fixed.index(column), "")
    for i, suffix in enumerate(LEVEL_DOCS):
        if column.endswith("_" + suffix):
            return (1, i, column)
    if column in TIMING_COLUMNS:
        return (3, TIMING_COLUMNS.index(column), "")
    return (2, 0, column)


def _rows(results: Sequence[Any]) -> list[dict[str, Any]]:
    """VariantResult objects or plain dicts (name, label, metrics[, timings]) → flat rows."""
    rows = []
    for r in results:
        if not isinstance(r, Mapping):
            r = {"name": r.name, "label": r.label, "metrics": r.metrics, "timings": r.timings}
        row = {"variant": r["name"], "label": r.get("label", r["name"])}
        row.update({k: float(v) if v is not None else math.nan for k, v in r["metrics"].items()})
        row.update({k: float(v) for k, v in (r.get("timings") or {}).items()})
        rows.append(row)
    return rows


def metric_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            if key not in ("variant", "label"):
                seen[key] = None
    return sorted(seen, key=_order_key)


def format_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            return f"{value:.4g}"
        return f"{value:.3e}"
    return str(value)


def table_csv(results: Sequence[Any]) -> str:
    rows = _rows(results)
    columns = ["variant", "label", *metric_columns(rows)]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: ("" if isinstance(row.get(c), float) and math.isnan(row[c]) else row.get(c, ""))
                         for c in columns})
    return buf.getvalue()


def markdown_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in body]
    return "\n".join(lines)


def table_markdown(results: Sequence[Any], title: str = "", meta: Mapping[str, Any] | None = None) -> str:
    """Variants as rows, metrics as columns, then a legend saying what each column means and which
    direction is better (↓ lower, ↑ higher)."""
    rows = _rows(results)
    columns = metric_columns(rows)
    arrows = {"lower": " ↓", "higher": " ↑", "": ""}
    header = ["variant", *[c + arrows[describe(c)[1]] for c in columns]]
    body = [[row["variant"], *[format_value(row.get(c)) for c in columns]] for row in rows]
    parts = [f"# {title}" if title else "# Ablation results", ""]
    for key, value in (meta or {}).items():
        if value not in (None, "", [], {}):
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            parts.append(f"- **{key}**: {shown}")
    if meta:
        parts.append("")
    parts += [markdown_table(header, body), "", "Variants:", ""]
    parts += [f"- `{row['variant']}`: {row['label']}" for row in rows]
    parts += ["", "Columns (↓ lower is better, ↑ higher is better):", ""]
    for c in columns:
        meaning, _ = describe(c)
        if meaning:
            parts.append(f"- `{c}`: {meaning}")
    return "\n".join(parts) + "\n"


# -- plots -------------------------------------------------------------------------------------

def _save_figure(fig: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def plot_bars(path: str | Path, results: Sequence[Any], columns: Sequence[str], title: str) -> Path | None:
    """One bar subplot per column (variants on the x axis); columns absent from every row are
    skipped; returns None when nothing is left to plot."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rows = _rows(results)
    present = [c for c in columns if any(c in r for r in rows)]
    if not present or not rows:
        return None
    ncols = min(3, len(present))
    nrows = math.ceil(len(present) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False)
    names = [r["variant"] for r in rows]
    colors = [f"C{i % 10}" for i in range(len(rows))]
    for ax, column in zip(axes.flat, present, strict=False):
        values = [r.get(column, math.nan) for r in rows]
        ax.bar(range(len(rows)), [0 if math.isnan(v) else v for v in values], color=colors)
        for i, v in enumerate(values):
            ax.annotate(format_value(v), (i, 0 if math.isnan(v) else v), ha="center", va="bottom", fontsize=7)
        better = describe(column)[1]
        ax.set_title(column + {"lower": " (lower better)", "higher": " (higher better)"}.get(better, ""), fontsize=9)
        ax.set_xticks(range(len(rows)), names, rotation=20, ha="right", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
    for ax in list(axes.flat)[len(present):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    target = Path(path)
    _save_figure(fig, target)
    plt.close(fig)
    return target


def _level_columns(rows: Sequence[Mapping[str, Any]], suffixes: Sequence[str]) -> list[str]:
    cols = metric_columns(rows)
    return [c for s in suffixes for c in cols if c.endswith("_" + s)]


def write_plots(out_dir: str | Path, results: Sequence[Any], title: str = "") -> list[Path]:
    """``plots/spectral.png``, ``codebook.png``, ``silence.png``, ``pitch.png``, ``timing.png``."""
    plots = Path(out_dir) / "plots"
    rows = _rows(results)
    prefix = f"{title}: " if title else ""
    spectral = [c for group in SPECTRAL_GROUPS.values() for c in group]
    made = [
        plot_bars(plots / "spectral.png", results, spectral,
                  prefix + "spectral distances (rows: vs raw, vs own round trip, round trip vs raw)"),
        plot_bars(plots / "codebook.png", results, _level_columns(rows, ("perplexity", "dead_fraction")),
                  prefix + "codebook usage on held-out notes"),
        plot_bars(plots / "silence.png", results,
                  _level_columns(rows, ("silent_entropy_bits", "silent_distinct_codes", "silent_fraction")),
                  prefix + "codes in silent regions"),
        plot_bars(plots / "pitch.png", results, ["pitch_accuracy", "raw_pitch_accuracy"], prefix + "pitch accuracy"),
        plot_bars(plots / "timing.png", results, list(TIMING_COLUMNS), prefix + "time per variant (s)"),
    ]
    return [p for p in made if p is not None]


def write_report(
    out_dir: str | Path, results: Sequence[Any], title: str = "", meta: Mapping[str, Any] | None = None
) -> dict[str, Path]:
    """``results.csv``, ``results.md``, ``results.json`` and ``plots/*.png`` under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"csv": out / "results.csv", "markdown": out / "results.md", "json": out / "results.json"}
    atomic_write_text(files["csv"], table_csv(results))
    atomic_write_text(files["markdown"], table_markdown(results, title, meta))
    payload = {"title": title, "meta": dict(meta or {}),
               "rows": [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
                        for row in _rows(results)]}
    atomic_write_text(files["json"], json.dumps(payload, indent=1, default=str))
    for i, path in enumerate(write_plots(out, results, title)):
        files[f"plot{i}:{path.stem}"] = path
    return files


