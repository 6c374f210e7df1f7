"""`specinpaint inpaint IN.wav --time 1.0:2.0 --freq 0:500 --pitch 60 --family brass -o OUT.wav`
(or, instead of resampling, ``--attenuate DB`` or ``--noise``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from specinpaint.app.cli_common import (
    add_bundle_arg,
    add_label_args,
    add_progress_arg,
    add_sampling_args,
    load_editor,
    parse_range,
    read_source,
    sampling_from_args,
    write_codes_json,
)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "inpaint", help="resample a time × frequency region of a note under new labels", add_help=False,
        description="Resample the codes inside a region (seconds × Hz) of a WAV or codes JSON; codes "
        "outside the region never change. --pitch and --family must be labels the bundle was trained on "
        "(-b BUNDLE --help lists them).",
    )
    parser.add_argument("input", type=Path, help="a WAV (any length; encoded first) or a codes .json")
    parser.add_argument("--time", help="START:END in seconds (give --time, --freq or both; "
                        "without --time the region spans the whole note)")
    parser.add_argument("--freq", help="LOW:HIGH in Hz (without --freq the region spans all frequencies)")
    parser.add_argument("--level", "--layer", dest="level", default="top",
                        help="codemap level to resample; top: structure + detail, bottom: detail only (default top; "
                        "--layer is the former name)")
    parser.add_argument("--dilate", type=int, default=0, help="grow the region by this many codemap cells")
    add_label_args(parser, audio_input=True)
    brush = parser.add_mutually_exclusive_group()
    brush.add_argument("--attenuate", type=float, metavar="DB",
                       help="instead of resampling, lower the region by DB decibels (the 'erase' brush)")
    brush.add_argument("--noise", action="store_true",
                       help="instead of resampling, fill the region with uniformly random codes (the noise brush; "
                       "--level and --seed apply)")
    parser.add_argument("-o", "--output", type=Path, default=Path("inpainted.wav"),
                        help="WAV path; missing parent directories are created (default: inpainted.wav)")
    parser.add_argument("--codes", type=Path, help="also write the edited codes as JSON")
    add_bundle_arg(parser)
    add_sampling_args(parser)
    add_progress_arg(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from specinpaint.core.audio import write_wav
    from specinpaint.core.errors import SpecinpaintError
    from specinpaint.core.region import Region

    time_s, freq_hz = parse_range(args.time, "time"), parse_range(args.freq, "freq")
    if time_s is None and freq_hz is None:
        raise SpecinpaintError("give a region: --time START:END and/or --freq LOW:HIGH")
    region = Region(time_s=time_s, freq_hz=freq_hz)
    editor = load_editor(args.bundle, args.device)
    source = read_source(args.input, editor, args.pitch)
    codes, pitch = source.codes, source.pitch
    if args.attenuate is not None:
        result = editor.attenuate(codes, region, args.attenuate, pitch=pitch, family=args.family)
    elif args.noise:
        result = editor.noise(codes, region, level=args.level, seed=args.seed, dilate=args.dilate,
                              pitch=pitch, family=args.family)
    else:
        result = editor.inpaint(codes, region, pitch, args.family, level=args.level,
                                sampling=sampling_from_args(args), dilate=args.dilate,
                                progress=not args.no_progress)
    write_wav(args.output, result.audio[0], editor.geometry.sample_rate)
    if args.codes:
        write_codes_json(args.codes, result.codes)
    changed = {lvl: int((result.codes[lvl] != codes[lvl]).sum()) for lvl in codes.levels}
    cells = {lvl: int(m.sum()) for lvl, m in result.masks.items()}
    print(f"{args.output}  region cells {cells}, changed codes {changed}, {source.pitch_text()}")
    return 0
