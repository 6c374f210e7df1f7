"""The evaluation measures through the ``metrics`` registry: on fixed notes the plugins give the
numbers the former function path gave (recorded from specinpaint 40f9665's ``spectral_convergence``,
``log_spectral_distance``, ``multi_resolution_stft_distance``, ``snr``, ``estimate_midi``/
``score_pitch`` and ``silent_cells``/``code_entropy_bits``), and a metric registered by a third party
is reached by the reconstruction evaluation like the built-in ones."""

from __future__ import annotations

import math
from unittest import mock

import pytest
import torch

from fakes.spine import GridRep, fake_config
from specinpaint.core import Pipeline, load_config
from specinpaint.core.registry import registry
from specinpaint.studies import reconstruction
from specinpaint.studies.context import EvaluationContext
from specinpaint.studies.evaluation_spec import EvaluationSpec

metrics = registry("metrics")

#: Per note, from the function path on `notes()`.
SPECTRAL = {
    "spectral-convergence": [0.20546209812164307, 0.22988784313201904],
    "log-spectral-distance": [35.22941970825195, 47.09491729736328],
    "mrstft": [3.950640916824341, 7.741857051849365],
    "snr": [13.607450485229492, 12.216939926147461],
}
SILENT_ROWS = [  # silent_cells(reference, GridRep(), (4, 6), 19200): [note][row] → silent columns
    [[], [3, 4, 5], [3, 4, 5], [3, 4, 5]],
    [[4, 5], [3, 4, 5], [3, 4, 5], [3, 4, 5]],
]


def notes() -> tuple[torch.Tensor, torch.Tensor]:
    """1.2 s at 16 kHz: A3 with faint noise that stops at 0.6 s, and C5 that stops at 0.6 s (silence
    after); the estimate is both tones at 0.8× with other noise."""
    generator = torch.Generator().manual_seed(13)
    t = torch.arange(19200, dtype=torch.float32) / 16000
    tones = torch.stack([0.5 * torch.sin(2 * math.pi * 220.0 * t), 0.3 * torch.sin(2 * math.pi * 523.25 * t) * (t < 0.6)])
    reference = tones + 0.01 * torch.randn(2, 19200, generator=generator) * (t < 0.6)
    estimate = 0.8 * tones + 0.02 * torch.randn(2, 19200, generator=generator)
    return reference, estimate


@pytest.mark.parametrize("name", sorted(SPECTRAL))
def test_spectral_plugins_give_the_numbers_of_the_function_path(name):
    reference, estimate = notes()
    # rel 1e-4: the recorded numbers move by ~1e-5 between CPUs (float summation order)
    assert metrics.build(name, {})(reference, estimate).tolist() == pytest.approx(SPECTRAL[name], rel=1e-4)


def test_pitch_plugin_gives_the_numbers_of_the_function_path():
    _, estimate = notes()
    metric = metrics.build("pitch-accuracy", {"sample_rate": 16000, "tolerance": 0.5})
    midi = metric.estimate(estimate)
    assert midi.tolist() == pytest.approx([57.0, 72.0], abs=1e-9)
    scored = metric.score(midi, torch.tensor([57, 60]))  # the second note is an octave high
    assert float(scored["accuracy"]) == 0.5 and float(scored["octave_error_rate"]) == 0.5
    assert scored["correct"].tolist() == [True, False] and scored["octave_error"].tolist() == [False, True]


def test_silent_code_entropy_plugin_gives_the_numbers_of_the_function_path():
    reference, _ = notes()
    metric = metrics.build("silent-code-entropy", {"silence_db": -60.0, "n_fft": 2048, "hop": 512})
    silent = metric.silent_cells(reference, GridRep(), (4, 6), 19200)
    assert [[torch.nonzero(row).flatten().tolist() for row in note] for note in silent] == SILENT_ROWS
    codes = (torch.arange(2 * 4 * 6).reshape(2, 4, 6) * 7) % 5
    entropy, distinct, cells = metric(codes, silent)
    assert (distinct, cells) == (5, 20) and entropy == pytest.approx(2.2854752972273342, rel=1e-12)
    assert metric(codes) == pytest.approx((2.3200355658756875, 5, 48), rel=1e-12)


class HalfSpectralConvergence:
    """A third party's metric: half the built-in spectral convergence."""

    description = "half the spectral convergence (test plugin)"
    higher_is_better = False
    Params = registry("metrics").params_model("spectral-convergence")

    def __init__(self, params) -> None:
        self.inner = metrics.build("spectral-convergence", params)

    def __call__(self, reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        return 0.5 * self.inner(reference, estimate)


def test_the_reconstruction_evaluation_reaches_a_third_party_metric(fake_plugins):
    num_samples = 4096  # long enough for pYIN's analysis window
    config = load_config(fake_config(num_samples=num_samples, priors={},
                                     data={"dataset": {"name": "test-sines", "params": {"num_samples": num_samples}}}))
    pipeline = Pipeline(config)
    dataset = registry("datasets").build("test-sines", {"num_samples": num_samples, "count": 4})
    spec = EvaluationSpec(reconstruction_notes=4, roundtrip=False, batch_size=2, device="cpu")
    columns = {**reconstruction.DISTANCES, "half_sc": "test-half-sc"}
    with metrics.register("test-half-sc", HalfSpectralConvergence), \
            mock.patch.object(reconstruction, "DISTANCES", columns):
        out = reconstruction.evaluate_reconstruction(EvaluationContext(pipeline, dataset, spec))
    m = out["metrics"]
    assert m["half_sc"] == pytest.approx(0.5 * m["sc"], rel=1e-6) and m["sc"] > 0
    assert {"lsd_db", "mrstft", "top_silent_entropy_bits", "pitch_accuracy"} <= set(m)
