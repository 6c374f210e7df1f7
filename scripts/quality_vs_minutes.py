"""Quality against minutes of training, from `specinpaint evaluate` reports.

    python scripts/quality_vs_minutes.py OUT.png [RUN_LABEL=EVALUATION.json | POINTS.csv] [...]

Each report's training minutes are the sum of its bundle's recorded stage times (the
``train_*`` timings the evaluation copies from the training records); the plot shows generated
pitch accuracy, generated family accuracy (as a share of the classifier's ceiling) and the
reconstruction's pitch accuracy against them, and a Markdown table of the same numbers is printed.
A ``.csv`` argument adds points recorded earlier (columns ``run``, ``train_min`` and the three
series as fractions, empty where not measured), so the plot can be redrawn after the run folders
are gone. Why a script and not a command: it only reads reports that `evaluate` already wrote.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# series name: (report section, metric, column of a points file)
SERIES_SOURCES = {
    "generated pitch accuracy": ("generation", "pitch_accuracy", "generated_pitch"),
    "generated family / ceiling": ("generation", "family_accuracy_ratio", "generated_family_ratio"),
    "reconstructed pitch accuracy": ("reconstruction", "pitch_accuracy", "reconstructed_pitch"),
}
SERIES = {name: (section, key) for name, (section, key, _) in SERIES_SOURCES.items()}
CSV_COLUMNS = {name: column for name, (_, _, column) in SERIES_SOURCES.items()}
Point = tuple[str, float, dict[str, float | None]]


def point(path: Path) -> tuple[float, dict[str, float | None]]:
    report = json.loads(path.read_text())
    minutes = sum(v for k, v in report["timings"].items() if k.startswith("train_")) / 60
    values = {name: report["sections"].get(section, {}).get("metrics", {}).get(key)
              for name, (section, key) in SERIES.items()}
    return minutes, values


def recorded_points(path: Path) -> list[Point]:
    """The rows of a points file: (run, training minutes, the three series or None)."""
    with path.open(newline="") as handle:
        return [(row["run"], float(row["train_min"]),
                 {name: float(row[column]) if row[column].strip() else None for name, column in CSV_COLUMNS.items()})
                for row in csv.DictReader(handle)]


def _plot(runs: list[Point], out: Path) -> None:
    """Points are numbered and the numbers keyed beside the axes: runs of equal minutes sit on top
    of each other, where full labels would overwrite one another."""
    fig, ax = plt.subplots(figsize=(10, 4.5))
    fig.subplots_adjust(left=0.07, right=0.58, bottom=0.12, top=0.95)
    for name in SERIES:
        xs = [m for _, m, v in runs if v[name] is not None]
        ys = [100 * v[name] for _, _, v in runs if v[name] is not None]
        ax.scatter(xs, ys, label=name, s=18)
    for number, (_, minutes, values) in enumerate(runs, start=1):
        y = values["generated pitch accuracy"]
        if y is not None:
            ax.annotate(str(number), (minutes, 100 * y), fontsize=7, xytext=(3, -9), textcoords="offset points")
    ax.set_xlabel("training minutes (sum of the stages' recorded wall time)")
    ax.set_ylabel("%  (numbers mark each run's generated pitch)")
    ax.set_ylim(0, 104)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    key = "\n".join(f"{number}. {label}" for number, (label, _, _) in enumerate(runs, start=1))
    fig.text(0.6, 0.95, key, fontsize=7, va="top", ha="left")
    fig.savefig(out, dpi=120)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or any("=" not in a and not a.endswith(".csv") for a in argv[1:]):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    out = Path(argv[0])
    runs: list[Point] = []
    for arg in argv[1:]:
        if arg.endswith(".csv"):  # a points file, even when its path holds a "="
            runs.extend(recorded_points(Path(arg)))
        else:
            label, path = arg.split("=", 1)
            runs.append((label, *point(Path(path))))
    _plot(runs, out)
    print("| run | train min | " + " | ".join(SERIES) + " |")
    print("|---|---|" + "---|" * len(SERIES))
    for label, minutes, values in runs:
        cells = ["–" if v is None else f"{100 * v:.1f} %" for v in values.values()]
        print(f"| {label} | {minutes:.1f} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
