"""Round-trip quality of the four Mel-IF variants × three inverses (and the lossless stft-if) on
SoundFont-rendered notes (synthetic harmonic notes when no SoundFont is available).

Variants (the ablation's four combinations): ``gansynth`` (700 Hz, no threshold), ``threshold`` (700 Hz
+ log(2e-6) threshold), ``compression`` (275 Hz, no threshold), ``paper`` (275 Hz + threshold).
``extra_info`` per benchmark: mean and per-note spectral convergence (``sc``), log-spectral distance
in dB (``lsd_db``) and multi-resolution STFT distance (``mrstft``), the ``metrics`` registry plugins,
plus the decode time; the benchmark itself times the decode. The Griffin-Lim inverse must beat
magenta's pseudo-inverse on every note."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fakes.notes import note_batch
from specinpaint.core.registry import registry
from specinpaint.representations.mel_if import MelIF
from specinpaint.representations.params import PAPER_PHASE_THRESHOLD
from specinpaint.representations.stft_if import StftIF

VARIANTS = {
    "gansynth": {"mel_break_frequency_hz": 700.0, "phase_threshold": None},
    "threshold": {"mel_break_frequency_hz": 700.0, "phase_threshold": PAPER_PHASE_THRESHOLD},
    "compression": {"mel_break_frequency_hz": 275.0, "phase_threshold": None},
    "paper": {"mel_break_frequency_hz": 275.0, "phase_threshold": PAPER_PHASE_THRESHOLD},
}
INVERSES = ("pseudo", "nnls", "griffin-lim")
# (GM program, MIDI pitch): piano, guitar, bass, strings, brass, flute, organ, synth lead
NOTES = [(0, 60), (24, 52), (33, 36), (48, 67), (56, 58), (73, 79), (19, 48), (80, 84)]


def rendered_notes(count: int, num_samples: int) -> tuple[torch.Tensor, str]:
    """SoundFont notes peak-normalised to 0.5, or synthetic ones; returns (audio, source)."""
    chosen = NOTES[:count]
    try:
        from specinpaint.data.soundfont_synth import SoundFontSynth, default_soundfont

        synth = SoundFontSynth(default_soundfont())
        audio = []
        for program, pitch in chosen:
            note = synth.render(program, pitch, 100, num_samples, int(0.75 * num_samples))
            audio.append(0.5 * note / max(float(np.abs(note).max()), 1e-6))
        return torch.from_numpy(np.stack(audio)).float(), "soundfont"
    except Exception:  # no SoundFont / tinysoundfont: fall back to the deterministic synthetic notes
        return note_batch([p for _, p in chosen], num_samples=num_samples), "synthetic"


@pytest.fixture(scope="module")
def notes(pick_size):
    count = pick_size(tiny=2, small=8, full=8)
    num_samples = pick_size(tiny=16000, small=64000, full=64000)
    return rendered_notes(count, num_samples)


COLUMNS = {"sc": "spectral-convergence", "lsd_db": "log-spectral-distance", "mrstft": "mrstft"}


def metrics(reference: torch.Tensor, estimate: torch.Tensor) -> dict[str, list[float]]:
    return {column: registry("metrics").build(name, {})(reference, estimate).tolist()
            for column, name in COLUMNS.items()}


def record(benchmark, values: dict[str, list[float]], **extra) -> None:
    for key, per_note in values.items():
        benchmark.extra_info[key] = float(np.mean(per_note))
        benchmark.extra_info[f"{key}_per_note"] = per_note
    benchmark.extra_info.update(extra)


_RESULTS: dict[tuple[str, str], list[float]] = {}


@pytest.mark.parametrize("inverse", INVERSES)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_mel_if_round_trip_quality(benchmark, notes, variant, inverse, bench_device):
    audio, source = notes
    rep = MelIF(MelIF.Params(inverse=inverse, **VARIANTS[variant])).to(bench_device)
    batch = audio.to(bench_device)
    spec = rep.encode(batch)
    with torch.no_grad():
        decoded = benchmark.pedantic(lambda: rep.decode(spec, audio.shape[-1]), rounds=1, iterations=1)
    values = metrics(audio, decoded.cpu())
    record(benchmark, values, variant=variant, inverse=inverse, source=source, notes=audio.shape[0])
    _RESULTS[(variant, inverse)] = values["sc"]
    if inverse == "griffin-lim" and (variant, "pseudo") in _RESULTS:
        pseudo = _RESULTS[(variant, "pseudo")]
        assert all(g < p for g, p in zip(values["sc"], pseudo, strict=True)), (values["sc"], pseudo)
        benchmark.extra_info["sc_reduction_vs_pseudo"] = float(np.mean(pseudo) / np.mean(values["sc"]))


def test_stft_if_round_trip_quality(benchmark, notes, bench_device):
    audio, source = notes
    rep = StftIF(StftIF.Params()).to(bench_device)
    spec = rep.encode(audio.to(bench_device))
    with torch.no_grad():
        decoded = benchmark.pedantic(lambda: rep.decode(spec, audio.shape[-1]), rounds=1, iterations=1)
    values = metrics(audio, decoded.cpu())
    record(benchmark, values, variant="stft-if", inverse="exact", source=source, notes=audio.shape[0])
    assert max(values["sc"]) < 1e-2  # exact except the last ~n_fft/16 samples (floored window envelope)
