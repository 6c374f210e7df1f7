"""`specinpaint evaluate BUNDLE`: how good is a trained pipeline? (studies/evaluate.py)"""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Measure a trained pipeline on held-out notes and write evaluation.json, evaluation.md and
plots/*.png to --out:
  reconstruction  encode -> decode of the held-out split: SC, LSD, MR-STFT, level error (dB),
                  pitch accuracy (pYIN, +-0.5 semitone) next to the raw notes', family accuracy;
                  again on the 'unseen' split (instruments never trained on) when the data has one
  generation      every family of the training data x pitches across its range x seeds, with
                  the bundle's default sampling: pitch accuracy, octave errors, unvoiced notes,
                  family accuracy (a small classifier trained on the training split, cached;
                  its held-out accuracy is the ceiling), per family and per register
  inpainting      three regions (a time band, a frequency band, a box) resampled under the
                  notes' own labels: codes outside unchanged, spectral distance outside the
                  region, pitch accuracy
  priors          held-out NLL and accuracy per level, codebook perplexity and dead codes
Timings per stage are recorded too. --quick measures the same things on fewer notes."""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("evaluate", help="measure a trained pipeline (reconstruction, generation, "
                            "inpainting, priors) and write a report", description=DESCRIPTION,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path, help="pipeline bundle directory")
    parser.add_argument("--dataset", help="NSynth-format root or pipeline YAML whose data to use "
                        "(default: the data the bundle was trained on)")
    parser.add_argument("--split", help="held-out split (default: the config's data.valid_split)")
    parser.add_argument("--train-split", help="split the family classifier learns from (default: data.train_split)")
    parser.add_argument("--out", type=Path, help="report folder (default: BUNDLE/../evaluation)")
    parser.add_argument("--quick", action="store_true", help="fewer notes (what `specinpaint run` does)")
    parser.add_argument("--sections", help="comma-separated subset of reconstruction,generation,inpainting,priors")
    parser.add_argument("--device", default="auto", help="torch device (default: cuda when available)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="evaluation settings, e.g. seeds=5 pitches_per_family=8 classifier.epochs=20")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from specinpaint.app.cli_common import load_bundle
    from specinpaint.studies.evaluate import evaluate_pipeline
    from specinpaint.studies.evaluation_spec import parse_spec
    from specinpaint.studies.report import console_table, write_report

    changes = list(args.overrides)
    if args.sections:
        changes.append(f"sections=[{args.sections}]")
    changes.append(f"device={args.device}")
    spec = parse_spec(changes, quick=args.quick)
    pipeline = load_bundle(args.bundle, "cpu")
    from specinpaint.studies.data_source import evaluation_datasets, optional_split

    heldout, train, description = evaluation_datasets(pipeline, args.dataset, args.split or spec.split,
                                                      args.train_split or spec.train_split)
    unseen = optional_split(pipeline, spec.unseen_split, args.dataset) if "reconstruction" in spec.sections else None
    report = evaluate_pipeline(pipeline, heldout, spec, train_dataset=train, unseen_dataset=unseen,
                               info={"bundle": str(args.bundle), **description})
    out = args.out or Path(args.bundle).resolve().parent / "evaluation"
    path = write_report(report, out)
    print(console_table(report))
    print(f"report: {path}")
    return 0
