"""Spectral metrics on hand-computed cases, batching, the registry plugins."""

from __future__ import annotations

import math

import pytest
import torch

from specinpaint.core.errors import AudioInputError
from specinpaint.core.registry import registry
from specinpaint.metrics.spectral import (
    LogSpectralDistance,
    MultiResolutionSTFTDistance,
    SignalToNoiseRatio,
    SpectralConvergence,
)

spectral_convergence, log_spectral_distance = SpectralConvergence(), LogSpectralDistance()
multi_resolution_stft_distance, snr = MultiResolutionSTFTDistance(), SignalToNoiseRatio()


@pytest.fixture(scope="module")
def noise() -> torch.Tensor:
    """Two 1 s clips of white noise (no spectral bin anywhere near the log floor)."""
    return 0.1 * torch.randn(2, 16000, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def notes() -> torch.Tensor:
    """Paper shapes: two 4 s notes at 16 kHz."""
    return 0.1 * torch.randn(2, 64000, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("scale", [0.5, 1.0, 2.0])
def test_scaled_signal_hand_computed(noise, scale):
    estimate = scale * noise
    # SC: || |Y| - a|Y| || / || |Y| || = |1 - a|
    assert torch.allclose(spectral_convergence(noise, estimate), torch.full((2,), abs(1 - scale)), atol=1e-5)
    # LSD: every bin differs by 20 log10(a) dB
    expected_lsd = abs(20 * math.log10(scale))
    assert torch.allclose(log_spectral_distance(noise, estimate), torch.full((2,), expected_lsd), atol=1e-3)
    # MR-STFT: per resolution SC + |ln a|, averaged
    expected_mr = abs(1 - scale) + abs(math.log(scale))
    assert torch.allclose(multi_resolution_stft_distance(noise, estimate), torch.full((2,), expected_mr), atol=1e-4)


def test_snr_of_known_noise(noise):
    reference = torch.sin(2 * math.pi * 440 * torch.arange(16000) / 16000).repeat(2, 1)
    disturbance = noise / noise.norm(dim=1, keepdim=True) * reference.norm(dim=1, keepdim=True)
    for db in (0.0, 20.0, 40.0):
        estimate = reference + disturbance * 10 ** (-db / 20)
        assert torch.allclose(snr(reference, estimate), torch.full((2,), db), atol=1e-3)
    assert torch.allclose(snr(reference, -reference), torch.full((2,), 10 * math.log10(0.25)), atol=1e-4)
    assert torch.allclose(snr(reference, torch.zeros_like(reference)), torch.zeros(2), atol=1e-5)


def test_rows_are_independent(noise):
    estimate = torch.stack([noise[0] * 0.5, noise[1] + 0.01 * torch.randn(16000)])
    for fn in (spectral_convergence, log_spectral_distance, multi_resolution_stft_distance, snr):
        both = fn(noise, estimate)
        assert both.shape == (2,)
        for row in range(2):
            assert torch.allclose(both[row], fn(noise[row : row + 1], estimate[row : row + 1])[0], atol=1e-5)
        assert not torch.allclose(both[0], both[1])


def test_silence_is_finite_thanks_to_the_floor():
    silent = torch.zeros(1, 8000)
    tone = torch.sin(torch.arange(8000) * 0.3).unsqueeze(0)
    for fn in (log_spectral_distance, multi_resolution_stft_distance):
        assert torch.isfinite(fn(tone, silent)).all() and torch.isfinite(fn(silent, silent)).all()
    assert float(log_spectral_distance(silent, silent)) == 0.0


def test_shape_errors(noise):
    with pytest.raises(AudioInputError, match="same shape"):
        snr(noise, noise[:, :-1])
    with pytest.raises(AudioInputError, match="same shape"):
        spectral_convergence(noise.unsqueeze(0), noise.unsqueeze(0))


@pytest.mark.parametrize(
    ("name", "higher"),
    [("spectral-convergence", False), ("log-spectral-distance", False), ("mrstft", False), ("snr", True)],
)
def test_registry_plugins(notes, name, higher):
    metric = registry("metrics").build(name, {})
    assert metric.higher_is_better is higher and metric.description
    perfect = metric(notes, notes)
    degraded = metric(notes, 0.5 * notes)
    assert perfect.shape == degraded.shape == (2,)
    assert bool(((degraded < perfect) if higher else (degraded > perfect)).all())


def test_plugin_params_are_validated():
    from specinpaint.core.errors import PluginError

    with pytest.raises(PluginError, match="same non-zero length"):
        registry("metrics").build("mrstft", {"fft_sizes": [512], "hop_sizes": [128, 64], "win_lengths": [512]})
    sc = registry("metrics").build("spectral-convergence", {"n_fft": 512, "hop_length": 128})
    assert sc.params.n_fft == 512
