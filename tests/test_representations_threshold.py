"""Phase-threshold semantics, silence, and the bad-input policy of the representations."""

from __future__ import annotations

import math

import pytest
import torch

from fakes.notes import harmonic_note
from specinpaint.core.errors import AudioInputError, PluginError, SpecinpaintError
from specinpaint.core.registry import registry
from specinpaint.representations.checks import apply_phase_threshold
from specinpaint.representations.mel_if import MelIF, PaperMelIF
from specinpaint.representations.params import PAPER_PHASE_THRESHOLD
from specinpaint.representations.stft_if import StftIF

N = 16000  # 1 s keeps these tests fast; shapes at 64 000 are covered in test_representations_roundtrip
SMALL = {"griffin_lim_iters": 2}


def quiet_note() -> torch.Tensor:
    """A note that decays into a faint noise floor (1e-5, far below the paper's threshold): plenty of
    bins below the threshold whose raw IF is not zero (digital silence alone has IF 0 everywhere)."""
    note = harmonic_note(60, num_samples=N, decay_per_s=6.0, noise_level=0.0)
    note[N // 2:] = 1e-5 * torch.randn(N - N // 2, generator=torch.Generator().manual_seed(0))
    return note.unsqueeze(0)


def test_paper_defaults():
    params = PaperMelIF.Params()
    assert params.phase_threshold == pytest.approx(math.log(2e-6))
    assert params.mel_break_frequency_hz == 275.0
    assert MelIF.Params().phase_threshold is None and MelIF.Params().mel_break_frequency_hz == 700.0
    # subclasses differ only in defaults: YAML can still override
    assert PaperMelIF.Params(phase_threshold=None, mel_break_frequency_hz=700).model_dump() == MelIF.Params().model_dump()


def test_threshold_zeroes_if_and_clamps_level():
    rep = PaperMelIF(PaperMelIF.Params(**SMALL))
    plain = MelIF(MelIF.Params(mel_break_frequency_hz=275.0, **SMALL))
    audio = quiet_note()
    spec, raw = rep.encode(audio), plain.encode(audio)
    below = raw[:, 0] <= PAPER_PHASE_THRESHOLD
    assert below.float().mean() > 0.2  # the test really exercises the threshold
    assert (raw[:, 1][below] != 0).any()  # ... and the unthresholded IF was not already zero there
    assert torch.all(spec[:, 1][below] == 0.0)
    assert torch.all(spec[:, 0][below] == PAPER_PHASE_THRESHOLD)
    assert spec[:, 0].min() >= PAPER_PHASE_THRESHOLD
    torch.testing.assert_close(spec[:, :, ~below[0]], raw[:, :, ~below[0]])  # elsewhere untouched


def test_clean_is_idempotent_and_used_by_decode():
    rep = PaperMelIF(PaperMelIF.Params(inverse="pseudo"))
    spec = torch.randn(1, 2, 1024, 32) * 4 - 12  # model-like output with entries on both sides
    cleaned = rep.clean(spec)
    torch.testing.assert_close(rep.clean(cleaned), cleaned)
    assert torch.all(cleaned[:, 1][spec[:, 0] <= PAPER_PHASE_THRESHOLD] == 0)
    length = 512 * 29
    torch.testing.assert_close(rep.decode(spec, length), rep.decode(cleaned, length))


def test_threshold_on_stft_if_too():
    rep = StftIF(StftIF.Params(phase_threshold=-10.0))
    spec = rep.encode(quiet_note())
    assert torch.all(spec[:, 1][spec[:, 0] <= -10.0] == 0) and spec[:, 0].min() == -10.0


def test_apply_phase_threshold_none_is_identity():
    spec = torch.randn(2, 2, 8, 8)
    assert apply_phase_threshold(spec, None) is spec


@pytest.mark.parametrize("name", ["stft-if", "mel-if", "paper-mel-if"])
@pytest.mark.parametrize("layout", ["magenta", "notono"])
def test_silence(name, layout):
    params = {"layout": layout} | ({} if name == "stft-if" else SMALL)
    rep = registry("representations").build(name, params)
    spec = rep.encode(torch.zeros(2, N))
    assert torch.isfinite(spec).all()
    assert torch.all(spec[:, 1] == 0)
    audio = rep.decode(spec, N)
    assert torch.isfinite(audio).all() and audio.abs().max() < 1e-4


def negative_zeros(stft: torch.Tensor) -> torch.Tensor:
    """What MKL's AVX-512 FFT returns for silent frames: exact zeros with the sign bit set."""
    real = torch.where(stft.real == 0, torch.full_like(stft.real, -0.0), stft.real)
    imag = torch.where(stft.imag == 0, torch.full_like(stft.imag, -0.0), stft.imag)
    return torch.complex(real, imag)


@pytest.mark.parametrize("name", ["stft-if", "gansynth-mel-if"])
def test_silent_frames_have_zero_if_on_every_cpu_and_path(name, monkeypatch):
    """Frame 0 of the magenta layout is all padding. Whatever sign the FFT gives its zeros, its IF is 0 and
    the no-gradient fast path equals the differentiable one (±π there once broke the pseudo round trip
    by 1e-3 RMS on AVX-512 machines)."""
    rep = registry("representations").build(name, {} if name == "stft-if" else SMALL)
    analysis = rep.stft.analysis
    monkeypatch.setattr(rep.stft, "analysis", lambda audio, **kw: negative_zeros(analysis(audio, **kw)))
    audio = harmonic_note(60, num_samples=N, noise_level=1e-3).unsqueeze(0)
    with torch.no_grad():
        fast = rep.encode(audio)
    slow = rep.encode(audio.clone().requires_grad_(True)).detach()
    assert torch.all(fast[:, 1, :, 0] == 0) and torch.all(slow[:, 1, :, 0] == 0)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_audio_is_rejected(bad):
    audio = torch.zeros(1, N)
    audio[0, 100] = bad
    for rep in (StftIF(StftIF.Params()), MelIF(MelIF.Params(**SMALL))):
        with pytest.raises(AudioInputError, match="NaN or infinite"):
            rep.encode(audio)


@pytest.mark.parametrize("shape", [(N,), (1, 1, N), ()])
def test_wrong_rank_is_rejected(shape):
    with pytest.raises(AudioInputError, match=r"\[B, N\]"):
        StftIF(StftIF.Params()).encode(torch.zeros(shape))


def test_non_tensor_and_too_short():
    rep = StftIF(StftIF.Params(layout="notono"))
    with pytest.raises(AudioInputError, match="torch tensor"):
        rep.encode([[0.0] * 10])
    with pytest.raises(AudioInputError, match="at least 1025 samples"):
        rep.encode(torch.zeros(1, 1000))
    with pytest.raises(AudioInputError, match="at least 1 samples"):
        StftIF(StftIF.Params()).encode(torch.zeros(1, 0))


def test_bad_spectrogram_shapes():
    rep = MelIF(MelIF.Params(**SMALL))
    with pytest.raises(SpecinpaintError, match=r"\[B, 2, 1024, T\]"):
        rep.decode(torch.zeros(1, 2, 512, 128), 64000)
    with pytest.raises(SpecinpaintError, match=r"\[B, 2, 1024, T\]"):
        rep.decode(torch.zeros(2, 1024, 128), 64000)
    with pytest.raises(AudioInputError, match="fewer than"):
        StftIF(StftIF.Params()).decode(torch.zeros(1, 2, 1024, 8), 64000)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"f_max_hz": 9000}, "f_max_hz"),
        ({"hop_length": 2000}, "hop_length"),
        ({"n_fft": 2047}, "even"),
        ({"inverse": "magic"}, "inverse"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_invalid_params_are_plugin_errors(params, match):
    with pytest.raises(PluginError, match=match):
        registry("representations").build("mel-if", params)


def test_integer_audio_is_converted():
    rep = StftIF(StftIF.Params())
    spec = rep.encode(torch.zeros(1, 4096, dtype=torch.int16))
    assert spec.dtype == torch.float32
