"""Helpers shared by the editing subcommands (generate, inpaint, show, serve, reproduce): bundle
loading, label and sampling flags, codes files and ``start:end`` ranges."""

from __future__ import annotations

import argparse
import json
from contextvars import ContextVar
from pathlib import Path
from typing import Any, NamedTuple

from specinpaint.core.bundle import BUNDLE_DIR
from specinpaint.core.codemaps import Codemaps
from specinpaint.core.errors import BundleError, SpecinpaintError

DEFAULT_OUTPUT = Path("outputs/default")
DEFAULT_BUNDLE = DEFAULT_OUTPUT / BUNDLE_DIR


def add_bundle_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-b", "--bundle", type=Path, default=DEFAULT_BUNDLE,
                        help=f"pipeline bundle directory (default: {DEFAULT_BUNDLE}, written by `specinpaint run`)")
    parser.add_argument("--device", default="cpu", help="torch device for inference (default: cpu)")


def load_bundle(path: Path, device: str = "cpu"):
    """The pipeline saved at ``path`` (eval mode), with a hint when it does not exist yet."""
    from specinpaint.core.pipeline import Pipeline

    _check_exists(path)
    return Pipeline.load(path, map_location=device).eval()


def load_editor(path: Path, device: str = "cpu"):
    """An `Editor` on the pipeline saved at ``path``."""
    from specinpaint.editing import Editor

    return Editor(load_bundle(path, device))


def _check_exists(path: Path) -> None:
    if not Path(path).exists():
        hint = " (run `specinpaint run` first to train the default one)" if Path(path) == DEFAULT_BUNDLE else ""
        raise BundleError(f"{path}: no pipeline bundle here{hint}")


#: The command line being parsed (set by `cli.main`): ``--help`` reads the bundle it names.
COMMAND_LINE: ContextVar[tuple[str, ...]] = ContextVar("specinpaint_command_line", default=())
LABEL_HELP = {
    "pitch": "MIDI pitch (default: unconditioned); the bundle's range: {pitches}",
    "audio_pitch": "MIDI pitch (default: for a WAV input, the pitch estimated from it; for codes, unconditioned); "
                   "the bundle's range: {pitches}",
    "family": "instrument family (default: unconditioned); the bundle's: {families}",
}


def add_label_args(parser: argparse.ArgumentParser, required: bool = False, audio_input: bool = False) -> None:
    """``--pitch`` and ``--family``, checked against the bundle's labels once it is loaded (argparse
    builds its choices before that); ``-h`` lists the labels of the bundle named by ``-b``.
    ``audio_input``: the command reads audio, whose pitch is estimated when ``--pitch`` is not given."""
    unknown = "see -b BUNDLE --help"
    templates = {"pitch": LABEL_HELP["audio_pitch" if audio_input else "pitch"], "family": LABEL_HELP["family"]}
    pitch = parser.add_argument("--pitch", type=int, required=required, help=templates["pitch"].format(pitches=unknown))
    family = parser.add_argument("--family", metavar="FAMILY", help=templates["family"].format(families=unknown))
    for action in (pitch, family):
        action.help_template = templates[action.dest]  # type: ignore[attr-defined]  # read by BundleLabelsHelp
    parser.add_argument("-h", "--help", action=BundleLabelsHelp, help="show this help message (with the labels "
                        "of the bundle given by -b) and exit")


class BundleLabelsHelp(argparse.Action):
    """``-h``: fill the ``--pitch``/``--family`` help with the labels saved in the bundle that
    ``-b`` names (read from its extras only, without loading weights), then print the help."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 default: Any = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        families, pitches = bundle_labels_text(bundle_on_command_line(namespace))
        for action in parser._actions:
            template = getattr(action, "help_template", None)
            if template is not None:
                action.help = template.format(families=families, pitches=pitches)
        parser.print_help()
        parser.exit()


def bundle_on_command_line(namespace: argparse.Namespace) -> Path:
    """The ``-b/--bundle`` of the command line being parsed (wherever it stands), else the
    namespace's (its default)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("-b", "--bundle", type=Path)
    found, _ = pre.parse_known_args(list(COMMAND_LINE.get()))
    return found.bundle or Path(getattr(namespace, "bundle", DEFAULT_BUNDLE))


def bundle_labels_text(bundle: Path) -> tuple[str, str]:
    """(families, pitch range) the bundle offers, as help text; a note when it cannot be read."""
    from specinpaint.core.bundle import read_extras
    from specinpaint.editing import LabelVocabulary

    try:
        labels = LabelVocabulary.from_extras(read_extras(bundle))
    except SpecinpaintError as exc:
        note = f"unknown: {exc}"
        return note, note
    source = f"{bundle}" if labels.from_bundle else f"NSynth's, {bundle} saved no labels"
    return (f"{', '.join(labels.offered)} ({source})",
            f"{labels.pitch_range[0]}..{labels.pitch_range[1]} ({source})")


def add_sampling_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("sampling")
    group.add_argument("--seed", type=int, help="random seed (default: random)")
    group.add_argument("--temperature", type=float, help="softmax temperature (> 0)")
    group.add_argument("--top-k", type=int, help="keep the k most likely codes (0 = off)")
    group.add_argument("--top-p", type=float, help="nucleus sampling mass (0 = off)")
    group.add_argument("--guidance-scale", type=float, help="classifier-free guidance (1 = off)")
    group.add_argument("--guidance-drop", choices=("both", "family"),
                       help="what guidance compares against: no labels (both) or the same pitch without the "
                       "family (family: the scale strengthens the family alone); default: the bundle's "
                       "own (tiny.yaml: family at scale 4)")
    group.add_argument("--pitch-guidance", type=float, dest="pitch_guidance_scale",
                       help="the pitch's own guidance scale (a third pass; --guidance-scale then weighs the "
                       "family alone and --guidance-drop does not matter); default: the bundle's own (none)")
    group.add_argument("--sampler", choices=("autoregressive", "parallel"),
                       help="sampler (default: the config's); parallel runs on the levels whose prior supports "
                       "it (top-transformer with its encoder head, bottom-masked: see configs/tiny-masked.yaml), "
                       "the others sample autoregressively (paper.yaml: both levels)")
    group.add_argument("--steps", type=int, help="passes of the parallel sampler")


def add_progress_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def sampling_from_args(args: argparse.Namespace) -> dict[str, Any]:
    names = {"seed": "seed", "temperature": "temperature", "top_k": "top_k", "top_p": "top_p",
             "guidance_scale": "guidance_scale", "guidance_drop": "guidance_drop",
             "pitch_guidance_scale": "pitch_guidance_scale", "sampler": "sampler",
             "steps": "num_steps"}
    return {key: getattr(args, attr) for attr, key in names.items() if getattr(args, attr, None) is not None}


def parse_range(text: str | None, what: str) -> tuple[float, float] | None:
    """``"1.0:2.5"`` → (1.0, 2.5); None stays None (= the whole axis)."""
    if text is None:
        return None
    start, sep, end = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return float(start), float(end)
    except ValueError:
        raise SpecinpaintError(f"--{what} '{text}': expected START:END, e.g. 1.0:2.0") from None


def read_codes_json(path: Path) -> Codemaps:
    """A codes file: ``{"top": [[...]], "bottom": [[...]]}`` (one note, as the HTTP API uses)."""
    try:
        data = json.loads(Path(path).read_text())
        return Codemaps.from_lists({level: [rows] for level, rows in data.items()})
    except (OSError, ValueError, TypeError, AttributeError, OverflowError, RuntimeError) as exc:
        raise SpecinpaintError(f"{path}: not a codes JSON file ({exc})") from None
    except SpecinpaintError as exc:  # non-integer codes (1.5 is never truncated to 1)
        raise SpecinpaintError(f"{path}: {exc}") from None


def write_codes_json(path: Path, codes: Codemaps, index: int = 0) -> None:
    from specinpaint.core.atomic import atomic_write_text

    atomic_write_text(path, json.dumps({level: codes[level][index].tolist() for level in codes.levels}))


class Source(NamedTuple):
    """What a command's input gives: codes, the note's pitch label, and whether it was estimated."""

    codes: Codemaps
    pitch: int | None
    pitch_estimated: bool = False

    def pitch_text(self) -> str:
        """How the pitch was chosen, for the command's output."""
        if not self.pitch_estimated:
            return f"pitch {self.pitch if self.pitch is not None else 'none'}"
        said = f"MIDI {self.pitch}" if self.pitch is not None else "none found"
        return f"pitch estimated from the input: {said} (--pitch sets it)"


def read_source(path: Path, editor, pitch: int | None = None) -> Source:
    """Codes from a ``.json`` codes file (checked) or from audio (encoded, any length), with the
    note's pitch label: ``pitch`` when given, else for audio the pitch estimated from it
    (`Editor.estimate_pitch`), so a decoder that takes the pitch draws the note's harmonics where
    they were; codes carry no pitch, so for them it stays None."""
    path = Path(path)
    if not path.is_file():
        raise SpecinpaintError(f"{path}: no such file")
    if path.suffix.lower() == ".json":
        codes = read_codes_json(path)
        try:
            editor.check_codes(codes)
        except SpecinpaintError as exc:
            raise SpecinpaintError(f"{path}: {exc}") from None
        return Source(codes, pitch)
    from specinpaint.core.audio import load_audio

    audio = load_audio(path, editor.geometry.sample_rate)
    codes = editor.encode_long(audio)
    if pitch is not None:
        return Source(codes, pitch)
    return Source(codes, editor.estimate_pitch(audio)[0], pitch_estimated=True)


def numbered(path: Path, index: int, count: int) -> Path:
    """``out.wav`` for one item, ``out-0.wav``, ``out-1.wav``… for several."""
    return path if count == 1 else path.with_name(f"{path.stem}-{index}{path.suffix}")
