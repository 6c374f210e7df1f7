"""Periodic training samples: WAVs of inputs and reconstructions, spectrogram and codemap PNGs.

PNGs use the representations' renderer (`specinpaint.representations.render`, frequency axes in
Hz) when this build has it, else a plain matplotlib image.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import torch

from specinpaint.core.atomic import atomic_path
from specinpaint.core.audio import write_wav

log = logging.getLogger(__name__)


def _plain_png(spec: torch.Tensor, path: Path, title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    spec = spec.detach().float().cpu()
    figure = Figure(figsize=(3.2 * spec.shape[0], 2.6), dpi=80)
    FigureCanvasAgg(figure)
    for c in range(spec.shape[0]):
        axis = figure.add_subplot(1, spec.shape[0], c + 1)
        axis.imshow(spec[c].numpy(), origin="lower", aspect="auto", cmap="magma", interpolation="nearest")
        axis.set_title(f"{title}: channel {c}", fontsize=8)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")


def save_spectrogram_png(
    spec: torch.Tensor, path: str | Path, title: str, freqs_hz: torch.Tensor | None = None,
    times_s: torch.Tensor | None = None, channel_names: tuple[str, ...] = (),
) -> Path:
    """A [C, F, T] spectrogram → PNG at ``path`` (atomic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        from specinpaint.representations.render import render_spectrogram
    except ImportError:
        _plain_png(spec, path, title)
        return path
    titles = tuple(f"{title}: {name}" for name in channel_names) or (title,) * spec.shape[0]
    render_spectrogram(spec, freqs_hz if freqs_hz is not None else torch.arange(spec.shape[1]), times_s, path,
                       titles=titles)
    return path


def save_codemap_png(codes: torch.Tensor, path: str | Path, num_codes: int, title: str) -> Path | None:
    """A [F, T] codemap → PNG (only with the representations' renderer)."""
    try:
        from specinpaint.representations.render import render_codemap
    except ImportError:
        return None
    render_codemap(codes, num_codes, path=path, title=title)
    return Path(path)


def write_reconstruction_samples(
    directory: str | Path,
    audio: torch.Tensor,
    spec: torch.Tensor,
    recon_spec: torch.Tensor,
    recon_audio: torch.Tensor,
    sample_rate: int,
    *,
    freqs_hz: torch.Tensor | None = None,
    times_s: torch.Tensor | None = None,
    channel_names: tuple[str, ...] = (),
    codes: Mapping[str, torch.Tensor] | None = None,
    num_codes: Mapping[str, int] | None = None,
) -> list[Path]:
    """Per example ``NN_input.wav``, ``NN_recon.wav``, ``NN_input.png``, ``NN_recon.png`` and
    ``NN_codes_<level>.png``; spectrograms are in the representation's raw units."""
    directory = Path(directory)
    written = []
    for i in range(audio.shape[0]):
        write_wav(directory / f"{i:02d}_input.wav", audio[i], sample_rate)
        write_wav(directory / f"{i:02d}_recon.wav", recon_audio[i], sample_rate)
        written.append(directory / f"{i:02d}_recon.wav")
        for name, image in (("input", spec[i]), ("recon", recon_spec[i])):
            written.append(save_spectrogram_png(image, directory / f"{i:02d}_{name}.png", name, freqs_hz, times_s,
                                                channel_names))
        for level, maps in (codes or {}).items():
            png = save_codemap_png(maps[i], directory / f"{i:02d}_codes_{level}.png",
                                   (num_codes or {}).get(level, int(maps.max()) + 1), f"{level} codes")
            if png is not None:
                written.append(png)
    return written
