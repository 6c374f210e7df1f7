"""PNG rendering of spectrograms and codemaps."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from fakes.notes import harmonic_note
from specinpaint.representations.mel_if import MelIF
from specinpaint.representations.render import codemap_row_frequencies, render_codemap, render_spectrogram

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_png(data: bytes) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(data), format="png")


def test_spectrogram_png(tmp_path):
    rep = MelIF(MelIF.Params(n_mels=256))
    spec = rep.encode(harmonic_note(60, num_samples=16000).unsqueeze(0))[0]
    path = tmp_path / "spec.png"
    data = render_spectrogram(spec, rep.bin_frequencies_hz(), rep.frame_times_s(spec.shape[-1]), path=path)
    assert data.startswith(PNG_SIGNATURE) and path.read_bytes() == data
    image = read_png(data)
    assert image.shape[:2] == (400, 800)
    assert image[..., :3].std() > 0.05  # not a blank canvas
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left no temporary file


def test_spectrogram_png_single_channel_and_errors():
    data = render_spectrogram(torch.randn(64, 20), np.linspace(0, 8000, 64))
    assert data.startswith(PNG_SIGNATURE)
    with pytest.raises(ValueError, match="bin frequencies"):
        render_spectrogram(torch.randn(2, 64, 20), np.linspace(0, 8000, 32))
    with pytest.raises(ValueError, match=r"\[C, F, T\]"):
        render_spectrogram(torch.randn(64), np.linspace(0, 8000, 64))


def test_codemap_png_with_mask(tmp_path):
    codes = torch.randint(0, 512, (32, 4))
    mask = torch.zeros(32, 4, dtype=torch.bool)
    mask[4:10, 1:3] = True
    freqs = codemap_row_frequencies(np.linspace(0, 8000, 1024), 32)
    plain = render_codemap(codes, 512, freqs_hz=freqs)
    masked = render_codemap(codes, 512, freqs_hz=freqs, mask=mask, path=tmp_path / "codes.png")
    assert plain.startswith(PNG_SIGNATURE) and masked.startswith(PNG_SIGNATURE)
    assert (tmp_path / "codes.png").read_bytes() == masked
    assert not np.array_equal(read_png(plain), read_png(masked))  # the outline is drawn
    with pytest.raises(ValueError, match="mask shape"):
        render_codemap(codes, 512, mask=mask[:5])
    with pytest.raises(ValueError, match=r"\[F, T\]"):
        render_codemap(codes.flatten(), 512)


def test_codemap_row_frequencies():
    freqs = np.arange(1024, dtype=float)
    rows = codemap_row_frequencies(freqs, 32)
    assert rows.shape == (32,) and rows[0] == pytest.approx(15.5) and np.all(np.diff(rows) == 32)
