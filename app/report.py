"""A small self-contained HTML report: one card per demo note with an <audio> player, its
spectrogram and codemap images, and what produced it, and optionally grids of notes (e.g. family ×
pitch) with a player and a spectrogram per cell. Files are linked relatively, so the output
directory can be moved or zipped as a whole."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specinpaint.core.atomic import atomic_write_text


@dataclass
class ReportItem:
    """One note in the report; paths are relative to the report's directory."""

    title: str
    description: str
    audio: str
    images: list[tuple[str, str]] = field(default_factory=list)  # (caption, path)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReportGrid:
    """A table of notes: ``cells[(row, column)] = (audio path, image path)``, relative paths;
    missing cells stay empty."""

    title: str
    description: str
    rows: list[str]
    columns: list[str]
    cells: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)


STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; padding: 0 1rem; }
h1 { margin-bottom: .2rem; } .muted { color: #666; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 1rem; margin: 1rem 0; }
.card h2 { margin: 0 0 .3rem; font-size: 1.1rem; }
.images { display: flex; flex-wrap: wrap; gap: .8rem; align-items: flex-start; }
figure { margin: 0; } figure img { max-height: 260px; border: 1px solid #eee; }
figcaption { font-size: .85rem; color: #555; }
code, pre { background: #f5f5f5; padding: .1rem .3rem; border-radius: 3px; }
table { border-collapse: collapse; } td, th { padding: .15rem .6rem; border-bottom: 1px solid #eee; text-align: left; }
.scroll { overflow-x: auto; } .grid td { vertical-align: top; padding: .15rem .25rem; }
.grid img { width: 112px; height: 84px; display: block; } .grid audio { width: 112px; height: 2rem; }
"""


def _details(details: Mapping[str, Any]) -> str:
    if not details:
        return ""
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in details.items()
    )
    return f"<table>{rows}</table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def _evaluation(evaluation: tuple[Sequence[Sequence[str]], str] | None) -> str:
    """The evaluation's summary rows (measure, value, reference) and a link to its full report."""
    if not evaluation:
        return ""
    rows, href = evaluation
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return (f'<section class="card"><h2>Evaluation (quick)</h2><table>{body}</table>'
            f'<p><a href="{html.escape(href)}">full evaluation report</a></p></section>')


def _grid(grid: ReportGrid) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in grid.columns)
    rows = []
    for row in grid.rows:
        cells = []
        for column in grid.columns:
            if (row, column) not in grid.cells:
                cells.append("<td></td>")
                continue
            audio, image = (html.escape(p) for p in grid.cells[(row, column)])
            cells.append(f'<td><img src="{image}" alt="{html.escape(f"{row} {column}")}">'
                         f'<audio controls preload="none" src="{audio}"></audio></td>')
        rows.append(f"<tr><th>{html.escape(row)}</th>{''.join(cells)}</tr>")
    return (f'<section class="card"><h2>{html.escape(grid.title)}</h2><p class="muted">{html.escape(grid.description)}'
            f'</p><div class="scroll"><table class="grid"><tr><th></th>{head}</tr>{"".join(rows)}</table></div></section>')


def render_report(
    title: str,
    items: Sequence[ReportItem],
    summary: Mapping[str, Any] | None = None,
    footer: str = "",
    evaluation: tuple[Sequence[Sequence[str]], str] | None = None,
    grids: Sequence[ReportGrid] = (),
) -> str:
    """The report's HTML text."""
    cards = []
    for item in items:
        figures = "".join(
            f'<figure><img src="{html.escape(path)}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            for caption, path in item.images
        )
        cards.append(
            f'<section class="card"><h2>{html.escape(item.title)}</h2>'
            f'<p class="muted">{html.escape(item.description)}</p>'
            f'<audio controls preload="none" src="{html.escape(item.audio)}"></audio> '
            f'<a href="{html.escape(item.audio)}" download>WAV</a>'
            f'{_details(item.details)}<div class="images">{figures}</div></section>'
        )
    summary_html = ""
    if summary:
        summary_html = (
            "<details><summary>Pipeline and training summary</summary><pre>"
            + html.escape(json.dumps(summary, indent=1, sort_keys=True, default=str))
            + "</pre></details>"
        )
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{summary_html}{_evaluation(evaluation)}{''.join(map(_grid, grids))}"
        f"{''.join(cards)}"
        f'<p class="muted">{footer}</p></body></html>'
    )


def write_report(path: str | Path, title: str, items: Sequence[ReportItem], summary: Mapping[str, Any] | None = None,
                 footer: str = "", evaluation: tuple[Sequence[Sequence[str]], str] | None = None,
                 grids: Sequence[ReportGrid] = ()) -> Path:
    """Write the report atomically and return its path."""
    path = Path(path)
    atomic_write_text(path, render_report(title, items, summary, footer, evaluation, grids))
    return path
