"""`specinpaint run`: the default end-to-end job (render data, train the tiny pipeline, demo notes,
HTML report). Run again, it reuses what it already trained."""

from __future__ import annotations

import argparse
from pathlib import Path

from specinpaint.app.cli_common import DEFAULT_OUTPUT
from specinpaint.core.errors import ConfigError

# `--budget NAME` -> the built-in config it trains (configs/NAME.yaml). The default one is measured
# in docs/results/quality-cpu.md; "long" trains 4x the steps of every stage (44 min measured fresh
# on 2 cores, section 5 of that file).
BUDGET_CONFIGS = {"default": "tiny", "long": "tiny-long"}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "run", help="the default job: train the tiny pipeline on the built-in data, write demo notes + report",
        description="Render the built-in dataset, train the pipeline (VQ-VAE-2 and both priors), then "
        "generate and inpaint notes and write WAVs, PNGs and an HTML report. Finished stages are reused.",
    )
    parser.add_argument("--budget", choices=sorted(BUDGET_CONFIGS), default="default",
                        help="CPU budget: default (configs/tiny.yaml, ~6 min on 2 cores, ~10 on slow days) or long "
                        "(configs/tiny-long.yaml, 21-48 min: 4x the training steps of every stage, the top level kept in "
                        "use)")
    parser.add_argument("--config", default=None,
                        help="pipeline YAML or built-in name (default: the --budget's config; not with --budget long)")
    parser.add_argument("-o", "--out", type=Path, default=None,
                        help=f"output directory (default: {DEFAULT_OUTPUT}, or {DEFAULT_OUTPUT}-long for --budget long)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config override, e.g. --set training.quantizer.steps=50 (repeatable)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the demo notes")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--no-evaluate", action="store_true",
                        help="skip the quick evaluation (otherwise written to OUT/evaluation and summarised in "
                        "the report)")
    parser.add_argument("--eval-set", dest="evaluation", action="append", default=[], metavar="KEY=VALUE",
                        help="evaluation setting on top of the quick preset, e.g. --eval-set seeds=1 (repeatable; "
                        "see `specinpaint evaluate --help`)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from specinpaint.app.default_job import run_default_job

    config, out = resolve_budget(args.budget, args.config, args.out)
    result = run_default_job(config, out, args.overrides, seed=args.seed, progress=not args.no_progress,
                             evaluate=not args.no_evaluate, evaluation_overrides=args.evaluation)
    if result.evaluation is not None:
        from specinpaint.studies.report import console_table

        print(console_table(result.evaluation))
        print(f"evaluation: {result.out_dir / 'evaluation' / 'evaluation.md'}")
    print(f"bundle:  {result.bundle}")
    print(f"report:  {result.report} ({len(result.items)} notes)")
    print(f"serve:   specinpaint serve {result.bundle}")
    return 0


def resolve_budget(budget: str, config: str | None, out: Path | None) -> tuple[str, Path]:
    """The config and output folder that ``--budget``/``--config``/``--out`` ask for. An explicit
    config is only combined with the default budget: a long budget with another config would say
    two different things about what is trained."""
    if config is not None and budget != "default":
        raise ConfigError(f"--budget {budget} trains configs/{BUDGET_CONFIGS[budget]}.yaml; "
                          "drop --config or drop --budget")
    if out is None:
        out = DEFAULT_OUTPUT if budget == "default" else DEFAULT_OUTPUT.with_name(f"{DEFAULT_OUTPUT.name}-{budget}")
    return config or BUDGET_CONFIGS[budget], out
