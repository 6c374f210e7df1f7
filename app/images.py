"""Pixel-aligned PNGs for the web app: one pixel per spectrogram frame (x) and row (y, low
frequencies at the bottom), so a box drawn on the image maps exactly to frames and rows.

Built with matplotlib's colormaps and Pillow only — no pyplot, so no global figure state and no
race between server threads (the original's `plt` calls raced under Flask's threads).
"""

from __future__ import annotations

import io

import numpy as np
import torch

DYNAMIC_RANGE_DB = 80.0


def _colormap(name: str):
    import matplotlib

    return matplotlib.colormaps[name]


def log_magnitude_png(
    log_magnitude: torch.Tensor, db_per_unit: float = 20.0 / np.log(10.0), max_rows: int = 512, cmap: str = "magma"
) -> bytes:
    """``[F, T]`` natural-log level → PNG (F rows flipped so low frequencies are at the bottom;
    rows averaged down to at most ``max_rows``; 80 dB below the peak is black). ``db_per_unit``:
    20/ln 10 for log magnitudes, 10/ln 10 for log powers."""
    from PIL import Image

    values = log_magnitude.detach().float().cpu()
    rows = values.shape[0]
    if rows > max_rows:
        factor = -(-rows // max_rows)
        pad = factor * (-(-rows // factor)) - rows
        values = torch.nn.functional.pad(values.T, (0, pad), mode="replicate").T
        values = values.reshape(-1, factor, values.shape[1]).mean(1)
    db = values.numpy() * db_per_unit
    top = float(db.max()) if db.size else 0.0
    scaled = np.clip((db - (top - DYNAMIC_RANGE_DB)) / DYNAMIC_RANGE_DB, 0.0, 1.0)
    rgba = _colormap(cmap)(scaled[::-1], bytes=True)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba[..., :3])).save(buffer, format="PNG")
    return buffer.getvalue()


def codemap_png(
    codes: torch.Tensor, num_codes: int, mask: torch.Tensor | None = None, cell: int | None = None,
    cmap: str = "turbo",
) -> bytes:
    """``[F, T]`` integer codes → PNG of square cells coloured by code index (low rows at the
    bottom); cells where ``mask`` is True get a white border. Fast (no figure), for reports."""
    from PIL import Image

    values = codes.detach().cpu().numpy().astype(np.float64)
    rows, cols = values.shape
    cell = cell or max(4, min(24, 256 // max(rows, cols)))
    rgba = _colormap(cmap)(values[::-1] / max(1, num_codes - 1), bytes=True)
    rgb = np.ascontiguousarray(rgba[..., :3]).repeat(cell, 0).repeat(cell, 1)
    if mask is not None:
        selected = mask.detach().cpu().numpy().astype(bool)[::-1]
        for r, c in zip(*np.nonzero(selected), strict=True):
            y, x = r * cell, c * cell
            rgb[y, x:x + cell] = rgb[y + cell - 1, x:x + cell] = 255
            rgb[y:y + cell, x] = rgb[y:y + cell, x + cell - 1] = 255
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()
