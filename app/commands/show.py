"""`specinpaint show IN.wav|codes.json -o DIR`: spectrogram and codemap PNGs of a note."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from specinpaint.app.cli_common import add_bundle_arg, add_label_args, load_editor, read_source


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("show", help="write spectrogram and codemap PNGs of a WAV or codes file", add_help=False,
                            description="Render what the pipeline sees: the input spectrogram (for audio), "
                            "every codemap level, and the spectrogram decoded from the codes (with --pitch/--family "
                            "when the bundle's decoder takes the note's labels).")
    parser.add_argument("input", type=Path, help="a WAV or a codes .json")
    parser.add_argument("-o", "--output", type=Path, default=Path("show"), help="output directory (default: show)")
    add_label_args(parser, audio_input=True)
    add_bundle_arg(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    editor = load_editor(args.bundle, args.device)
    source = read_source(args.input, editor, args.pitch)
    codes, pitch = source.codes, source.pitch
    for path in write_note_pngs(editor, codes, args.output, audio_path=args.input, pitch=pitch,
                                family=args.family):
        print(path)
    if source.pitch_estimated:
        print(source.pitch_text())
    return 0


def write_note_pngs(
    editor, codes, directory: Path, audio_path: Path | None = None, stem: str = "", masks=None,
    channels: int | None = None, fast_codemaps: bool = False, pitch: Any = None, family: Any = None,
) -> list[Path]:
    """PNG files for one note: ``{stem}spectrogram.png`` (decoded from the codes; the first
    ``channels`` channels, default all), ``{stem}codes-{level}.png`` per level (``masks`` by level:
    edited cells outlined; ``fast_codemaps``: plain cell images instead of figures with axes), and
    ``{stem}input-spectrogram.png`` for audio input. ``pitch``/``family``: the note's labels, for a
    quantizer whose decoder takes them."""
    import torch

    from specinpaint.app.images import codemap_png
    from specinpaint.core.atomic import atomic_write_bytes
    from specinpaint.representations.render import codemap_row_frequencies, render_codemap, render_spectrogram

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    geometry, pipeline = editor.geometry, editor.pipeline
    freqs = geometry.bin_frequencies()
    columns = codes[geometry.levels[0]].shape[-1]
    written = []
    spec = editor.decode_spectrogram(codes, pitch=pitch, family=family)[0, :channels]
    path = directory / f"{stem}spectrogram.png"
    render_spectrogram(spec, freqs, geometry.frame_times(columns)[: spec.shape[-1]], path=path,
                       titles=("decoded level", "decoded phase/IF"))
    written.append(path)
    num_codes = geometry.num_codes
    for level in geometry.levels:
        path = directory / f"{stem}codes-{level}.png"
        mask = masks[level][0] if masks is not None else None
        if fast_codemaps:
            atomic_write_bytes(path, codemap_png(codes[level][0], num_codes[level], mask))
        else:
            title = f"{level} codes" + (" (edited cells outlined)" if mask is not None else "")
            row_hz = codemap_row_frequencies(freqs, codes[level].shape[1])
            render_codemap(codes[level][0], num_codes[level], row_hz, mask=mask, path=path, title=title)
        written.append(path)
    if audio_path is not None and Path(audio_path).suffix.lower() != ".json":
        from specinpaint.core.audio import fit_length, load_audio

        audio = load_audio(audio_path, geometry.sample_rate)
        audio = fit_length(audio, geometry.column_samples(columns))
        with torch.no_grad():
            first = pipeline.spectrogram(fit_length(audio, geometry.num_samples)[None].to(pipeline.device))
            raw = pipeline.representation.clean(pipeline.normalizer.denormalize(first))[0].cpu()
        path = directory / f"{stem}input-spectrogram.png"
        render_spectrogram(raw, freqs, geometry.frame_times(geometry.window_columns), path=path,
                           titles=("input level (first window)", "input phase/IF"))
        written.append(path)
    return written
