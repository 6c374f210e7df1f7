"""Pitch accuracy: scoring on hand-made estimates, and pYIN on synthetic harmonic notes."""

from __future__ import annotations

import math

import pytest
import torch

from fakes.nsynth import tone
from specinpaint.core.registry import registry
from specinpaint.metrics.pitch import PitchAccuracy


def score_pitch(estimated: torch.Tensor, target: torch.Tensor, tolerance: float = 0.5) -> dict:
    return PitchAccuracy(PitchAccuracy.Params(tolerance=tolerance)).score(estimated, target)


def test_score_pitch_hand_computed():
    estimated = torch.tensor([60.2, 72.4, 55.0, float("nan"), 47.7, 60.6])
    target = torch.tensor([60, 60, 60, 60, 60, 60])
    result = score_pitch(estimated, target)
    assert result["correct"].tolist() == [True, False, False, False, False, False]
    assert result["octave_error"].tolist() == [False, True, False, False, True, False]
    assert float(result["accuracy"]) == pytest.approx(1 / 6)
    assert float(result["octave_error_rate"]) == pytest.approx(2 / 6)
    assert float(result["voiced_rate"]) == pytest.approx(5 / 6)
    assert float(score_pitch(estimated, target, tolerance=1.0)["accuracy"]) == pytest.approx(2 / 6)


def test_pyin_on_known_notes():
    metric = registry("metrics").build("pitch-accuracy", {"max_seconds": 0.5})
    assert metric.higher_is_better is True
    pitches = [33, 57, 76]
    audio = torch.stack([torch.from_numpy(tone(p, 100)) for p in pitches] + [torch.zeros(64000)])
    estimated = metric.estimate(audio)
    assert torch.allclose(estimated[:3], torch.tensor(pitches, dtype=torch.float64), atol=0.15)
    assert math.isnan(float(estimated[3]))  # silence: nothing voiced
    right = metric(audio[:3], pitches)
    assert float(right["accuracy"]) == 1.0 and float(right["octave_error_rate"]) == 0.0
    octave = score_pitch(estimated[:3], torch.tensor(pitches) + 12)
    assert float(octave["accuracy"]) == 0.0 and float(octave["octave_error_rate"]) == 1.0
    wrong = score_pitch(estimated[:3], torch.tensor(pitches) + 3)
    assert float(wrong["accuracy"]) == 0.0 and float(wrong["octave_error_rate"]) == 0.0
