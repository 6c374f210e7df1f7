"""PNG rendering of spectrograms and codemaps (matplotlib Agg, no pyplot global state: safe in servers
and threads). Frequency axes are labelled in Hz using the representation's own bin frequencies, so
mel images (non-uniform rows) get correct tick labels."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from specinpaint.core.atomic import atomic_write_bytes


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _png(figure, path: str | Path | None) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    data = buffer.getvalue()
    if path is not None:
        atomic_write_bytes(path, data)
    return data


def _hz_ticks(axis, freqs_hz: np.ndarray, rows: int, count: int = 7) -> None:
    """Place ``count`` ticks on rows and label them with the row's frequency."""
    positions = np.linspace(0, rows - 1, count).round().astype(int)
    axis.set_yticks(positions)
    axis.set_yticklabels([f"{freqs_hz[p]:.0f}" for p in positions])
    axis.set_ylabel("frequency (Hz)")


def _as_numpy(x: torch.Tensor | np.ndarray) -> np.ndarray:
    return np.asarray(torch.as_tensor(x).detach().float().cpu())


def render_spectrogram(
    spec: torch.Tensor | np.ndarray,
    freqs_hz: torch.Tensor | np.ndarray,
    times_s: torch.Tensor | np.ndarray | None = None,
    path: str | Path | None = None,
    titles: Sequence[str] = ("log power", "instantaneous frequency"),
    size: tuple[float, float] = (8.0, 4.0),
) -> bytes:
    """One spectrogram [C, F, T] (or [F, T]) → PNG bytes, one panel per channel (low frequencies at the
    bottom); channel 1 is drawn with a cyclic colour map in [-1, 1]. Written atomically to ``path``
    when given."""
    array = _as_numpy(spec)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(f"render_spectrogram expects [C, F, T] or [F, T], got shape {array.shape}")
    channels, rows, frames = array.shape
    freqs = _as_numpy(freqs_hz)
    if freqs.shape[0] != rows:
        raise ValueError(f"{freqs.shape[0]} bin frequencies for {rows} rows")
    times = _as_numpy(times_s) if times_s is not None else np.arange(frames, dtype=np.float32)
    figure = _figure(size[0], size[1])
    for c in range(channels):
        axis = figure.add_subplot(1, channels, c + 1)
        is_phase = c == 1
        image = axis.imshow(
            array[c], origin="lower", aspect="auto", interpolation="nearest",
            cmap="twilight" if is_phase else "magma", vmin=-1 if is_phase else None, vmax=1 if is_phase else None,
            extent=(float(times[0]), float(times[-1]), -0.5, rows - 0.5),
        )
        _hz_ticks(axis, freqs, rows)
        axis.set_xlabel("time (s)" if times_s is not None else "frame")
        axis.set_title(titles[c] if c < len(titles) else f"channel {c}")
        figure.colorbar(image, ax=axis, fraction=0.046, pad=0.02)
    figure.tight_layout()
    return _png(figure, path)


def render_codemap(
    codes: torch.Tensor | np.ndarray,
    codebook_size: int | None = None,
    freqs_hz: torch.Tensor | np.ndarray | None = None,
    mask: torch.Tensor | np.ndarray | None = None,
    path: str | Path | None = None,
    title: str = "codes",
    size: tuple[float, float] = (4.0, 4.0),
) -> bytes:
    """A codemap [F, T] of integer codes → PNG bytes (categorical colours, low rows at the bottom).
    ``mask`` [F, T] (True = selected/edited) is outlined in white; ``freqs_hz`` [F] labels rows in Hz
    (e.g. the spectrogram frequency at each codemap row's centre)."""
    array = _as_numpy(codes)
    if array.ndim != 2:
        raise ValueError(f"render_codemap expects [F, T], got shape {array.shape}")
    rows, _ = array.shape
    figure = _figure(size[0], size[1])
    axis = figure.add_subplot(1, 1, 1)
    top = (codebook_size or int(array.max()) + 1) - 1
    axis.imshow(array, origin="lower", aspect="auto", interpolation="nearest", cmap="tab20", vmin=0,
                vmax=max(top, 1))
    if mask is not None:
        selected = _as_numpy(mask).astype(float)
        if selected.shape != array.shape:
            raise ValueError(f"mask shape {selected.shape} differs from codes {array.shape}")
        _outline(axis, selected > 0.5)
    if freqs_hz is not None:
        _hz_ticks(axis, _as_numpy(freqs_hz), rows, count=min(rows, 5))
    else:
        axis.set_ylabel("row")
    axis.set_xlabel("column")
    axis.set_title(title)
    figure.tight_layout()
    return _png(figure, path)


def _outline(axis, selected: np.ndarray) -> None:
    """Draw the cell edges between selected and unselected cells (exact, blocky outline)."""
    from matplotlib.collections import LineCollection

    padded = np.pad(selected, 1)
    segments = []
    rows, cols = np.nonzero(padded[1:, 1:-1] != padded[:-1, 1:-1])  # horizontal edges
    segments += [[(c - 0.5, r - 0.5), (c + 0.5, r - 0.5)] for r, c in zip(rows, cols, strict=True)]
    rows, cols = np.nonzero(padded[1:-1, 1:] != padded[1:-1, :-1])  # vertical edges
    segments += [[(c - 0.5, r - 0.5), (c - 0.5, r + 0.5)] for r, c in zip(rows, cols, strict=True)]
    if segments:
        axis.add_collection(LineCollection(segments, colors="white", linewidths=2.0))


def codemap_row_frequencies(freqs_hz: torch.Tensor | np.ndarray, rows: int) -> np.ndarray:
    """Spectrogram bin frequencies [F] → the frequency at the centre of each of ``rows`` codemap rows."""
    freqs = _as_numpy(freqs_hz)
    factor = freqs.shape[0] / rows
    centres = ((np.arange(rows) + 0.5) * factor - 0.5).clip(0, freqs.shape[0] - 1)
    return np.interp(centres, np.arange(freqs.shape[0]), freqs)
