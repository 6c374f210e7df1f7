"""The pitch label guessed for audio that comes without one (`editing.pitch_estimate`)."""

import numpy as np
import pytest
import torch

from specinpaint.core.conditioning import NULL_LABEL
from specinpaint.editing.pitch_estimate import estimate_pitch_labels, pitch_labels
from specinpaint.metrics.pitch import PitchAccuracy

RATE = 16000


def _tone(midi: float, seconds: float = 1.5, harmonics: int = 4) -> torch.Tensor:
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    wave = sum(0.3 / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, harmonics + 1) if k * f0 < RATE / 2)
    return torch.from_numpy(np.asarray(wave, dtype=np.float32))


def test_estimates_round_to_the_nearest_note_within_the_range():
    estimated = torch.tensor([59.6, 60.4, float("nan"), 23.4, 84.49, 84.51, 30.0], dtype=torch.float64)
    labels = pitch_labels(estimated, (24, 84))
    assert labels.dtype == torch.long
    assert labels.tolist() == [60, 60, NULL_LABEL, NULL_LABEL, 84, NULL_LABEL, 30]


def test_tones_get_their_pitch_and_silence_gets_none():
    audio = torch.stack([_tone(33), _tone(57), _tone(76), torch.zeros(int(1.5 * RATE))])
    assert estimate_pitch_labels(audio, RATE, (24, 84)).tolist() == [33, 57, 76, NULL_LABEL]
    # a tone the bundle was not trained on is not forced onto the nearest pitch it knows
    assert estimate_pitch_labels(_tone(96, harmonics=1), RATE, (24, 84)).tolist() == [NULL_LABEL]


def test_audio_too_short_to_analyse_gets_no_guess_and_rates_must_agree():
    assert estimate_pitch_labels(_tone(60, seconds=0.2), RATE, (24, 84)).tolist() == [NULL_LABEL]
    with pytest.raises(Exception, match="8000 Hz"):
        estimate_pitch_labels(_tone(60), RATE, (24, 84), PitchAccuracy(PitchAccuracy.Params(sample_rate=8000)))
