"""Phase helpers and the no-gradient fast paths: the values they promise, on every path."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import specinpaint.representations.chunking as chunking
from fakes.notes import note_batch
from specinpaint.representations.mel_if import GansynthMelIF, PaperMelIF
from specinpaint.representations.phase import phase_increments_to_if, wrap, wrap_

N = 16000


def test_wrap_matches_numpy_unwrap_steps_and_keeps_exact_half_turns():
    steps = torch.tensor([0.0, 1.0, -1.0, 3.0, -3.0, 4.0, -4.0, 7.0, -7.0, 100.0, -1000.0], dtype=torch.float64)
    wrapped = wrap(steps)
    assert torch.all(wrapped.abs() <= math.pi)
    expected = np.diff(np.unwrap(np.cumsum(np.r_[0.0, steps.numpy()])))  # NumPy's (magenta's) steps
    np.testing.assert_allclose(wrapped.numpy(), expected, atol=1e-9)
    for dtype in (torch.float32, torch.float64):  # a step of exactly ±π stays ±π, as in np.unwrap
        half_turns = torch.tensor([math.pi, -math.pi], dtype=dtype)
        assert torch.equal(wrap(half_turns), half_turns)


def test_wrap_in_place_is_bit_identical_and_wrap_has_unit_gradient():
    x = torch.randn(64, 33) * 20
    expected = wrap(x)
    assert torch.equal(wrap_(x.clone()), expected)
    assert torch.equal(wrap_(x.clone(), torch.empty_like(x)), expected)
    leaf = x.clone().requires_grad_(True)
    wrap(leaf).sum().backward()
    assert torch.equal(leaf.grad, torch.ones_like(x))


def test_if_keeps_the_raw_first_frame_on_both_paths():
    increments = torch.tensor([[2.5 * math.pi, 1.5 * math.pi, -0.5 * math.pi]])
    fast = phase_increments_to_if(increments.clone())
    slow = phase_increments_to_if(increments.clone().requires_grad_(True)).detach()
    expected = torch.tensor([[2.5, -0.5, -0.5]])
    torch.testing.assert_close(fast, expected)
    torch.testing.assert_close(slow, expected)


@pytest.mark.parametrize("cls", [GansynthMelIF, PaperMelIF])
def test_pseudo_decode_fast_path_matches_the_differentiable_one(cls):
    """The no-gradient pseudo decode (in place, float32 phase accumulation like magenta) and the
    differentiable one (float64 accumulation) give the same audio to float32 precision."""
    rep = cls(cls.Params(inverse="pseudo"))
    notes = note_batch([40, 76], num_samples=N, noise_level=1e-3)
    spec = rep.encode(notes)
    with torch.no_grad():
        fast = rep.decode(spec, N)
    slow = rep.decode(spec.clone().requires_grad_(True), N).detach()
    scale = slow.abs().max()
    assert scale > 1e-2  # a real note, not silence
    assert (fast - slow).abs().max() < 1e-4 * scale


def test_chunked_batches_equal_note_by_note_results(monkeypatch):
    """Slices write straight into the result: every note lands where it belongs, encode and decode."""
    rep = GansynthMelIF(GansynthMelIF.Params(inverse="pseudo"))
    notes = note_batch([36, 43, 50, 57, 64], num_samples=N, noise_level=1e-3)
    monkeypatch.setattr(chunking, "CPU_CHUNK_ELEMENTS", 2 * 1025 * 32)  # 2 notes per slice
    assert chunking.notes_per_chunk(1025 * 32) == 2
    with torch.no_grad():
        spec = rep.encode(notes)
        audio = rep.decode(spec, N)
        for i in range(notes.shape[0]):
            torch.testing.assert_close(spec[i:i + 1], rep.encode(notes[i:i + 1]), atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(audio[i:i + 1], rep.decode(spec[i:i + 1], N), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("layout", ["magenta", "notono"])
def test_griffin_lim_fast_path_matches_the_differentiable_one(layout):
    """Without gradients Griffin-Lim projects with ``sgn`` and interpolates on real planes; the audio is
    the one the differentiable iteration gives, and the iterations really change it."""
    rep = PaperMelIF(PaperMelIF.Params(layout=layout, griffin_lim_iters=6))
    start = PaperMelIF(PaperMelIF.Params(layout=layout, griffin_lim_iters=0))
    spec = rep.encode(note_batch([45, 69], num_samples=N, noise_level=1e-3))
    with torch.no_grad():
        fast = rep.decode(spec, N)
        initial = start.decode(spec, N)
    slow = rep.decode(spec.clone().requires_grad_(True), N).detach()
    scale = slow.abs().max()
    assert (fast - initial).abs().max() > 1e-2 * scale  # Griffin-Lim did something
    assert (fast - slow).abs().max() < 1e-4 * scale
