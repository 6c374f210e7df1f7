"""Silent-region code entropy (the ``silent-code-entropy`` metric plugin) on hand-made cases."""

from __future__ import annotations

import math

import torch

from fakes.spine import GridRep
from specinpaint.core.registry import registry
from specinpaint.metrics.silence import SilentCodeEntropy, block_edges, cell_max_db, stft_level_db

code_entropy_bits = registry("metrics").build("silent-code-entropy", {})


def silent_cells(audio, representation, shape, num_samples, silence_db=-60.0):
    metric = registry("metrics").build("silent-code-entropy", {"silence_db": silence_db})
    return metric.silent_cells(audio, representation, shape, num_samples)


def test_entropy_hand_made():
    codes = torch.tensor([[[3, 3, 5, 5], [3, 3, 1, 2]]])
    silent = torch.tensor([[[True, True, True, True], [False, False, False, False]]])
    assert code_entropy_bits(codes, silent) == (1.0, 2, 4)  # {3, 3, 5, 5}: one bit
    only3 = torch.tensor([[[True, True, False, False], [True, True, False, False]]])
    assert code_entropy_bits(codes, only3) == (0.0, 1, 4)  # silence always code 3
    entropy, distinct, cells = code_entropy_bits(codes)
    assert distinct == 4 and cells == 8 and math.isclose(entropy, 1.75)  # p = 1/2, 1/4, 1/8, 1/8
    nan, zero, none = code_entropy_bits(codes, torch.zeros_like(silent))
    assert math.isnan(nan) and zero == none == 0


def test_level_db_full_scale_sine_is_zero_db():
    t = torch.arange(16000) / 16000
    level, freqs, times = stft_level_db(torch.sin(2 * math.pi * 1000 * t)[None], 16000)
    assert abs(float(level[0, :, 5:-5].amax()) - 0.0) < 0.1
    assert float(freqs[int(level[0, :, 10].argmax())]) == 1000.0
    assert times[1] == 512 / 16000


def test_block_edges_and_cell_max():
    edges = block_edges(torch.tensor([1.0, 2.0, 3.0, 4.0]), 2)
    assert edges.tolist() == [0.5, 2.5, 4.5]
    level = torch.full((1, 4, 6), -100.0)
    level[0, 3, 4] = -10.0  # loud bin at 300 Hz, 0.4 s
    freqs = torch.tensor([0.0, 100.0, 200.0, 300.0])
    times = torch.arange(6) * 0.1
    out = cell_max_db(level, freqs, times, torch.tensor([0.0, 150.0, 400.0]), torch.tensor([0.0, 0.3, 0.6]))
    assert out.tolist() == [[[-100.0, -100.0], [-100.0, -10.0]]]
    # a row narrower than one STFT bin falls back to the nearest bin instead of being empty
    narrow = cell_max_db(level, freqs, times, torch.tensor([290.0, 295.0]), torch.tensor([0.35, 0.45]))
    assert narrow.item() == -10.0


def test_silent_cells_tone_then_silence():
    """A 1 kHz tone for the first half, digital silence after: the right half of the low rows is
    silent, the left cell holding 1 kHz is not, and high rows are silent everywhere in time."""
    n = 16384
    t = torch.arange(n) / 16000
    audio = 0.5 * torch.sin(2 * math.pi * 1000 * t) * (t < n / 2 / 16000)
    silent = silent_cells(audio[None], GridRep(), (4, 4), n, silence_db=-60.0)
    assert silent.shape == (1, 4, 4)
    rows_hz = block_edges(GridRep().bin_frequencies_hz(), 4)  # 0-2 k, 2-4 k, 4-6 k, 6-8 k
    assert rows_hz.tolist() == [0.0, 2000.0, 4000.0, 6000.0, 8000.0]
    assert not silent[0, 0, 0] and not silent[0, 0, 1]  # the tone's row while it plays
    assert silent[0, 0, 3]  # the same row once silent (last column starts 0.25 s after the end)
    assert silent[0, 3, 3] and silent[0, 2, 3]  # high rows after the tone
    # a louder threshold marks the tone's cells silent too
    assert silent_cells(audio[None], GridRep(), (4, 4), n, silence_db=10.0).all()


def test_silent_cells_on_the_paper_geometry():
    """The paper's representation (1024 mel rows, 128 frames from 64 000 samples) and codemaps
    (bottom 64×8, top 32×4): a 440 Hz tone for 2 s, then silence."""
    rep = registry("representations").build("paper-mel-if", {})
    n = 64000
    t = torch.arange(n) / 16000
    audio = (0.5 * torch.sin(2 * math.pi * 440 * t) * (t < 2.0))[None]
    for shape in ((64, 8), (32, 4)):
        silent = silent_cells(audio, rep, shape, n)
        assert silent.shape == (1, *shape)
        cols = shape[1]
        assert silent[0, :, -cols // 4:].all()  # the last second: silent at every frequency
        edges = block_edges(rep.bin_frequencies_hz(), shape[0])
        row = int(torch.searchsorted(edges, torch.tensor(440.0, dtype=edges.dtype))) - 1
        assert not silent[0, row, 0]  # the tone's row while it plays
        assert silent[0, -1, 0]  # 7-8 kHz while a pure 440 Hz tone plays


def test_the_plugin_declares_what_the_registry_lists():
    metric = registry("metrics").build("silent-code-entropy", {"silence_db": -50, "n_fft": 1024, "hop": 256})
    assert isinstance(metric, SilentCodeEntropy) and metric.higher_is_better is False and metric.unit == "bits"
    assert (metric.params.silence_db, metric.params.n_fft, metric.params.hop) == (-50, 1024, 256)
    assert registry("metrics").info("silent-code-entropy").description.startswith("entropy (bits) of the codes")
