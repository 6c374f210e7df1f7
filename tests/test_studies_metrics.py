"""The evaluation's measures on inputs with known answers: a generator that plays exactly what is
asked scores 100 %, one an octave off scores octave errors, a silent one is unvoiced; an unchanged
region gives exact equality; the family classifier learns two timbres."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from fakes.nsynth import tone
from specinpaint.studies.context import EvaluationContext
from specinpaint.studies.evaluation_spec import EvaluationSpec, parse_spec
from specinpaint.studies.family_classifier import ClassifierSettings, train_classifier
from specinpaint.studies.features import log_mel
from specinpaint.studies.generation import evaluate_generation, generation_grid
from specinpaint.studies.inpainting import masked_lsd_db
from specinpaint.studies.notes import register_of, spread
from specinpaint.studies.reconstruction import level_error_db

N = 16000 * 2  # 2 s notes: enough for the pitch window (0.1–1.1 s)


class ToneGenerator(torch.nn.Module):
    """Stands in for a pipeline and its editor: 'generates' a tone at the requested pitch +
    ``offset`` semitones (or silence), so the generation section's scores are known in advance."""

    def __init__(self, offset: int | None) -> None:
        super().__init__()
        self.offset = offset
        self.sample_rate = 16000
        self.config = SimpleNamespace(num_samples=N)
        self.calls: list[tuple[list[int], list[int]]] = []

    def generate(self, pitch, family, n, sampling=None):
        self.calls.append((list(pitch), list(family)))
        if self.offset is None:
            audio = torch.zeros(n, N)
        else:
            audio = torch.stack([torch.from_numpy(tone(p + self.offset, 100, N)) for p in pitch])
        return SimpleNamespace(audio=audio)


class Labels:
    """A dataset stand-in with only the label columns the grid reads."""

    def __init__(self, families: list[int], pitches: list[int]) -> None:
        self.families, self.pitches = np.array(families), np.array(pitches)

    def __len__(self) -> int:
        return len(self.pitches)


def _generation(offset: int | None) -> dict:
    from unittest import mock

    data = Labels([0, 0, 0, 1, 1], [36, 48, 60, 55, 67])
    spec = EvaluationSpec(pitches_per_family=2, seeds=2, batch_size=3)
    ctx = EvaluationContext(ToneGenerator(offset), data, spec, train_dataset=None)  # type: ignore[arg-type]
    with mock.patch("specinpaint.studies.generation.Editor", lambda pipeline: pipeline):  # it edits itself
        return evaluate_generation(ctx)


def test_notes_at_the_asked_pitch_score_100_percent():
    out = _generation(0)
    m = out["metrics"]
    assert m["notes"] == 2 * 2 * 2  # 2 families x 2 pitches x 2 seeds
    assert m["pitch_accuracy"] == 1.0 and m["octave_error_rate"] == 0.0 and m["unvoiced_rate"] == 0.0
    assert set(out["per_family"]) == {"bass", "brass"}
    assert out["per_register"]["low"]["pitch_accuracy"] == 1.0
    assert "family_accuracy" not in m  # no training split: no classifier, said by omission
    assert m["pitch_accuracy_low"] == pytest.approx(0.6756, abs=1e-3) and m["pitch_accuracy_high"] == 1.0  # 8 of 8


def test_wilson_intervals_bracket_the_rate_and_narrow_with_more_trials():
    from specinpaint.studies.intervals import wilson_interval

    assert wilson_interval(50, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)  # the textbook value
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(0, 10)[1] == pytest.approx(0.2775, abs=1e-4)
    small, large = wilson_interval(6, 10), wilson_interval(600, 1000)
    assert small[0] < 0.6 < small[1] and large[0] < 0.6 < large[1]
    assert large[1] - large[0] < small[1] - small[0]
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    with pytest.raises(ValueError, match="11 successes out of 10"):
        wilson_interval(11, 10)


def test_an_octave_off_counts_as_octave_error_and_silence_as_unvoiced():
    octave = _generation(12)["metrics"]
    assert octave["pitch_accuracy"] == 0.0 and octave["octave_error_rate"] == 1.0
    silent = _generation(None)["metrics"]
    assert silent["unvoiced_rate"] == 1.0 and silent["pitch_accuracy"] == 0.0


def test_grid_spreads_pitches_over_each_family_range():
    grid = generation_grid({0: [24, 30, 36, 42, 48], 5: [60]}, per_family=3, seeds=2)
    assert sorted({(f, p) for f, p, _ in grid}) == [(0, 24), (0, 36), (0, 48), (5, 60)]
    assert len(grid) == 8 and {s for _, _, s in grid} == {0, 1}
    assert spread(10, 3) == [0, 4, 9] and spread(2, 5) == [0, 1]
    assert [register_of(p) for p in (24, 47, 48, 71, 72)] == ["low", "low", "middle", "middle", "high"]


def test_unchanged_audio_gives_exact_equality():
    audio = torch.from_numpy(np.stack([tone(60, 100, N), tone(45, 50, N)]))
    everywhere = torch.ones(2, 1025, N // 512 + 1, dtype=torch.bool)
    assert masked_lsd_db(audio, audio.clone(), everywhere).tolist() == [0.0, 0.0]
    assert math.isnan(float(masked_lsd_db(audio, audio, torch.zeros_like(everywhere))[0]))  # nothing selected
    assert level_error_db(audio, audio).abs().max() == 0
    assert level_error_db(audio, 0.5 * audio).tolist() == pytest.approx([-6.0206, -6.0206], abs=1e-3)


def _timbre(pitch: int, kind: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(N) / 16000
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    harmonics = (1,) if kind == 0 else tuple(range(1, 16))  # pure sine vs bright sawtooth-like
    wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in harmonics if k * f0 < 8000)
    return (rng.uniform(0.1, 0.8) * wave / np.abs(wave).max()).astype(np.float32)


def test_classifier_learns_two_timbres():
    rng = np.random.default_rng(0)
    pitches = rng.integers(40, 80, 48)
    kinds = np.arange(48) % 2
    audio = torch.from_numpy(np.stack([_timbre(int(p), int(k), rng) for p, k in zip(pitches, kinds, strict=True)]))
    features, labels = log_mel(audio), torch.from_numpy(kinds * 7)  # family indices 0 and 7
    settings = ClassifierSettings(width=8, epochs=6, batch_size=8, lr=5e-3)
    torch.manual_seed(0)
    model = train_classifier(features[:32], labels[:32], features[32:], labels[32:], settings)
    assert model.classes == [0, 7]
    assert model.heldout_accuracy >= 0.9
    predicted = model.predict(audio[32:])  # waveform in, dataset family indices out
    assert float((predicted == labels[32:]).float().mean()) == pytest.approx(model.heldout_accuracy)


def test_spec_overrides_are_validated_in_one_line():
    spec = parse_spec(["seeds=5", "classifier.epochs=2"], quick=True)
    assert spec.seeds == 5 and spec.classifier.epochs == 2 and spec.reconstruction_notes == 24
    from specinpaint.core.errors import ConfigError

    with pytest.raises(ConfigError, match="evaluation setting sedes: unknown setting"):
        parse_spec(["sedes=5"])
    with pytest.raises(ConfigError, match="evaluation setting seeds"):
        parse_spec(["seeds=0"])


def test_label_gain_settings_null_exactly_the_labels_they_name():
    from specinpaint.core.conditioning import NULL_LABEL, Conditioning
    from specinpaint.studies.priors import nulled

    labels = Conditioning(pitch=torch.tensor([60, 72]), family=torch.tensor([0, 3]))
    assert nulled(labels, "nll") is labels
    no_pitch = nulled(labels, "nll_no_pitch")
    assert no_pitch.pitch.tolist() == [NULL_LABEL] * 2 and no_pitch.family.tolist() == [0, 3]
    none = nulled(labels, "nll_no_labels")
    assert none.pitch.tolist() == none.family.tolist() == [NULL_LABEL] * 2
    assert labels.pitch.tolist() == [60, 72]  # the evaluated labels are not modified in place
