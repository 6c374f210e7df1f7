"""Periodic training samples: WAVs of inputs and reconstructions, spectrogram and codemap PNGs.

PNGs come from the one spectrogram renderer, `specinpaint.representations.render` (frequency axes
in Hz), as everywhere else (``specinpaint show``, the default job).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import torch

from specinpaint.core.audio import write_wav
from specinpaint.representations.render import render_codemap, render_spectrogram

log = logging.getLogger(__name__)


def save_spectrogram_png(
    spec: torch.Tensor, path: str | Path, title: str, freqs_hz: torch.Tensor | None = None,
    times_s: torch.Tensor | None = None, channel_names: tuple[str, ...] = (),
) -> Path:
    """A [C, F, T] spectrogram → PNG at ``path`` (atomic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    titles = tuple(f"{title}: {name}" for name in channel_names) or (title,) * spec.shape[0]
    render_spectrogram(spec, freqs_hz if freqs_hz is not None else torch.arange(spec.shape[1]), times_s, path,
                       titles=titles)
    return path


def save_codemap_png(codes: torch.Tensor, path: str | Path, num_codes: int, title: str) -> Path:
    """A [F, T] codemap → PNG."""
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
            written.append(save_codemap_png(maps[i], directory / f"{i:02d}_codes_{level}.png",
                                            (num_codes or {}).get(level, int(maps.max()) + 1), f"{level} codes"))
    return written
