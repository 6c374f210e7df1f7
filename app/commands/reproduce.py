"""`specinpaint reproduce website BUNDLE [NOTE.wav]`: the paper website's experiments on any bundle."""

from __future__ import annotations

import argparse
from pathlib import Path

from specinpaint.app.cli_common import add_progress_arg, load_editor


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("reproduce", help="rebuild the paper's experiments on a bundle",
                            description="Rebuild what the paper showed, on any bundle.")
    what = parser.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True)
    website = what.add_parser(
        "website", help="the paper website: the generation grid and three inpainting variants, as an HTML page",
        description="The paper website's experiments on BUNDLE: notes generated from scratch for every family of "
        "the bundle × the pitch ladder 24, 31, …, 80 (inside the bundle's pitch range), and, on one note, the "
        "inpainting variants 'two seconds' (the middle 2 s resampled), 'bottom quarter' (the lowest quarter of the "
        "frequencies) and 'keep top' (only the bottom codes resampled). Writes an HTML page with players and "
        "spectrograms, the WAVs, PNGs and website.json.",
    )
    website.add_argument("bundle", type=Path, help="pipeline bundle directory")
    website.add_argument("note", type=Path, nargs="?",
                         help="the note to inpaint (WAV/FLAC/OGG, any length; default: a held-out note of the "
                         "bundle's data, else a note rendered from the built-in SoundFont)")
    website.add_argument("-o", "--output", type=Path, default=Path("website"),
                         help="output directory (default: website; files in it are replaced)")
    website.add_argument("--pitch", type=int, help="the note's MIDI pitch (for a given NOTE.wav; default: "
                         "unconditioned)")
    website.add_argument("--family", help="the note's family (for a given NOTE.wav; one of the bundle's)")
    website.add_argument("--ladder", default="24:80:7", metavar="LOW:HIGH:STEP",
                         help="the grid's pitches, kept inside the bundle's range (default 24:80:7)")
    website.add_argument("--seed", type=int, default=0, help="seed of every draw (default 0)")
    website.add_argument("--batch-size", type=int, default=16, help="grid notes per generate call (default 16)")
    website.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    add_progress_arg(website)
    website.set_defaults(func=run)


def parse_ladder(text: str) -> list[int]:
    """``"24:80:7"`` → [24, 31, …, 80] (inclusive)."""
    from specinpaint.core.errors import SpecinpaintError

    try:
        low, high, step = (int(part) for part in text.split(":"))
    except ValueError:
        raise SpecinpaintError(f"--ladder '{text}': expected LOW:HIGH:STEP integers, e.g. 24:80:7") from None
    if step < 1 or low > high:
        raise SpecinpaintError(f"--ladder '{text}': needs LOW <= HIGH and STEP >= 1")
    return list(range(low, high + 1, step))


def run(args: argparse.Namespace) -> int:
    import logging

    from specinpaint.app.website import Note, heldout_note, rendered_note, reproduce_website
    from specinpaint.core.audio import load_audio
    from specinpaint.core.errors import SpecinpaintError
    from specinpaint.editing import EditError

    ladder = parse_ladder(args.ladder)
    if args.batch_size < 1:
        raise EditError(f"--batch-size must be >= 1, got {args.batch_size}")
    editor = load_editor(args.bundle, args.device)
    if args.family is not None:
        editor.labels.family_index(args.family)  # one line naming the bundle's families
    if args.pitch is not None:
        editor.labels.pitch(args.pitch)
    if args.note is not None:
        if not args.note.is_file():
            raise SpecinpaintError(f"{args.note}: no such file")
        audio = load_audio(args.note, editor.geometry.sample_rate)
        note = Note(audio, args.pitch, args.family, str(args.note))
    else:
        try:
            note = heldout_note(editor)
        except (SpecinpaintError, OSError) as exc:
            logging.getLogger(__name__).info("no held-out note (%s); rendering one", exc)
            try:
                note = rendered_note(editor, args.family, args.pitch if args.pitch is not None else 60)
            except SpecinpaintError as again:
                raise SpecinpaintError(f"give NOTE.wav: the bundle's data is not available ({exc}) and no note "
                                       f"could be rendered ({again})") from None
    page = reproduce_website(editor, args.output, note, seed=args.seed, ladder=ladder, batch_size=args.batch_size,
                             progress=not args.no_progress)
    print(page)
    return 0
