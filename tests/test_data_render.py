"""SoundFont renderer: NSynth layout and fields, 64000-sample 16 kHz mono 16-bit notes at the requested
pitch, the GM family table, rejection of silent/clipped notes, determinism, the render cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from specinpaint.core.conditioning import NSYNTH_FAMILIES, NSYNTH_SOURCES
from specinpaint.core.errors import DataError
from specinpaint.data import gm_programs, render_cache, renderer
from specinpaint.data.nsynth import NSynthDataset
from specinpaint.data.nsynth_format import QUALITIES, parse_note_name
from specinpaint.data.render_cache import ensure_rendered
from specinpaint.data.render_spec import RenderSpec
from specinpaint.data.renderer import REPORT_FILE, render_dataset
from specinpaint.data.soundfont_synth import DEBIAN_FLUIDR3, default_soundfont

pytest.importorskip("tinysoundfont")

FIELDS = {
    "note", "note_str", "instrument", "instrument_str", "pitch", "velocity", "sample_rate", "qualities",
    "qualities_str", "instrument_family", "instrument_family_str", "instrument_source", "instrument_source_str",
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return ensure_rendered(RenderSpec.tiny(), tmp_path_factory.mktemp("render-cache"))


def all_examples(root: Path) -> dict[str, tuple[str, dict]]:
    out = {}
    for split in ("train", "valid", "test"):
        for name, entry in json.loads((root / split / "examples.json").read_text()).items():
            out[name] = (split, entry)
    return out


def test_family_table_covers_all_families_and_excludes_drums():
    families = {p.family_str for p in gm_programs.GM_TO_NSYNTH.values()}
    assert families == set(NSYNTH_FAMILIES)
    for family in NSYNTH_FAMILIES:
        assert gm_programs.programs_for(family), family
    assert len(gm_programs.GM_NAMES) == 128
    # percussion, effects, and patches that do not sound at the key played
    for program in (31, 47, 55, 78, 86, 112, 113, 115, 116, 117, 118, 119, *range(120, 128)):
        assert program not in gm_programs.GM_TO_NSYNTH
    assert gm_programs.lookup(24).family_str == "guitar" and gm_programs.lookup(24).source_str == "acoustic"
    assert gm_programs.lookup(38).source_str == "synthetic" and gm_programs.lookup(4).source_str == "electronic"
    assert gm_programs.lookup(67).natural_range == (36, 69)  # baritone sax: per-program register
    assert gm_programs.lookup(0).natural_range == gm_programs.NATURAL_RANGES["keyboard"]
    with pytest.raises(DataError, match="no NSynth family"):
        gm_programs.lookup(118)


def test_layout_fields_and_audio_format(tiny):
    report = json.loads((tiny / REPORT_FILE).read_text())
    examples = all_examples(tiny)
    assert report["notes_written"] == len(examples) >= 40
    assert {entry["instrument_family_str"] for _, entry in examples.values()} == set(NSYNTH_FAMILIES)
    ids = sorted(entry["note"] for _, entry in examples.values())
    assert ids == list(range(len(examples)))
    for name, (split, entry) in examples.items():
        assert set(entry) == FIELDS
        instrument_str, pitch, velocity = parse_note_name(name)
        assert entry["note_str"] == name and entry["instrument_str"] == instrument_str
        assert (entry["pitch"], entry["velocity"]) == (pitch, velocity)
        assert velocity in (25, 50, 75, 100, 127) and 24 <= pitch <= 84
        assert entry["instrument_family_str"] == NSYNTH_FAMILIES[entry["instrument_family"]]
        assert entry["instrument_source_str"] == NSYNTH_SOURCES[entry["instrument_source"]]
        assert instrument_str.startswith(f"{entry['instrument_family_str']}_{entry['instrument_source_str']}_")
        assert entry["sample_rate"] == 16000 and len(entry["qualities"]) == len(QUALITIES)
        assert entry["qualities_str"] == [q for q, bit in zip(QUALITIES, entry["qualities"], strict=True) if bit]
        info = sf.info(str(tiny / split / "audio" / f"{name}.wav"))
        assert (info.samplerate, info.channels, info.frames, info.subtype, info.format) == (
            16000, 1, 64000, "PCM_16", "WAV")
    assert sorted(p.stem for s in ("train", "valid", "test") for p in (tiny / s / "audio").glob("*.wav")) == sorted(
        examples)


def test_notes_are_audible_and_stop_after_note_off(tiny):
    for name, (split, _) in list(all_examples(tiny).items())[::3]:
        audio, _ = sf.read(str(tiny / split / "audio" / f"{name}.wav"), dtype="float32")
        peak = np.abs(audio).max()
        assert 1e-3 < peak <= 1.0, name
        assert np.abs(audio[:4000]).max() > 0.1 * peak, f"{name}: nothing in the first 0.25 s"


def test_rendered_notes_carry_the_requested_pitch(tiny):
    from specinpaint.metrics.pitch import PitchAccuracy

    ds = NSynthDataset(NSynthDataset.Params(root=str(tiny), split="train", split_scheme="official"))
    # one note per family, mid register (where every family plays): pYIN within +-0.5 semitone
    picks = {}
    for i in range(len(ds)):
        record = ds.record(i)
        if 48 <= record.pitch <= 72:
            picks.setdefault(record.family, i)
    assert len(picks) >= 9
    batch = torch.stack([ds[i]["audio"] for i in picks.values()])
    target = torch.tensor([ds.record(i).pitch for i in picks.values()])
    result = PitchAccuracy()(batch, target)
    # every note is at its pitch class (octave ambiguity of pYIN on odd-harmonic timbres allowed) ...
    assert bool((result["correct"] | result["octave_error"]).all()), (target, result["midi"])
    # ... and nearly all at the exact pitch
    assert float(result["accuracy"]) >= 0.85


def test_render_is_deterministic_and_independent_of_workers(tmp_path, monkeypatch):
    spec = RenderSpec.tiny(families=["guitar", "organ", "vocal"], pitch_step=6)
    a = render_dataset(tmp_path / "a", spec, workers=1)
    monkeypatch.setattr(renderer, "IN_PROCESS_BELOW", 0)  # force the worker pool
    b = render_dataset(tmp_path / "b", spec, workers=2)
    assert json.loads((b / REPORT_FILE).read_text())["workers"] == 2
    for split in ("train", "valid", "test"):
        assert (a / split / "examples.json").read_bytes() == (b / split / "examples.json").read_bytes()
        files = sorted(p.name for p in (a / split / "audio").iterdir())
        assert files == sorted(p.name for p in (b / split / "audio").iterdir())
        for name in files:
            assert (a / split / "audio" / name).read_bytes() == (b / split / "audio" / name).read_bytes()


def test_spec_selection_counts(tmp_path):
    spec = RenderSpec(programs=[24, 73], pitch_min=60, pitch_max=64, velocities=[50, 127], velocities_per_pitch=None,
                      splits={"train": 1.0})
    out = render_dataset(tmp_path / "sel", spec, workers=1)
    names = sorted(json.loads((out / "train" / "examples.json").read_text()))
    # 2 programs x 5 pitches x 2 velocities, both within their natural ranges
    assert len(names) == 20
    assert {parse_note_name(n)[0] for n in names} == {"flute_acoustic_000", "guitar_acoustic_000"}
    report = json.loads((out / REPORT_FILE).read_text())
    assert [i["program"] for i in report["instruments"]] == [73, 24]  # flute (2) sorts before guitar (3)


def test_silent_and_clipped_notes_are_rejected_and_counted(tmp_path):
    base = {"programs": [0], "pitch_min": 48, "pitch_max": 72, "pitch_step": 12, "velocities_per_pitch": None,
            "splits": {"train": 1.0}}
    # full-scale calibration: the loudest (velocity 127) notes exceed full scale -> rejected as clipped
    loud = render_dataset(tmp_path / "loud", RenderSpec(**base, target_peak_db=0.0), workers=1)
    report = json.loads((loud / REPORT_FILE).read_text())
    assert report["rejected"]["clipped"] >= 1
    written = json.loads((loud / "train" / "examples.json").read_text())
    for rejected in report["rejected_notes"]:
        assert rejected["note_str"] not in written
        assert not (loud / "train" / "audio" / f"{rejected['note_str']}.wav").exists()
    assert report["notes_written"] + len(report["rejected_notes"]) == report["notes_planned"] == 15
    # a silence threshold above every note's peak rejects the quiet ones as silent
    quiet = render_dataset(tmp_path / "quiet", RenderSpec(**base, silence_db=-9.0), workers=1)
    report = json.loads((quiet / REPORT_FILE).read_text())
    assert report["rejected"]["silent"] >= 3  # at least the velocity-25 notes
    assert all(r["peak"] < 10 ** (-9 / 20) for r in report["rejected_notes"])


def test_out_dir_is_protected(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("precious")
    with pytest.raises(DataError, match="refusing to overwrite"):
        render_dataset(tmp_path / "mine", RenderSpec.tiny(families=["organ"]))
    assert (tmp_path / "mine" / "thesis.txt").read_text() == "precious"
    out = render_dataset(tmp_path / "r", RenderSpec.tiny(families=["organ"]))
    with pytest.raises(DataError, match="already holds a render"):
        render_dataset(out, RenderSpec.tiny(families=["organ"]))
    render_dataset(out, RenderSpec.tiny(families=["bass"]), overwrite=True)
    assert {e["instrument_family_str"] for _, e in all_examples(out).values()} == {"bass"}


def test_ensure_rendered_reuses_and_is_atomic(tmp_path, monkeypatch):
    spec = RenderSpec.tiny(families=["mallet"])
    first = ensure_rendered(spec, tmp_path)
    stamp = (first / REPORT_FILE).stat().st_mtime_ns
    assert ensure_rendered(spec.model_dump(), tmp_path) == first  # dict specs work too
    assert (first / REPORT_FILE).stat().st_mtime_ns == stamp  # not rendered again
    assert ensure_rendered(RenderSpec.tiny(families=["mallet"], seed=1), tmp_path) != first

    def interrupted(target, *args, **kwargs):
        (target / "train").mkdir()
        (target / "train" / "examples.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(render_cache, "render_into", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ensure_rendered(RenderSpec.tiny(families=["flute"]), tmp_path)
    # nothing half-written is left under a final name, and no temp dir lingers
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.name, ensure_rendered(
        RenderSpec.tiny(families=["mallet"], seed=1), tmp_path).name])


def test_render_spec_validation():
    with pytest.raises(ValueError, match="families"):
        RenderSpec(families=["drums"])
    with pytest.raises(ValueError, match="no NSynth family"):
        RenderSpec(programs=[120])
    with pytest.raises(ValueError, match="pitch_min"):
        RenderSpec(pitch_min=80, pitch_max=60)
    with pytest.raises(ValueError, match="split names"):
        RenderSpec(splits={"../evil": 1.0})
    with pytest.raises(ValueError, match="extra"):
        RenderSpec(colour="blue")


def test_bad_soundfont_files(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        render_dataset(tmp_path / "x", RenderSpec.tiny(), tmp_path / "missing.sf2")
    bogus = tmp_path / "bogus.sf2"
    bogus.write_bytes(b"not a soundfont" * 100)
    with pytest.raises(DataError, match="not a readable SoundFont"):
        render_dataset(tmp_path / "x", RenderSpec.tiny(), bogus)
    assert not (tmp_path / "x").exists()


def test_default_soundfont_is_the_pretty_midi_one():
    path = default_soundfont()
    assert path.name == "TimGM6mb.sf2" and path.stat().st_size > 1_000_000


@pytest.mark.skipif(not DEBIAN_FLUIDR3.is_file(), reason="Debian fluid-soundfont-gm not installed")
def test_debian_fluidr3_soundfont_works(tmp_path):
    spec = RenderSpec.tiny(families=["string", "brass"], splits={"train": 1.0})
    out = render_dataset(tmp_path / "fluid", spec, DEBIAN_FLUIDR3, workers=1)
    report = json.loads((out / REPORT_FILE).read_text())
    assert report["soundfonts"][0]["path"] == str(DEBIAN_FLUIDR3)
    assert report["notes_written"] >= 6
    assert {i["instrument_str"].split("_")[0] for i in report["instruments"]} == {"string", "brass"}
