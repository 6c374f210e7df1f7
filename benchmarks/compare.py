"""Compare pytest-benchmark records: ``python benchmarks/compare.py A.json [B.json]``.

Benchmark tooling, kept beside the suites that write the records (it is not part of the installed
package: records come from ``pytest benchmarks/ --benchmark-json FILE``, i.e. from a checkout).
Options: ``--format markdown|csv`` (default Markdown) and ``--output FILE`` (default stdout).

Three tables, matched by each benchmark's ``fullname``:

* **timings**: median seconds per benchmark in A (and B, with the ratio B/A: below 1 = B faster);
* **metrics**: every numeric ``extra_info`` value (A, B, B − A), e.g. speed-up ratios measured
  inside one run, or the ablation's quality metrics;
* **studies**: benchmarks whose ``extra_info`` holds ``study`` and ``variant`` (the ablation) are
  pivoted to one row per variant and one column per metric, cells ``a → b`` for two records.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specinpaint.core.errors import SpecinpaintError
from specinpaint.studies.study_report import format_value, markdown_table, metric_columns

STAT = "median"


class RecordError(SpecinpaintError):
    """A file that is not a readable pytest-benchmark JSON record."""


@dataclass
class Record:
    """One ``--benchmark-json`` file: its benchmarks by fullname and a one-line machine summary."""

    path: str
    benchmarks: dict[str, dict[str, Any]]
    summary: str = ""
    machine: dict[str, Any] = field(default_factory=dict)


def _summary(data: Mapping[str, Any]) -> str:
    machine = data.get("machine_info") or {}
    cpu = machine.get("cpu") or {}
    ours = machine.get("specinpaint") or {}
    commit = (data.get("commit_info") or {}).get("id") or ""
    parts = [
        str(data.get("datetime", ""))[:19],
        machine.get("node", ""),
        cpu.get("brand_raw", "") if isinstance(cpu, Mapping) else "",
        f"device {ours.get('device')}" if ours.get("device") else "",
        f"torch {ours.get('torch')}" if ours.get("torch") else "",
        f"commit {commit[:10]}" if commit else "",
    ]
    return ", ".join(p for p in parts if p)


def load_record(path: str | Path) -> Record:
    """Parse and check a record; one-line errors for missing, non-JSON or foreign files."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except OSError as exc:
        raise RecordError(f"{p}: cannot read benchmark record ({exc.strerror or exc})") from exc
    except ValueError as exc:
        raise RecordError(f"{p}: not JSON ({exc})") from exc
    if not isinstance(data, Mapping) or not isinstance(data.get("benchmarks"), list):
        raise RecordError(f"{p}: not a pytest-benchmark record (no 'benchmarks' list); "
                          "write one with pytest benchmarks/ --benchmark-json FILE")
    benches: dict[str, dict[str, Any]] = {}
    for i, bench in enumerate(data["benchmarks"]):
        if not isinstance(bench, Mapping) or not (bench.get("fullname") or bench.get("name")):
            raise RecordError(f"{p}: benchmarks[{i}] has no name")
        benches[str(bench.get("fullname") or bench["name"])] = dict(bench)
    return Record(str(p), benches, _summary(data), dict(data.get("machine_info") or {}))


def _stat(bench: Mapping[str, Any] | None, stat: str = STAT) -> float:
    stats = (bench or {}).get("stats") or {}
    value = stats.get(stat)
    return float(value) if isinstance(value, int | float) else math.nan


def _numeric(info: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves of ``extra_info`` (nested dicts flattened with dots; bools skipped)."""
    out: dict[str, float] = {}
    for key, value in info.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            out[name] = float(value)
        elif isinstance(value, Mapping):
            out.update(_numeric(value, name + "."))
    return out


def _short(fullname: str) -> str:
    return fullname.rsplit("/", 1)[-1]


def _ratio(a: float, b: float) -> float:
    return b / a if a and math.isfinite(a) and math.isfinite(b) else math.nan


@dataclass
class Comparison:
    """Tables as lists of rows (strings already formatted for Markdown; raw values for CSV)."""

    records: list[Record]
    timings: list[dict[str, Any]]
    metrics: list[dict[str, Any]]
    studies: dict[str, list[dict[str, Any]]]

    @property
    def two(self) -> bool:
        return len(self.records) == 2

    def to_markdown(self) -> str:
        parts = ["# Benchmark comparison" if self.two else "# Benchmark record", ""]
        for tag, record in zip("AB", self.records, strict=False):
            parts.append(f"- **{tag}**: `{record.path}` ({record.summary or 'no machine info'})")
        parts += ["", f"## Timings ({STAT} seconds{'; B/A < 1: B is faster' if self.two else ''})", ""]
        if self.timings:
            header = ["benchmark", "A"] + (["B", "B/A"] if self.two else [])
            body = [[_short(r["benchmark"]), format_value(r["a"])]
                    + ([format_value(r["b"]), format_value(r["ratio"])] if self.two else []) for r in self.timings]
            parts.append(markdown_table(header, body))
        else:
            parts.append("(no timings: the record was written with benchmarks disabled)")
        for study, rows in self.studies.items():
            parts += ["", f"## Study `{study}`" + (" (A → B)" if self.two else ""), ""]
            columns = metric_columns([r["a"] for r in rows] + [r["b"] for r in rows if r["b"]])
            body = []
            for r in rows:
                cells = []
                for c in columns:
                    a = format_value(r["a"].get(c, math.nan))
                    cells.append(f"{a} → {format_value((r['b'] or {}).get(c, math.nan))}" if self.two else a)
                body.append([r["variant"], *cells])
            parts.append(markdown_table(["variant", *columns], body))
        others = [m for m in self.metrics if not m["in_study"]]
        if others:
            parts += ["", "## Metrics (numeric extra_info)", ""]
            header = ["benchmark", "metric", "A"] + (["B", "B − A"] if self.two else [])
            body = [[_short(m["benchmark"]), m["metric"], format_value(m["a"])]
                    + ([format_value(m["b"]), format_value(m["delta"])] if self.two else []) for m in others]
            parts.append(markdown_table(header, body))
        return "\n".join(parts) + "\n"

    def to_csv(self) -> str:
        """Long format: one line per (benchmark, quantity) with A, B, B/A and B − A."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["benchmark", "quantity", "a", "b", "b_over_a", "b_minus_a"])
        for r in self.timings:
            writer.writerow([r["benchmark"], f"time_{STAT}_s", *_csv_cells(r["a"], r["b"])])
        for m in self.metrics:
            writer.writerow([m["benchmark"], m["metric"], *_csv_cells(m["a"], m["b"])])
        return buf.getvalue()


def _csv_cells(a: float, b: float) -> list[str]:
    def f(x: float) -> str:
        return "" if x is None or math.isnan(x) else repr(float(x))

    return [f(a), f(b), f(_ratio(a, b)), f(b - a if b is not None else math.nan)]


def compare_records(records: Sequence[Record]) -> Comparison:
    """A :class:`Comparison` of one record, or of A against B (benchmarks of either, by fullname)."""
    if not 1 <= len(records) <= 2:
        raise RecordError(f"compare takes one or two records, got {len(records)}")
    a = records[0]
    b = records[1] if len(records) == 2 else None
    names = list(a.benchmarks) + ([n for n in b.benchmarks if n not in a.benchmarks] if b else [])
    timings, metrics = [], []
    studies: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        ba, bb = a.benchmarks.get(name), (b.benchmarks.get(name) if b else None)
        ta, tb = _stat(ba), _stat(bb) if b else math.nan
        if math.isfinite(ta) or math.isfinite(tb):
            timings.append({"benchmark": name, "a": ta, "b": tb, "ratio": _ratio(ta, tb)})
        info_a = (ba or {}).get("extra_info") or {}
        info_b = (bb or {}).get("extra_info") or {}
        study = info_a.get("study") or info_b.get("study")
        variant = info_a.get("variant") or info_b.get("variant")
        in_study = bool(study and variant)
        num_a, num_b = _numeric(info_a), _numeric(info_b)
        if in_study:
            studies.setdefault(str(study), []).append(
                {"variant": str(variant), "a": num_a, "b": num_b if b else None})
        for key in list(num_a) + [k for k in num_b if k not in num_a]:
            va, vb = num_a.get(key, math.nan), num_b.get(key, math.nan) if b else math.nan
            metrics.append({"benchmark": name, "metric": key, "a": va, "b": vb, "delta": vb - va,
                            "in_study": in_study})
    return Comparison(list(records), timings, metrics, studies)


def compare_files(paths: Sequence[str | Path], fmt: str = "markdown") -> str:
    comparison = compare_records([load_record(p) for p in paths])
    if fmt == "csv":
        return comparison.to_csv()
    if fmt in ("markdown", "md"):
        return comparison.to_markdown()
    raise RecordError(f"--format: unknown format '{fmt}' (markdown, csv)")


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; a bad record is one line on stderr and exit status 2."""
    parser = argparse.ArgumentParser(
        prog="python benchmarks/compare.py",
        description="Tables from one or two `pytest benchmarks/ --benchmark-json FILE` records: timings "
        "(median seconds, B/A), each study's metrics per variant (A -> B) and the other numeric extra_info.",
    )
    parser.add_argument("records", nargs="+", metavar="RECORD.json", help="one or two benchmark JSON records")
    parser.add_argument("--format", choices=("markdown", "csv"), default="markdown", help="table format")
    parser.add_argument("--output", type=Path, help="write the table to FILE instead of stdout")
    args = parser.parse_args(argv)
    try:
        if len(args.records) > 2:
            raise RecordError(f"expected one or two JSON records, got {len(args.records)}")
        text = compare_files(args.records, args.format)
        if args.output is not None:
            from specinpaint.core.atomic import atomic_write_text

            atomic_write_text(args.output, text)
            print(f"wrote {args.output}")
        else:
            sys.stdout.write(text)
    except (SpecinpaintError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
