"""A tiny synthetic NSynth-format dataset (harmonic tones) for tests and examples.

Unlike the SoundFont renderer it needs nothing but soundfile, and every note is a known function of
its metadata (fundamental = MIDI pitch, amplitude = velocity / 127), so tests can check what they
load. The layout and JSON fields are exactly NSynth's (`nsynth_format.make_record`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from specinpaint.core.conditioning import NSYNTH_FAMILIES, NSYNTH_SOURCES
from specinpaint.data.nsynth_format import AUDIO_DIR, EXAMPLES_FILE, NUM_SAMPLES, SAMPLE_RATE, make_record


def tone(pitch: int, velocity: int, num_samples: int = NUM_SAMPLES, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Three-harmonic tone at the MIDI pitch with a 3 s sustain and a short release, peak <= velocity/127."""
    t = np.arange(num_samples) / sample_rate
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in (1, 2, 3) if k * f0 < sample_rate / 2)
    envelope = np.clip(np.minimum(t / 0.01, 1.0) * np.where(t < 3.0, 1.0, np.exp(-(t - 3.0) * 8)), 0, 1)
    audio = wave * envelope
    return (0.5 * velocity / 127 * audio / max(np.abs(audio).max(), 1e-9)).astype(np.float32)


def default_notes() -> list[tuple[str, int, int, int, int]]:
    """(split, family, source, pitch, velocity) for a small grid covering every filter's cases."""
    notes = []
    grid = [(0, 0), (3, 0), (3, 1), (9, 2), (4, 1)]  # (family, source): bass/guitar/guitar-e/synth/keys
    for split, pitches in (("train", (21, 24, 48, 60, 84, 90)), ("valid", (36, 60)), ("test", (48,))):
        for family, source in grid:
            for pitch in pitches:
                for velocity in (25, 100, 127):
                    notes.append((split, family, source, pitch, velocity))
    return notes


def write_fake_nsynth(
    root: str | Path, notes: Iterable[tuple[str, int, int, int, int]] | None = None,
    num_samples: int = NUM_SAMPLES,
) -> Path:
    """Write notes ``(split, family, source, pitch, velocity)`` in the NSynth layout under ``root``.

    One instrument per (family, source, split) so instrument ids differ across splits as in NSynth."""
    import soundfile as sf

    root = Path(root)
    examples: dict[str, dict] = {}
    instruments: dict[tuple[int, int, str], tuple[int, str]] = {}
    cache: dict[tuple[int, int], np.ndarray] = {}
    for i, (split, family, source, pitch, velocity) in enumerate(notes or default_notes()):
        key = (family, source, split)
        if key not in instruments:
            number = sum(1 for f, s, _ in instruments if (f, s) == (family, source))
            name = f"{NSYNTH_FAMILIES[family]}_{NSYNTH_SOURCES[source]}_{number:03d}"
            instruments[key] = (len(instruments), name)
        inst, name = instruments[key]
        record = make_record(note=i, instrument=inst, instrument_str=name, pitch=pitch, velocity=velocity,
                             family=family, source=source, qualities=[0] * 10)
        audio_dir = root / split / AUDIO_DIR
        audio_dir.mkdir(parents=True, exist_ok=True)
        if (pitch, velocity) not in cache:
            cache[(pitch, velocity)] = tone(pitch, velocity, num_samples)
        sf.write(str(audio_dir / f"{record['note_str']}.wav"), cache[(pitch, velocity)], SAMPLE_RATE,
                 subtype="PCM_16", format="WAV")
        examples.setdefault(split, {})[record["note_str"]] = record
    for split, entries in examples.items():
        (root / split / EXAMPLES_FILE).write_text(json.dumps(entries, indent=1))
    return root
