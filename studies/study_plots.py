"""Study bar charts: one PNG per theme, one subplot per measure, one bar per variant (its mean
over the seeds, with the standard deviation as an error bar and each seed as a dot, so the
spread is visible next to the difference)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from specinpaint.core.atomic import atomic_path

from .columns import RUN_TIMINGS, describe, ordered
from .study_results import VariantSummary


def _metric(column: str) -> str:
    return column.partition(".")[2]


def _in(section: str, names: Sequence[str]) -> Callable[[str], bool]:
    return lambda c: c.partition(".")[0] == section and _metric(c) in names


def _level(section: str, suffixes: Sequence[str]) -> Callable[[str], bool]:
    def match(c: str) -> bool:
        if c.partition(".")[0] != section:
            return False
        meaning = describe(c)[0]
        return " level: " in meaning and any(_metric(c).endswith("_" + s) for s in suffixes)

    return match


def _any(*tests: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda c: any(t(c) for t in tests)


_SPECTRAL = ("sc", "lsd_db", "mrstft")
#: (file stem, title, which columns) in the order the plots are written.
PLOTS: tuple[tuple[str, str, Callable[[str], bool]], ...] = (
    ("spectral", "spectral distances (decoded vs raw, vs own round trip, round trip vs raw) and level",
     _any(_in("reconstruction", (*_SPECTRAL, *(f"{k}_vs_roundtrip" for k in _SPECTRAL),
                                 *(f"roundtrip_{k}" for k in _SPECTRAL), "level_error_db_mean", "level_error_db_std")),
          _in("inpainting", ("outside_lsd_db",)))),
    ("codebook", "codebook usage on held-out notes", _level("reconstruction", ("perplexity", "dead_fraction"))),
    ("silence", "codes in silent regions",
     _level("reconstruction", ("silent_entropy_bits", "silent_distinct_codes", "silent_fraction"))),
    ("pitch", "pitch accuracy: reconstructed, generated, inpainted",
     _any(_in("reconstruction", ("pitch_accuracy", "raw_pitch_accuracy", "octave_error_rate")),
          _in("generation", ("pitch_accuracy", "octave_error_rate", "unvoiced_rate")),
          _in("inpainting", ("pitch_accuracy",)))),
    ("family", "family accuracy (classifier): reconstructed, generated, inpainted",
     _any(_in("reconstruction", ("family_accuracy", "raw_family_accuracy")),
          _in("generation", ("family_accuracy", "family_accuracy_ratio", "classifier_heldout_accuracy")),
          _in("inpainting", ("family_accuracy",)))),
    ("priors", "priors on held-out codes", _level("priors", ("nll", "accuracy", "nll_region", "accuracy_region"))),
    ("timing", "seconds per run", lambda c: c in RUN_TIMINGS or c.startswith("timing.")),
)


def _save_figure(fig: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)  # tight_layout is applied; "tight" bbox would draw twice


def plot_bars(path: str | Path, summaries: Sequence[VariantSummary], columns: Sequence[str], title: str) -> Path | None:
    """One bar subplot per column (variants on the x axis); None when no column has a value."""
    present = [c for c in columns if any(math.isfinite(s.stats(c)[0]) for s in summaries)]
    if not present or not summaries:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ncols = min(3, len(present))
    nrows = math.ceil(len(present) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), squeeze=False)
    names = [s.name for s in summaries]
    colors = [f"C{i % 10}" for i in range(len(summaries))]
    for ax, column in zip(axes.flat, present, strict=False):
        stats = [s.stats(column) for s in summaries]
        means = [0.0 if not math.isfinite(m) else m for m, _, _ in stats]
        errors = [sd if n >= 2 and math.isfinite(sd) else 0.0 for _, sd, n in stats]
        ax.bar(range(len(summaries)), means, color=colors, yerr=errors, capsize=3, alpha=0.85)
        for i, s in enumerate(summaries):
            values = [v for v in s.per_seed(column) if math.isfinite(v)]
            if len(values) >= 2:
                ax.plot([i] * len(values), values, "k.", markersize=4)
        better = describe(column)[1]
        suffix = {"lower": " (lower better)", "higher": " (higher better)", "zero": " (0 best)"}.get(better, "")
        ax.set_title(column + suffix, fontsize=8)
        ax.set_xticks(range(len(summaries)), names, rotation=20, ha="right", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
    for ax in list(axes.flat)[len(present):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    target = Path(path)
    _save_figure(fig, target)
    plt.close(fig)
    return target


def write_plots(out_dir: str | Path, summaries: Sequence[VariantSummary], title: str = "") -> list[Path]:
    """``plots/{spectral,codebook,silence,pitch,family,priors,timing}.png`` for the themes that
    have values (a reconstruction-only study has no priors plot)."""
    plots = Path(out_dir) / "plots"
    columns = ordered(c for s in summaries for c in s.columns())
    prefix = f"{title}: " if title else ""
    made = [plot_bars(plots / f"{stem}.png", summaries, [c for c in columns if wanted(c)], prefix + heading)
            for stem, heading, wanted in PLOTS]
    return [p for p in made if p is not None]
