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


def codemap_png(codes: torch.Tensor, num_codes: int, scale: int = 8, cmap: str = "turbo") -> bytes:
    """``[F, T]`` integer codes → PNG of ``scale``-pixel cells coloured by code index (low rows
    at the bottom), for reports and the CLI."""
    from PIL import Image

    values = codes.detach().cpu().numpy().astype(np.float64) / max(1, num_codes - 1)
    rgba = _colormap(cmap)(values[::-1], bytes=True)
    rgb = np.ascontiguousarray(rgba[..., :3]).repeat(scale, 0).repeat(scale, 1)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()
