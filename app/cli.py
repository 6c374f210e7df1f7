"""`specinpaint` command line. Subcommands live in ``app/commands/`` (one module each)."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from specinpaint.core.errors import SpecinpaintError

# Order = order in --help. Each module defines register(subparsers).
COMMAND_MODULES = (
    "run", "plugins", "info", "data", "train", "extract_codes",
    "generate", "inpaint", "show", "reproduce", "serve", "evaluate", "ablate",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="specinpaint",
        description="Interactive generation of instrument sounds by spectrogram inpainting "
        "(Mel-IF representations, a VQ-VAE-2 quantizer and Transformer priors).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"specinpaint.app.commands.{name}").register(sub)
    return parser


def is_override(arg: str) -> bool:
    """``dotted.key=value`` (not an option)."""
    key, sep, _ = arg.partition("=")
    return bool(sep) and bool(key) and not arg.startswith("-")


def main(argv: list[str] | None = None) -> int:
    from .cli_common import COMMAND_LINE

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    token = COMMAND_LINE.set(tuple(argv))  # --help of the editing commands reads the bundle it names
    try:
        args, extra = parser.parse_known_args(argv)
    finally:
        COMMAND_LINE.reset(token)
    if extra:  # dotted KEY=VALUE overrides may also follow the options (train ... --out DIR a.b=1)
        if not isinstance(getattr(args, "overrides", None), list) or not all(is_override(e) for e in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = [*args.overrides, *extra]
    main_rank = os.environ.get("RANK", "0") == "0"  # under torchrun, ranks > 0 log warnings only
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO if main_rank else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except SpecinpaintError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unwritable output path, full disk, ...: one line, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
