"""`specinpaint ablate`: run an ablation study (studies/study.py, studies/study_run.py)::

    specinpaint ablate STUDY.yaml [--out DIR] [--budget NAME] [--only A,B] [--seeds 0,1,2] [--rerun] [--list]
                                  [--report-only] [KEY=VALUE ...]

Benchmark records are compared by ``python benchmarks/compare.py`` (benchmark tooling, in the
checkout); ``specinpaint ablate compare`` only says so.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

USAGE = ("specinpaint ablate STUDY [--out DIR] [--budget NAME] [--only V1,V2] [--seeds S1,S2] [--rerun] [--list] "
         "[--report-only] [KEY=VALUE ...]")
COMPARE_MOVED = ("'ablate compare' moved to the benchmark tooling: run `python benchmarks/compare.py A.json [B.json]` "
                 "in a source checkout")
DESCRIPTION = """\
Run an ablation study: train every variant of the study grid with the same data, budget and seeds
(and the same quantizer, unless the study compares whole configs: a variant may name its own base
config), evaluate each with the evaluation of `specinpaint evaluate` on the held-out split, and write
results.md (mean ± std over the seeds), results.csv, results.json and plots/*.png to the output
folder, and each run's full evaluation report to variants/NAME/seed-K/evaluation/. The whole
pipeline is trained when the config has priors and the evaluation measures generation, inpainting
or the priors; else only the quantizer. Finished runs (result.json with the same config and evaluation) are skipped, so an
interrupted study resumes where it stopped, and a study may be run a few seeds at a time
(--seeds 0, then --seeds 1,2): the table covers every finished run of the seeds asked for.
--report-only writes the table of the runs finished so far without training anything.

STUDY is a study YAML (e.g. configs/ablations/representation.yaml) or a built-in name
(ablations/representation, ablations/paper_representation, ablations/paper_vs_specinpaint). The representation study's default
budget (cpu) trains the whole tiny pipeline once per variant and seed; --budget ci is a quick smoke
test. On a GPU run ablations/paper_representation (the paper's config and budget) instead.
KEY=VALUE overrides apply to every variant's pipeline config (e.g. training.quantizer.steps=500),
or to the evaluation when the key starts with 'evaluation.' (e.g. evaluation.reconstruction_notes=64,
evaluation.sections=[reconstruction]; the keys of `specinpaint evaluate`).

pytest-benchmark records (`pytest benchmarks/ --benchmark-json FILE`) are compared with
`python benchmarks/compare.py A.json [B.json]` in a source checkout."""


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
    run_group.add_argument("--seeds", default=default(None),
                           help="comma-separated seeds, one run of every variant per seed (default: the "
                           "budget's or the study's seeds)")
    run_group.add_argument("--rerun", action="store_true", default=default(False),
                           help="delete the selected variants' previous runs in --out and train them again "
                           "(without it, a variant trained with another config is refused)")
    run_group.add_argument("--list", action="store_true", default=default(False),
                           help="print the expanded grid (what each variant changes) and exit")
    run_group.add_argument("--report-only", action="store_true", default=default(False),
                           help="write results.md/csv/json and plots from the runs finished so far in --out "
                           "(of --only's variants and --seeds' seeds, or all) and exit; trains nothing")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "ablate", help="run an ablation study grid (train and evaluate every variant)",
        usage=USAGE, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("study", metavar="STUDY", help="study YAML or built-in name (ablations/representation)")
    parser.add_argument("rest", nargs=argparse.REMAINDER, metavar="KEY=VALUE",
                        help="dotted overrides; options may come before or after them")
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
    from specinpaint.core.errors import SpecinpaintError

    if args.study == "compare":
        raise SpecinpaintError(COMPARE_MOVED)
    _parse_rest(args)
    return _study(args)


def _seeds(text: str | None) -> list[int] | None:
    from specinpaint.core.errors import ConfigError

    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--seeds: expected comma-separated integers, got '{text}'") from None


def _study(args: argparse.Namespace) -> int:
    from specinpaint.studies.study import expand_study, load_study

    study = load_study(args.study)
    only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    seeds = _seeds(args.seeds)
    runs = expand_study(study, args.budget, args.rest, only, seeds=seeds)
    budget = args.budget or study.spec.budget
    if args.list:
        _print_grid(study, runs, budget)
        return 0
    out = args.out or Path("outputs") / "ablations" / (study.name + (f"-{budget}" if budget else ""))
    import torch

    if torch.cuda.is_available() and budget != "paper":
        print(f"note: CUDA is available but budget '{budget}' is a CPU budget; for the paper's budget "
              "run: specinpaint ablate ablations/paper_representation", file=sys.stderr)
    if args.report_only:
        from specinpaint.studies.study_run import report_finished

        results = report_finished(study, out, args.budget, args.rest, seeds, only)
        print(f"{len(results)} finished runs -> {out}/results.md")
        print((out / "results.md").read_text())
        return 0
    from specinpaint.studies.study_run import run_default_study

    results = run_default_study(study, out, budget=args.budget, overrides=args.rest, only=only, seeds=seeds,
                                rerun=args.rerun)
    print(f"{len(results)} runs -> {out}/results.md, results.csv, plots/, variants/*/evaluation/")
    print((out / "results.md").read_text())
    return 0


def _print_grid(study, runs, budget) -> None:
    from specinpaint.studies.study import config_differences, describe_evaluation
    from specinpaint.studies.study_run import trained_stages

    names = list(dict.fromkeys(r.name for r in runs))
    seeds = list(dict.fromkeys(r.seed for r in runs if r.seed is not None))
    print(f"study {study.name}: {len(names)} variants × {len(seeds) or 1} seed(s) = {len(runs)} runs, "
          f"budget {budget or '(none)'}")
    if not runs:
        return
    first = runs[0]
    q = first.config.training.quantizer
    stages = trained_stages(first)
    trains = "quantizer + priors" if len(stages) > 1 else "quantizer only"
    print(f"shared: quantizer {first.config.quantizer.name}, {q.steps} steps, batch {q.batch_size}, "
          f"spectrogram {first.config.num_samples} samples; trains {trains}")
    own = f"the config's own (quantizer seed {q.seed})"
    print(f"seeds: {', '.join(map(str, seeds)) if seeds else own}")
    print(f"evaluation: {describe_evaluation(first.evaluation)}")
    base = first.config.model_dump(mode="json")
    for name in names:
        v = next(r for r in runs if r.name == name)
        rep = v.config.representation
        shown = {k: rep.params[k] for k in ("mel_break_frequency_hz", "phase_threshold", "n_mels") if k in rep.params}
        diff = [d for d in config_differences(base, v.config.model_dump(mode="json"))
                if d != "name" and not d.endswith(".seed")]
        print(f"  {v.name:14s} {v.label}" + (f" (config {v.base})" if v.base else ""))
        print(f"  {'':14s} representation {rep.name} {shown}; differs from first: {', '.join(diff) or '-'}")
