"""`specinpaint data render|summary|split|programs`: build, inspect and split NSynth-format datasets."""

from __future__ import annotations

import argparse
import json

from specinpaint.core.errors import ConfigError, DataError

NSYNTH = "nsynth"  # the datasets-registry plugin these commands summarise and split


def _csv(kind: type = str):
    def parse(text: str) -> list:
        try:
            return [kind(item.strip()) for item in text.split(",") if item.strip()]
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {kind.__name__}: {text}") from exc

    return parse


def _count_or_all(text: str) -> int | None:
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'all', got {text}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'all', got {text}")
    return value


def _splits(text: str) -> dict[str, float]:
    out = {}
    for item in text.split(","):
        name, _, fraction = item.partition("=")
        try:
            out[name.strip()] = float(fraction)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected name=fraction pairs like train=0.8,valid=0.2: {text}") from None
    return out


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("data", help="render, inspect and split NSynth-format datasets")
    dsub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    render = dsub.add_parser(
        "render", help="render an NSynth-format dataset from a General MIDI SoundFont",
        description="Writes <out>/<split>/examples.json and <out>/<split>/audio/<note_str>.wav (4 s notes, "
        "note-off at 3 s, 16 kHz mono 16-bit) plus render_report.json. Defaults: the built-in dataset.",
    )
    render.add_argument("--out", required=True, help="output directory (built atomically)")
    render.add_argument("--soundfont", action="append", metavar="FILE.sf2",
                        help="GM SoundFont (repeatable); 'installed' = pretty_midi's TimGM6mb.sf2 plus every "
                        "system GM SoundFont found (FluidR3_GM); default: TimGM6mb.sf2 alone")
    render.add_argument("--tiny", action="store_true", help="start from the tiny test spec (~45 notes)")
    render.add_argument("--families", type=_csv(), help="comma-separated NSynth families (default: all 11)")
    render.add_argument("--programs", type=_csv(int), help="explicit GM programs, 0-based (see `data programs`)")
    render.add_argument("--instruments-per-family", type=_count_or_all, metavar="N|all", default=argparse.SUPPRESS,
                        help="GM programs per family (default 2, the spec's; 'all' = every mapped program, "
                        "what the default job renders)")
    render.add_argument("--unseen-instruments-per-family", type=int, metavar="N",
                        help="hold N instruments per family out whole, in the 'unseen' split")
    render.add_argument("--pitch-min", type=int)
    render.add_argument("--pitch-max", type=int)
    render.add_argument("--pitch-step", type=int)
    render.add_argument("--no-natural-ranges", action="store_true", help="play every family over the whole range")
    render.add_argument("--velocities", type=_csv(int), help="default 25,50,75,100,127")
    render.add_argument("--velocities-per-pitch", type=_count_or_all, metavar="N|all", default=argparse.SUPPRESS)
    render.add_argument("--splits", type=_splits, help="e.g. train=0.8,valid=0.1,test=0.1")
    render.add_argument("--max-notes", type=int)
    render.add_argument("--seed", type=int)
    render.add_argument("--workers", type=int, help="worker processes (default: CPU count, at most 8)")
    render.add_argument("--force", action="store_true", help="replace a previous render in --out")
    render.set_defaults(func=run_render)

    summary = dsub.add_parser("summary", help="counts per family/source/pitch, filters and skipped files")
    _dataset_args(summary)
    summary.add_argument("--json", action="store_true", help="print the summary as JSON")
    summary.set_defaults(func=run_summary)

    split = dsub.add_parser(
        "split", help="write the paper's seeded 80/20 split of train+valid as JSON lists of note names"
    )
    split.add_argument("--root", required=True, help="NSynth root (holds train/ and valid/, or the official "
                       "nsynth-train/ and nsynth-valid/)")
    split.add_argument("--seed", type=int, default=None, help="default 20200117 (the paper's)")
    split.add_argument("--train-fraction", type=float, default=None, help="default 0.8")
    split.add_argument("--out", help="split file (default <root>/splits/paper-seed<seed>.json)")
    split.add_argument("--force", action="store_true", help="recompute even if the file exists")
    split.set_defaults(func=run_split)

    programs = dsub.add_parser("programs", help="print the GM program -> NSynth family/source table")
    programs.set_defaults(func=run_programs)


def _dataset_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", required=True, help="NSynth root (holds train/ valid/ test/, or the official "
                        "nsynth-train/ nsynth-valid/ nsynth-test/)")
    parser.add_argument("--split", default="train")
    parser.add_argument("--split-scheme", choices=("official", "paper"), default="paper")
    parser.add_argument("--seed", type=int, default=None, help="paper split seed (default 20200117)")
    parser.add_argument("--splits-file")
    parser.add_argument("--pitch-min", type=int)
    parser.add_argument("--pitch-max", type=int)
    parser.add_argument("--families", type=_csv())
    parser.add_argument("--sources", type=_csv())
    parser.add_argument("--velocities", type=_csv(int))
    parser.add_argument("--validate", choices=("none", "exists", "header", "full"), default="header")
    parser.add_argument("--skip-bad", action="store_true", help="skip (and count) bad files instead of failing")


def _one_line(exc: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        return f"{loc}: {first['msg']}" if loc else first["msg"]
    return str(exc)


def run_render(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from specinpaint.data.render_spec import RenderSpec
    from specinpaint.data.renderer import REPORT_FILE, render_dataset

    overrides = {
        "families": args.families, "programs": args.programs, "pitch_min": args.pitch_min,
        "pitch_max": args.pitch_max, "pitch_step": args.pitch_step, "velocities": args.velocities,
        "splits": args.splits, "max_notes": args.max_notes, "seed": args.seed,
        "unseen_instruments_per_family": args.unseen_instruments_per_family,
    }
    fields = {k: v for k, v in overrides.items() if v is not None}
    for name in ("instruments_per_family", "velocities_per_pitch"):  # absent unless given ("all" = None)
        if hasattr(args, name):
            fields[name] = getattr(args, name)
    if args.no_natural_ranges:
        fields["natural_ranges"] = False
    try:
        spec = RenderSpec.tiny(**fields) if args.tiny else RenderSpec(**fields)
    except ValidationError as exc:
        raise ConfigError(f"render spec: {_one_line(exc)}") from exc
    out = render_dataset(args.out, spec, args.soundfont, workers=args.workers, overwrite=args.force,
                         progress=True)
    report = json.loads((out / REPORT_FILE).read_text())
    counts = ", ".join(f"{k} {v}" for k, v in report["counts"].items())
    rejected = ", ".join(f"{k} {v}" for k, v in report["rejected"].items())
    print(f"wrote {report['notes_written']} notes to {out} ({counts}) from {len(report['instruments'])} "
          f"instruments; rejected: {rejected}; {report['notes_per_second']} notes/s on {report['workers']} workers")
    return 0


def _dataset(args: argparse.Namespace, split_scheme: str | None = None):
    """The ``nsynth`` plugin of the datasets registry (as a pipeline config reaches it)."""
    from specinpaint.core.registry import registry

    fields = {
        "root": args.root, "split": args.split, "split_scheme": split_scheme or args.split_scheme,
        "split_seed": args.seed, "splits_file": args.splits_file, "pitch_min": args.pitch_min,
        "pitch_max": args.pitch_max, "families": args.families, "sources": args.sources,
        "velocities": args.velocities, "validate_files": args.validate,
        "on_bad_file": "skip" if args.skip_bad else "error",
    }
    return registry("datasets").build(NSYNTH, {k: v for k, v in fields.items() if v is not None})


def run_summary(args: argparse.Namespace) -> int:
    from specinpaint.data.nsynth import format_summary

    summary = _dataset(args).summary()
    print(json.dumps(summary, indent=1) if args.json else format_summary(summary))
    return 0


def run_split(args: argparse.Namespace) -> int:
    from pathlib import Path

    from specinpaint.core.registry import registry
    from specinpaint.data.splits import PAPER_SEED, PAPER_TRAIN_FRACTION, default_split_path, read_split

    seed = PAPER_SEED if args.seed is None else args.seed
    fraction = PAPER_TRAIN_FRACTION if args.train_fraction is None else args.train_fraction
    if not 0 < fraction < 1:
        raise DataError(f"--train-fraction must be in (0, 1), got {fraction}")
    out = Path(args.out) if args.out else default_split_path(Path(args.root), seed, fraction)
    if out.exists() and args.force:
        out.unlink()
    registry("datasets").build(NSYNTH, {
        "root": args.root, "split": "train", "split_scheme": "paper", "split_seed": seed,
        "split_train_fraction": fraction, "splits_file": str(out), "validate_files": "none",
    })
    counts = read_split(out)["splits"]
    print(f"{out}: " + ", ".join(f"{name} {len(items)}" for name, items in counts.items()) + f" (seed {seed})")
    return 0


def run_programs(args: argparse.Namespace) -> int:
    from specinpaint.data.gm_programs import table_rows

    print(f"{'PROGRAM':>7}  {'GM NAME':<26}  {'FAMILY':<10}  SOURCE")
    for program, name, family, source in table_rows():
        print(f"{program:>7}  {name:<26}  {family:<10}  {source}")
    return 0
