"""`specinpaint ablate`: run an ablation study, or compare pytest-benchmark records.

Two forms share the command (the first word decides)::

    specinpaint ablate STUDY.yaml [--out DIR] [--budget NAME] [--only A,B] [--rerun] [--list] [KEY=VALUE ...]
    specinpaint ablate compare A.json [B.json] [--format markdown|csv] [--output FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

USAGE = (
    "specinpaint ablate STUDY [--out DIR] [--budget NAME] [--only V1,V2] [--rerun] [--list] [KEY=VALUE ...]\n"
    "       specinpaint ablate compare A.json [B.json] [--format {markdown,csv}] [--output FILE]"
)
DESCRIPTION = """\
Run an ablation study: train every variant of the study grid with the same data, budget and seed
(and the same quantizer, unless the study compares whole configs: a variant may name its own base
config), evaluate each on the held-out split, and write results.csv, results.md, results.json and
plots/*.png to the output folder. Finished variants (variants/NAME/result.json with the same config)
are skipped, so an interrupted study resumes where it stopped.

STUDY is a study YAML (e.g. configs/ablations/representation.yaml) or a built-in name
(ablations/representation, ablations/paper_representation, ablations/paper_vs_specinpaint). The
default study budget is a short CPU one; on a GPU run ablations/paper_representation (the paper's
config and budget) instead.
KEY=VALUE overrides apply to every variant's pipeline config (e.g. training.quantizer.steps=500), or to the evaluation when the key
starts with 'evaluation.' (e.g. evaluation.max_notes=64).

'ablate compare A.json [B.json]' turns one or two `pytest benchmarks/ --benchmark-json FILE` records
into tables: timings (median seconds, B/A), the ablation's metrics per variant (A -> B) and the
other numeric extra_info values (B - A)."""


def _add_options(parser: argparse.ArgumentParser, suppress: bool = False) -> None:
    """The options, on the visible parser (help, options before STUDY) and on the one that parses
    what follows STUDY, so options and KEY=VALUE overrides may be mixed in any order."""
    default = (lambda value: argparse.SUPPRESS) if suppress else (lambda value: value)
    run_group = parser.add_argument_group("study options")
    run_group.add_argument("--out", type=Path, default=default(None),
                           help="output folder (default: outputs/ablations/STUDY[-BUDGET])")
    run_group.add_argument("--budget", default=default(None),
                           help="named budget from the study file (e.g. ci, cpu, paper); default: the study's")
    run_group.add_argument("--only", default=default(None), help="comma-separated variant names to run")
    run_group.add_argument("--rerun", action="store_true", default=default(False),
                           help="delete the selected variants' previous runs in --out and train them again "
                           "(without it, a variant trained with another config is refused)")
    run_group.add_argument("--list", action="store_true", default=default(False),
                           help="print the expanded grid (what each variant changes) and exit")
    cmp_group = parser.add_argument_group("compare options")
    cmp_group.add_argument("--format", choices=("markdown", "csv"), default=default("markdown"),
                           help="table format")
    cmp_group.add_argument("--output", type=Path, default=default(None),
                           help="write the table to FILE instead of stdout")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "ablate", help="run an ablation study grid, or compare benchmark records ('ablate compare')",
        usage=USAGE, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("study", metavar="STUDY|compare", help="study YAML / built-in name, or the word 'compare'")
    parser.add_argument("rest", nargs=argparse.REMAINDER, metavar="KEY=VALUE|RECORD.json",
                        help="dotted overrides (study), or one or two benchmark JSON records (compare); "
                        "options may come before or after them")
    _add_options(parser)
    parser.set_defaults(func=run)


def _parse_rest(args: argparse.Namespace) -> None:
    """Options given after STUDY override those given before it; the rest are positionals."""
    inner = argparse.ArgumentParser(prog="specinpaint ablate", usage=USAGE, add_help=False)
    inner.add_argument("items", nargs="*")
    _add_options(inner, suppress=True)
    parsed = inner.parse_intermixed_args(args.rest)
    for key, value in vars(parsed).items():
        setattr(args, key, value)
    args.rest = list(parsed.items)


def run(args: argparse.Namespace) -> int:
    _parse_rest(args)
    if args.study == "compare":
        return _compare(args)
    return _study(args)


def _compare(args: argparse.Namespace) -> int:
    from specinpaint.core.atomic import atomic_write_text
    from specinpaint.core.errors import SpecinpaintError
    from specinpaint.training.bench_compare import compare_files

    if not 1 <= len(args.rest) <= 2:
        raise SpecinpaintError(f"ablate compare: expected one or two JSON records, got {len(args.rest)}")
    text = compare_files(args.rest, args.format)
    if args.output is not None:
        atomic_write_text(args.output, text)
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def _study(args: argparse.Namespace) -> int:
    from specinpaint.training.ablation import expand_study, load_study

    study = load_study(args.study)
    only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    variants = expand_study(study, args.budget, args.rest, only)
    budget = args.budget or study.spec.budget
    if args.list:
        _print_grid(study, variants, budget)
        return 0
    out = args.out or Path("outputs") / "ablations" / (study.name + (f"-{budget}" if budget else ""))
    import torch

    if torch.cuda.is_available() and budget != "paper":
        print(f"note: CUDA is available but budget '{budget}' is a short CPU budget; for the paper's budget "
              "run: specinpaint ablate ablations/paper_representation", file=sys.stderr)
    from specinpaint.training.ablation_run import run_default_study

    results = run_default_study(study, out, budget=args.budget, overrides=args.rest, only=only, rerun=args.rerun)
    print(f"{len(results)} variants -> {out}/results.md, results.csv, plots/")
    print((out / "results.md").read_text())
    return 0


def _print_grid(study, variants, budget) -> None:
    from specinpaint.training.ablation import config_differences

    print(f"study {study.name}: {len(variants)} variants, budget {budget or '(none)'}")
    if not variants:
        return
    q = variants[0].config.training.quantizer
    print(f"shared: quantizer {variants[0].config.quantizer.name}, {q.steps} steps, batch {q.batch_size}, "
          f"seed {q.seed}, spectrogram {variants[0].config.num_samples} samples")
    base = variants[0].config.model_dump(mode="json")
    for v in variants:
        rep = v.config.representation
        shown = {k: rep.params[k] for k in ("mel_break_frequency_hz", "phase_threshold", "n_mels") if k in rep.params}
        diff = [d for d in config_differences(base, v.config.model_dump(mode="json")) if d != "name"]
        print(f"  {v.name:14s} {v.label}" + (f" (config {v.base})" if v.base else ""))
        print(f"  {'':14s} representation {rep.name} {shown}; differs from first: {', '.join(diff) or '-'}")
