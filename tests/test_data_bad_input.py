"""Bad NSynth data: every case fails at construction with the file named, or is skipped and counted."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from torch.utils.data import DataLoader

from fakes.nsynth import write_fake_nsynth
from specinpaint.core.errors import DataError
from specinpaint.data.nsynth import NSynthDataset

NOTES = [("train", 3, 0, p, 100) for p in (40, 50, 60, 70)] + [("valid", 3, 0, 60, 25)]
VICTIM = "guitar_acoustic_000-060-100"


@pytest.fixture
def root(tmp_path):
    return write_fake_nsynth(tmp_path / "ds", NOTES)


def build(root, **params) -> NSynthDataset:
    return NSynthDataset(NSynthDataset.Params(root=str(root), split="train", split_scheme="official", **params))


def wav(root, name=VICTIM):
    return root / "train" / "audio" / f"{name}.wav"


def edit_json(root, change) -> None:
    path = root / "train" / "examples.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def damage_missing(root):
    wav(root).unlink()


def damage_corrupt(root):
    wav(root).write_bytes(b"RIFF\x00\x00\x00\x00not really a wave file" * 10)


def damage_rate(root):
    sf.write(str(wav(root)), np.zeros(64000, np.float32), 22050, subtype="PCM_16")


def damage_length(root):
    sf.write(str(wav(root)), np.zeros(32000, np.float32), 16000, subtype="PCM_16")


def damage_stereo(root):
    sf.write(str(wav(root)), np.zeros((64000, 2), np.float32), 16000, subtype="PCM_16")


AUDIO_CASES = {
    "missing": (damage_missing, "audio file is missing"),
    "corrupt": (damage_corrupt, "cannot read audio"),
    "sample_rate": (damage_rate, "sample rate 22050 Hz, expected 16000"),
    "length": (damage_length, "32000 samples, expected 64000"),
    "stereo": (damage_stereo, "2 channels"),
}


@pytest.mark.parametrize("case", sorted(AUDIO_CASES))
@pytest.mark.parametrize("mode", ["header", "full"])
def test_bad_audio_fails_at_construction_naming_the_file(root, case, mode):
    damage, message = AUDIO_CASES[case]
    damage(root)
    with pytest.raises(DataError, match=message) as info:
        build(root, validate_files=mode)
    assert f"{VICTIM}.wav" in str(info.value)


@pytest.mark.parametrize("case", sorted(AUDIO_CASES))
def test_bad_audio_is_skipped_and_counted(root, case):
    AUDIO_CASES[case][0](root)
    ds = build(root, on_bad_file="skip")
    assert len(ds) == 3 and VICTIM not in ds.note_names
    summary = ds.summary()
    assert summary["skipped"] == {"metadata": 0, "audio": 1, "total": 1}
    assert VICTIM in summary["skipped_examples"][0]
    for i in range(len(ds)):  # every kept note loads
        assert ds[i]["audio"].shape == (64000,)


def test_exists_mode_catches_missing_but_not_content(root):
    damage_length(root)
    ds = build(root, validate_files="exists")  # only presence is checked
    index = ds.note_names.index(VICTIM)
    with pytest.raises(DataError, match=f"{VICTIM}.wav: 32000 samples"):
        ds[index]
    damage_missing(root)
    with pytest.raises(DataError, match="audio file is missing"):
        build(root, validate_files="exists")


def test_truncated_data_is_caught_by_full_validation(root):
    data = wav(root).read_bytes()
    wav(root).write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=VICTIM):
        build(root, validate_files="full")


def test_unvalidated_read_error_in_a_worker_names_the_file(root):
    ds = build(root, validate_files="none")
    damage_missing(root)
    loader = DataLoader(ds, batch_size=4, num_workers=1)
    batches = iter(loader)
    with pytest.raises(DataError, match=f"{VICTIM}.wav: audio file is missing"):
        next(batches)
    getattr(batches, "_shutdown_workers", lambda: None)()  # else its garbage collection waits 5 s


METADATA_CASES = {
    "missing_field": (lambda d: d[VICTIM].pop("pitch"), "missing field\\(s\\) pitch"),
    "wrong_type": (lambda d: d[VICTIM].update(pitch="60"), "'pitch' must be an integer"),
    "bad_family": (lambda d: d[VICTIM].update(instrument_family=11), "instrument_family"),
    "family_str_mismatch": (lambda d: d[VICTIM].update(instrument_family_str="flute"), "disagrees"),
    "note_str_mismatch": (lambda d: d[VICTIM].update(note_str="guitar_acoustic_000-061-100"), "differs"),
    "qualities": (lambda d: d[VICTIM].update(qualities=[0, 1]), "qualities"),
    "not_object": (lambda d: d.update({VICTIM: [1, 2]}), "JSON object"),
}


@pytest.mark.parametrize("case", sorted(METADATA_CASES))
def test_bad_metadata_fails_naming_file_and_note(root, case):
    change, message = METADATA_CASES[case]
    edit_json(root, change)
    with pytest.raises(DataError, match=message) as info:
        build(root)
    assert "train/examples.json" in str(info.value) and VICTIM in str(info.value)
    ds = build(root, on_bad_file="skip")
    assert VICTIM not in ds.note_names and ds.summary()["skipped"]["metadata"] == 1


def test_unparseable_json(root):
    (root / "train" / "examples.json").write_text("{not json")
    with pytest.raises(DataError, match="train/examples.json: cannot parse JSON"):
        build(root)
    (root / "train" / "examples.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="must be a JSON object"):
        build(root)


def test_note_in_two_splits(root):
    valid = json.loads((root / "valid" / "examples.json").read_text())
    edit_json(root, lambda d: d.update(valid))
    with pytest.raises(DataError, match="also appears in split"):
        build(root)


def test_missing_root_and_empty_root(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        build(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no split directory"):
        build(tmp_path / "empty")


def test_float_wav_with_nan_is_rejected_in_full_mode(root):
    audio = np.zeros(64000, np.float32)
    audio[100] = np.nan
    sf.write(str(wav(root)), audio, 16000, subtype="FLOAT")
    with pytest.raises(DataError, match="NaN"):
        build(root, validate_files="full")
