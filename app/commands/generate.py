"""`specinpaint generate`: new notes from scratch (top prior, then bottom prior) → WAV (+ codes)."""

from __future__ import annotations

import argparse
from pathlib import Path

from specinpaint.app.cli_common import (
    add_bundle_arg,
    add_label_args,
    add_progress_arg,
    add_sampling_args,
    load_editor,
    numbered,
    sampling_from_args,
    write_codes_json,
)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("generate", help="sample new notes from the priors and write WAVs", add_help=False,
                            description="Sample notes from scratch with the pipeline's priors. --pitch and --family "
                            "must be labels the bundle was trained on (-b BUNDLE --help lists them).")
    add_bundle_arg(parser)
    add_label_args(parser)
    parser.add_argument("-n", "--count", type=int, default=1, help="notes to sample (one batch; default 1)")
    parser.add_argument("--columns", type=int, help="top columns (longer than one window = longer notes)")
    parser.add_argument("-o", "--output", type=Path, default=Path("generated.wav"),
                        help="WAV path; several notes get -0, -1, … suffixes; missing parent directories are created "
                        "(default: generated.wav)")
    parser.add_argument("--codes", type=Path, help="also write the codes as JSON (same numbering)")
    add_sampling_args(parser)
    add_progress_arg(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from specinpaint.core.audio import write_wav
    from specinpaint.editing import EditError

    if args.count < 1:
        raise EditError(f"--count must be >= 1, got {args.count}")
    editor = load_editor(args.bundle, args.device)
    result = editor.generate(args.pitch, args.family, args.count, sampling_from_args(args), columns=args.columns,
                             progress=not args.no_progress)
    for i in range(args.count):
        path = numbered(args.output, i, args.count)
        write_wav(path, result.audio[i], editor.geometry.sample_rate)
        print(path)
        if args.codes:
            write_codes_json(numbered(args.codes, i, args.count), result.codes, i)
    return 0
