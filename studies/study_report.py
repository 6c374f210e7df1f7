"""Study tables (CSV, Markdown, JSON) written atomically, plus the plots (studies/study_plots.py).

* ``results.md``: one table per evaluation section, measures as rows and variants as columns,
  cells ``mean ± std`` over the seeds (a single value for one seed), the best variant in bold
  where it beats the next best by more than the noise; then what each measure means.
* ``results.csv``: one row per run (``seed`` = K), plus ``mean`` and ``std`` rows per variant
  that ran several seeds; columns are the flat evaluation names (studies/columns.py).
* ``results.json``: per variant the seeds, mean, std and every run's values.

The column names are those of ``result.json`` and of the benchmark's ``extra_info``, so a record
from ``pytest benchmarks/`` and a table from ``specinpaint ablate`` compare column by column.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from specinpaint.core.atomic import atomic_write_text

from .columns import ARROWS, SECTIONS, best_index, describe, ordered, section_of
from .study_results import RunResult, VariantSummary, summarize

NON_METRIC = ("variant", "label", "seed")


def metric_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every column of ``rows`` (dicts of column → value) in vocabulary order."""
    return ordered(key for row in rows for key in row if key not in NON_METRIC)


def format_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        if value == 0 or 1e-3 <= abs(value) < 1e5:
            return f"{value:.4g}"
        return f"{value:.3e}"
    return str(value)


def format_std(std: float, mean: float) -> str:
    """Two significant digits; float round-off (below 1e-9 of the mean's size) shows as 0."""
    if std <= 1e-9 * max(1.0, abs(mean)):
        return "0"
    return f"{std:.2g}" if 1e-3 <= std < 1e5 else f"{std:.1e}"


def format_cell(mean: float, std: float, runs: int) -> str:
    """``mean ± std`` over several runs, the bare value for one run."""
    if runs >= 2 and math.isfinite(std) and math.isfinite(mean):
        return f"{format_value(mean)} ± {format_std(std, mean)}"
    return format_value(mean)


def markdown_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in body]
    return "\n".join(lines)


def _summaries(results: Sequence[RunResult] | Sequence[VariantSummary]) -> list[VariantSummary]:
    if results and isinstance(results[0], VariantSummary):
        return list(results)  # type: ignore[arg-type]
    return summarize(results)  # type: ignore[arg-type]


def _columns(summaries: Sequence[VariantSummary]) -> list[str]:
    return ordered(c for s in summaries for c in s.columns())


def clear_winner(summaries: Sequence[VariantSummary], column: str) -> int | None:
    """Index of the variant that is best on ``column`` by more than the noise: its mean beats the
    next best by more than the larger of their standard deviations. None with fewer than two
    variants, fewer than two runs per variant, no direction, or a gap within the noise."""
    better = describe(column)[1]
    stats = [s.stats(column) for s in summaries]
    if len(stats) < 2 or any(n < 2 for _, _, n in stats):
        return None
    means = [m for m, _, _ in stats]
    best = best_index(means, better)
    if best is None:
        return None
    rest = [m if i != best else math.nan for i, m in enumerate(means)]
    second = best_index(rest, better)
    if second is None:
        return None
    score = {"lower": lambda v: -v, "higher": lambda v: v, "zero": lambda v: -abs(v)}[better]
    gap = score(means[best]) - score(means[second])
    return best if gap > max(stats[best][1], stats[second][1]) else None


def table_csv(results: Sequence[RunResult] | Sequence[VariantSummary]) -> str:
    summaries = _summaries(results)
    columns = _columns(summaries)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*NON_METRIC, *columns])

    def cell(value: float) -> str:
        return "" if not math.isfinite(value) else repr(float(value))

    for s in summaries:
        for run in s.runs:
            writer.writerow([s.name, s.label, "" if run.seed is None else run.seed,
                             *(cell(run.values.get(c, math.nan)) for c in columns)])
        if len(s.runs) >= 2:
            writer.writerow([s.name, s.label, "mean", *(cell(s.stats(c)[0]) for c in columns)])
            writer.writerow([s.name, s.label, "std", *(cell(s.stats(c)[1]) for c in columns)])
    return buf.getvalue()


def _seeds_text(summary: VariantSummary) -> str:
    seeds = [s for s in summary.seeds if s is not None]
    return f"seeds {', '.join(map(str, seeds))}" if seeds else "the config's own seeds"


def table_markdown(results: Sequence[RunResult] | Sequence[VariantSummary], title: str = "",
                   meta: Mapping[str, Any] | None = None) -> str:
    """Measures as rows (one table per section), variants as columns, then the legend."""
    summaries = _summaries(results)
    columns = _columns(summaries)
    runs = max((len(s.runs) for s in summaries), default=0)
    parts = [f"# {title}" if title else "# Ablation results", ""]
    for key, value in (meta or {}).items():
        if value not in (None, "", [], {}):
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            parts.append(f"- **{key}**: {shown}")
    if meta:
        parts.append("")
    if runs >= 2:
        parts.append("Cells: mean ± standard deviation over the seeds (runs per variant in the header). **Bold**: "
                     "the best variant on that measure, where its mean beats the next best by more than the larger "
                     "of their standard deviations; no bold means the best is within the noise.")
    else:
        parts.append("Cells: one run per variant (one seed), so there is no noise estimate and no variant is "
                     "marked best; run several `seeds` to tell differences from noise.")
    header = ["measure", "better"] + [s.name + (f" (n={len(s.runs)})" if runs >= 2 else "") for s in summaries]
    for section in SECTIONS:
        rows = [c for c in columns if section_of(c) == section]
        if not rows:
            continue
        body = []
        for column in rows:
            winner = clear_winner(summaries, column)
            cells = []
            for i, s in enumerate(summaries):
                mean, std, n = s.stats(column)
                text = format_cell(mean, std, n)
                cells.append(f"**{text}**" if i == winner else text)
            name = column.partition(".")[2] if "." in column else column
            body.append([f"`{name}`", ARROWS[describe(column)[1]], *cells])
        parts += ["", f"## {section.capitalize()}", "", markdown_table(header, body)]
    parts += ["", "Variants:", ""]
    parts += [f"- `{s.name}`: {s.label} ({_seeds_text(s)})" for s in summaries]
    parts += ["", "Measures (↓ lower is better, ↑ higher is better, →0 closest to zero is best; no arrow: "
              "context, not a score):", ""]
    for column in columns:
        meaning, _ = describe(column)
        if meaning:
            parts.append(f"- `{column}`: {meaning}")
    return "\n".join(parts) + "\n"


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def report_json(results: Sequence[RunResult] | Sequence[VariantSummary], title: str = "",
                meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    summaries = _summaries(results)
    columns = _columns(summaries)
    return {
        "title": title,
        "meta": dict(meta or {}),
        "columns": {c: {"meaning": describe(c)[0], "better": describe(c)[1]} for c in columns},
        "variants": [
            {
                "name": s.name, "label": s.label, "seeds": s.seeds,
                "mean": {c: _finite_or_none(s.stats(c)[0]) for c in s.columns()},
                "std": {c: _finite_or_none(s.stats(c)[1]) for c in s.columns()},
                "runs": [{"seed": r.seed, "values": {k: _finite_or_none(v) for k, v in r.values.items()}}
                         for r in s.runs],
            }
            for s in summaries
        ],
    }


def write_report(
    out_dir: str | Path, results: Sequence[RunResult] | Sequence[VariantSummary], title: str = "",
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """``results.csv``, ``results.md``, ``results.json`` and ``plots/*.png`` under ``out_dir``."""
    from .study_plots import write_plots

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summaries = _summaries(results)
    files = {"csv": out / "results.csv", "markdown": out / "results.md", "json": out / "results.json"}
    atomic_write_text(files["csv"], table_csv(summaries))
    atomic_write_text(files["markdown"], table_markdown(summaries, title, meta))
    atomic_write_text(files["json"], json.dumps(report_json(summaries, title, meta), indent=1, default=str,
                                                allow_nan=False))
    for path in write_plots(out, summaries, title):
        files[f"plot:{path.stem}"] = path
    return files
