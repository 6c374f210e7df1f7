"""Periodic training samples: WAVs of inputs and reconstructions plus spectrogram PNGs.

PNGs use the representations' renderer (`specinpaint.representations.render`) when this build has
one, else a small matplotlib figure (input | reconstruction, one row per channel).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from specinpaint.core.atomic import atomic_path
from specinpaint.core.audio import write_wav

log = logging.getLogger(__name__)


def _render_with_plugin_helper(spec_pair: Sequence[torch.Tensor], titles: Sequence[str], path: Path) -> bool:
    try:
        from specinpaint.representations import render  # type: ignore[attr-defined]
    except ImportError:
        return False
    compare = getattr(render, "save_comparison_png", None)
    if compare is None:
        return False
    compare(list(spec_pair), path, titles=list(titles))
    return True


def save_spectrogram_png(
    specs: Sequence[torch.Tensor], path: str | Path, titles: Sequence[str], channel_names: Sequence[str] = ()
) -> Path:
    """Side-by-side images of [C, F, T] spectrograms (low frequencies at the bottom), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    specs = [s.detach().float().cpu() for s in specs]
    if _render_with_plugin_helper(specs, titles, path):
        return path
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    channels = specs[0].shape[0]
    fig, axes = plt.subplots(channels, len(specs), figsize=(3.2 * len(specs), 2.4 * channels), squeeze=False)
    for col, (spec, title) in enumerate(zip(specs, titles, strict=True)):
        for row in range(channels):
            ax = axes[row][col]
            ax.imshow(spec[row].numpy(), origin="lower", aspect="auto", cmap="magma", interpolation="nearest")
            name = channel_names[row] if row < len(channel_names) else f"channel {row}"
            ax.set_title(f"{title}: {name}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    return path


def write_reconstruction_samples(
    directory: str | Path,
    audio: torch.Tensor,
    spec: torch.Tensor,
    recon_spec: torch.Tensor,
    recon_audio: torch.Tensor,
    sample_rate: int,
    channel_names: Sequence[str] = (),
) -> list[Path]:
    """``NN_input.wav``, ``NN_recon.wav`` and ``NN.png`` for each example."""
    directory = Path(directory)
    written = []
    for i in range(audio.shape[0]):
        write_wav(directory / f"{i:02d}_input.wav", audio[i], sample_rate)
        write_wav(directory / f"{i:02d}_recon.wav", recon_audio[i], sample_rate)
        written.append(
            save_spectrogram_png([spec[i], recon_spec[i]], directory / f"{i:02d}.png", ("input", "reconstruction"),
                                 channel_names)
        )
    return written
