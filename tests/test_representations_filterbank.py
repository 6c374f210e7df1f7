"""Mel filterbank: break frequency and Q rule, band widening, sparse products, pseudo-inverse."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from specinpaint.representations.mel_filterbank import (
    hz_to_mel,
    magenta_pseudo_inverse,
    mel_band_centres_hz,
    mel_q,
    mel_to_hz,
    mel_weight_matrix,
)
from specinpaint.representations.mel_if import MelIF, PaperMelIF
from specinpaint.representations.sparse_matmul import SparseMatmul


def test_q_rule():
    assert mel_q(700.0) == 1127.0
    assert mel_q(275.0) == pytest.approx(1000 / math.log(1 + 1000 / 275))
    assert float(hz_to_mel(1000.0, 275.0)) == pytest.approx(1000.0)  # 1000 mel = 1000 Hz
    f = np.array([0.0, 55.0, 440.0, 7999.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(f, 275.0), 275.0), f, atol=1e-9)


@pytest.mark.parametrize("break_hz, expected", [(275.0, 311), (700.0, 219)])
def test_bands_below_500_hz(break_hz, expected):
    """With 1024 bands, ~311 lie below 500 Hz at 275 Hz and ~219 at 700 Hz."""
    centres = mel_band_centres_hz(break_hz=break_hz)
    assert abs(int((centres < 500).sum()) - expected) <= 1
    assert np.all(np.diff(centres) > 0)


def test_magenta_aliasing_collapses_low_resolution():
    centres = mel_band_centres_hz(magenta_edge_aliasing=True)
    assert int((centres < 500).sum()) == 85
    spacing = np.diff(centres[:100])  # quasi-linear: ~constant 5.88 Hz spacing at low frequencies
    assert spacing.std() < 0.01 and spacing.mean() == pytest.approx(5.88, abs=0.01)


def test_matrix_structure():
    m = mel_weight_matrix()
    assert m.shape == (1024, 1024) and m.dtype == np.float64
    assert np.all(m[0] == 0)  # DC row zeroed (HTK)
    assert int((m.sum(axis=1) > 0).sum()) == 1022  # measured on this recipe: two of the 1024 bands stay empty
    assert int((m.sum(axis=0) == 0).sum()) == 1
    assert m.max() <= 1.0 + 1e-12 and m.min() >= 0.0


def test_minimum_band_width():
    """After widening, every band spans at least 1.5 bins (11.72 Hz); widened bands are symmetric in mel."""
    from specinpaint.representations.mel_filterbank import _band_edges

    for break_hz in (275.0, 700.0):
        lower, centre, upper = _band_edges(1024, 1024, 16000, 0.0, 8000.0, break_hz, 1.5, False)
        assert np.all(upper - lower >= 1.5 * 8000 / 1024 - 1e-9)
        widened = (upper - lower) < 1.5 * 8000 / 1024 + 1e-6
        assert widened.sum() > 100
        mel = [hz_to_mel(v, break_hz) for v in (lower, centre, upper)]
        np.testing.assert_allclose((mel[1] - mel[0])[widened], (mel[2] - mel[1])[widened], rtol=1e-9)
    narrow = mel_weight_matrix(min_band_width_bins=0.0)
    wide = mel_weight_matrix()
    assert (narrow > 0).sum() < (wide > 0).sum()  # widening adds support to the low bands


def test_cached_matrix_is_read_only():
    m = mel_weight_matrix()
    with pytest.raises(ValueError):
        m[1, 1] = 3.0


def test_invalid_band_edges():
    with pytest.raises(ValueError, match="band edges"):
        mel_weight_matrix(f_max_hz=9000.0)


@pytest.mark.parametrize("matrix_fn", [mel_weight_matrix, lambda: magenta_pseudo_inverse(mel_weight_matrix())])
def test_sparse_product_matches_dense(matrix_fn):
    matrix = np.array(matrix_fn())  # writable copy of the cached, read-only matrix
    op = SparseMatmul(matrix)
    x = torch.rand(3, matrix.shape[0], 7, dtype=torch.float64)
    expected = torch.einsum("bft,fm->bmt", x, torch.from_numpy(matrix))
    torch.testing.assert_close(op(x.float(), dim=1).double(), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(op.dense().double(), torch.from_numpy(matrix), rtol=1e-6, atol=1e-7)
    assert op.nnz < 0.01 * matrix.size
    assert not op.state_dict()  # derived, not persistent


def test_pseudo_inverse_formula():
    m = mel_weight_matrix(n_mels=64, n_fft=256)
    inv = magenta_pseudo_inverse(m)
    sums = (m @ m.T).sum(axis=0)
    for j in (5, 40, 100):
        if abs(sums[j]) > 1e-8:
            np.testing.assert_allclose(inv[:, j], m[j, :] / sums[j])


def test_representation_frequencies_follow_the_break():
    gansynth = MelIF(MelIF.Params()).bin_frequencies_hz()
    paper = PaperMelIF(PaperMelIF.Params()).bin_frequencies_hz()
    assert paper[311] < 510 < gansynth[311]  # ~500 Hz on the filterbank grid, +1 FFT bin on the rows
    assert gansynth.dtype == torch.float32 and gansynth.shape == (1024,)


@pytest.mark.parametrize(("cls", "n_mels", "layout"), [(PaperMelIF, 1024, "magenta"), (MelIF, 256, "magenta"),
                                                       (PaperMelIF, 256, "notono")])
def test_a_pure_tone_is_loudest_on_the_row_labelled_with_its_frequency(cls, n_mels, layout):
    """The filterbank is laid on magenta's grid, one FFT bin (7.8 Hz) away from the magenta layout's
    rows: the labels must say where the energy really is, or a low note's harmonics are placed a
    quarter of their spacing off (MIDI 24) by everything that reads them."""
    rep = cls(cls.Params(n_mels=n_mels, layout=layout))
    hz = rep.bin_frequencies_hz()
    t = torch.arange(64000) / 16000
    for tone in (33.0, 50.0, 110.0, 440.0):
        level = rep.encode(torch.sin(2 * math.pi * tone * t)[None])[0, rep.level_channel, :, 20:100].mean(-1)
        weight = (level - (level.max() - 0.5)).clamp_min(0)  # the rows within 0.5 log units of the peak
        assert abs(float((weight * hz).sum() / weight.sum()) - tone) < 4.0, tone
    assert rep.frequency_resolution_hz() == pytest.approx(16000 / 2048)
