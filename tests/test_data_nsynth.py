"""NSynth loader: items, collation, every filter, splits (official and paper), label encoders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, default_collate

from fakes.nsynth import default_notes, write_fake_nsynth
from specinpaint.core.conditioning import NSYNTH_FAMILIES, NSYNTH_SOURCES
from specinpaint.core.errors import DataError, PluginError
from specinpaint.core.registry import registry
from specinpaint.data.labels import LabelEncoders
from specinpaint.data.nsynth import NSynthDataset, format_summary
from specinpaint.data.nsynth_format import QUALITIES, parse_note_name
from specinpaint.data.splits import paper_split, read_split

NOTES = default_notes()


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_fake_nsynth(tmp_path_factory.mktemp("nsynth"))


def build(root, **params) -> NSynthDataset:
    params.setdefault("split_scheme", "official")
    return registry("datasets").build("nsynth", {"root": str(root), **params})


def expected(split: str, lo=24, hi=84, families=None, sources=None, velocities=None) -> int:
    return sum(
        1 for s, f, src, p, v in NOTES
        if s == split and lo <= p <= hi and (families is None or NSYNTH_FAMILIES[f] in families)
        and (sources is None or NSYNTH_SOURCES[src] in sources) and (velocities is None or v in velocities)
    )


def test_item_matches_metadata_and_audio(root):
    ds = build(root, split="train")
    assert len(ds) == expected("train")
    item = ds[0]
    assert set(item) >= {"audio", "pitch", "family", "source", "velocity", "note_str", "instrument", "qualities"}
    assert item["audio"].dtype == torch.float32 and item["audio"].shape == (64000,)
    instrument_str, pitch, velocity = parse_note_name(item["note_str"])
    assert (item["pitch"], item["velocity"]) == (pitch, velocity)
    assert NSYNTH_FAMILIES[item["family"]] == instrument_str.split("_")[0]
    assert item["qualities"].shape == (len(QUALITIES),)
    # the fake tone's peak is 0.5 * velocity / 127 (16-bit quantised)
    assert float(item["audio"].abs().max()) == pytest.approx(0.5 * velocity / 127, abs=2e-4)
    # the fundamental sits at the MIDI pitch
    spectrum = np.abs(np.fft.rfft(item["audio"][:16000].numpy()))
    assert np.argmax(spectrum) == pytest.approx(440 * 2 ** ((pitch - 69) / 12), abs=1.0)


def test_default_collate_and_dataloader_workers(root):
    ds = build(root, split="valid")
    batch = default_collate([ds[i] for i in range(4)])
    assert batch["audio"].shape == (4, 64000)
    assert batch["pitch"].dtype == torch.long and batch["family"].shape == (4,)
    assert isinstance(batch["note_str"], list) and len(batch["note_str"]) == 4
    loader = DataLoader(ds, batch_size=5, num_workers=1, shuffle=False)
    names = [n for b in loader for n in b["note_str"]]
    assert names == ds.note_names


def test_num_samples_crops_returned_audio(root):
    ds = build(root, split="valid", num_samples=16000)
    assert ds[0]["audio"].shape == (16000,)
    assert build(root, split="valid", num_samples=70000)[0]["audio"][64000:].abs().max() == 0


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"pitch_min": 21, "pitch_max": 90},
        {"pitch_min": 40, "pitch_max": 60},
        {"families": ["guitar"]},
        {"families": ["bass", "synth_lead"]},
        {"sources": ["acoustic"]},
        {"sources": ["electronic", "synthetic"]},
        {"velocities": [127]},
        {"families": ["guitar"], "sources": ["electronic"], "velocities": [25, 100]},
    ],
)
def test_filters_keep_exactly_matching_notes(root, filters):
    ds = build(root, split="train", **filters)
    lo, hi = filters.get("pitch_min", 24), filters.get("pitch_max", 84)
    assert len(ds) == expected("train", lo, hi, filters.get("families"), filters.get("sources"),
                               filters.get("velocities"))
    for i in range(len(ds)):
        record = ds.record(i)
        assert lo <= record.pitch <= hi
        if "families" in filters:
            assert NSYNTH_FAMILIES[record.family] in filters["families"]
        if "sources" in filters:
            assert NSYNTH_SOURCES[record.source] in filters["sources"]
        if "velocities" in filters:
            assert record.velocity in filters["velocities"]


def test_default_pitch_range_is_24_to_84(root):
    ds = build(root, split="train")
    assert set(ds.pitches.tolist()) == {24, 48, 60, 84}
    assert ds.summary()["removed_by_filter"]["pitch"] == expected("train", 0, 127) - expected("train")


def test_summary_makes_the_source_filter_visible(root):
    ds = build(root, split="train", sources=["acoustic"])
    summary = ds.summary()
    assert summary["filters"]["sources"] == ["acoustic"]
    assert summary["filters"]["families"] == "all"
    assert summary["per_source"] == {"acoustic": len(ds)}
    assert summary["removed_by_filter"]["source"] > 0
    assert sum(summary["per_family"].values()) == summary["notes"] == len(ds)
    text = format_summary(summary)
    assert "sources: acoustic" in text and "SOURCES" not in text
    assert "acoustic" in repr(ds)


def test_unknown_filter_values_are_rejected():
    with pytest.raises(PluginError, match="families"):
        registry("datasets").validate("nsynth", {"families": ["banjo"]})
    with pytest.raises(PluginError, match="sources"):
        registry("datasets").validate("nsynth", {"sources": ["acoustc"]})
    with pytest.raises(PluginError, match="split_scheme"):
        registry("datasets").validate("nsynth", {"split_scheme": "random"})
    with pytest.raises(PluginError, match="sorces.*Extra"):
        registry("datasets").validate("nsynth", {"sorces": ["acoustic"]})


def test_filter_leaving_nothing_is_an_error(root):
    with pytest.raises(DataError, match="no notes left"):
        build(root, split="valid", velocities=[50])


def test_official_split_reads_its_directory(root):
    for split in ("train", "valid", "test"):
        assert len(build(root, split=split)) == expected(split)
    with pytest.raises(DataError, match="no split 'eval'"):
        build(root, split="eval")


def test_paper_split_is_reproducible_and_seeded(tmp_path):
    root = write_fake_nsynth(tmp_path / "ds")
    train = build(root, split="train", split_scheme="paper")
    valid = build(root, split="valid", split_scheme="paper")
    union = set(train.note_names) | set(valid.note_names)
    assert not set(train.note_names) & set(valid.note_names)
    assert len(union) == expected("train") + expected("valid")
    assert len(train.note_names) == int(0.8 * len(union))
    # written to disk as JSON lists of note names, and reused
    document = read_split(root / "splits" / "paper-seed20200117.json")
    assert sorted(document["splits"]["train"]) == train.note_names
    assert document["seed"] == 20200117
    # same seed -> same lists (recomputed from scratch), different seed -> different lists
    again = paper_split(union, 20200117)
    assert sorted(again["train"]) == train.note_names
    other = build(root, split="train", split_scheme="paper", split_seed=7)
    assert other.note_names != train.note_names and len(other) == len(train)
    assert (root / "splits" / "paper-seed7.json").is_file()
    # official test stays the test split under the paper scheme
    assert len(build(root, split="test", split_scheme="paper")) == expected("test")


def test_paper_split_matches_sklearn_train_test_split():
    sklearn = pytest.importorskip("sklearn.model_selection")
    names = [f"guitar_acoustic_{i:03d}-060-100" for i in range(137)]
    ours = paper_split(names, 20200117)
    train, valid = sklearn.train_test_split(sorted(names), train_size=0.8, random_state=20200117, shuffle=True)
    assert ours["train"] == list(train) and ours["valid"] == list(valid)


def test_splits_file_is_read_and_checked(tmp_path, root):
    custom = tmp_path / "my_split.json"
    train = build(root, split="train", split_scheme="paper", splits_file=str(custom), validate_files="none")
    assert custom.is_file() and train.splits_file == custom
    document = json.loads(custom.read_text())
    # move one note from train to valid: the loader must follow the file
    moved = document["splits"]["train"].pop()
    document["splits"]["valid"].append(moved)
    custom.write_text(json.dumps(document))
    valid = build(root, split="valid", split_scheme="paper", splits_file=str(custom), validate_files="none")
    assert moved in valid.note_names
    # a file naming notes of another dataset is refused
    document["splits"]["valid"].append("flute_acoustic_999-060-100")
    custom.write_text(json.dumps(document))
    with pytest.raises(DataError, match="absent from"):
        build(root, split="valid", split_scheme="paper", splits_file=str(custom))
    # a file missing notes of this dataset is refused
    document["splits"]["valid"] = document["splits"]["valid"][:-2]
    custom.write_text(json.dumps(document))
    with pytest.raises(DataError, match="in no split"):
        build(root, split="valid", split_scheme="paper", splits_file=str(custom))


def test_paper_scheme_refuses_pitches_outside_its_range(root):
    with pytest.raises(DataError, match="official"):
        build(root, split="train", split_scheme="paper", pitch_min=21)


def test_label_encoders_identical_across_splits_and_json_roundtrip(root):
    datasets = [build(root, split=s) for s in ("train", "valid", "test")]
    datasets.append(build(root, split="valid", split_scheme="paper"))
    first = datasets[0].labels
    for ds in datasets[1:]:
        assert ds.labels == first
        assert ds.labels.to_json() == first.to_json()
    # fitted over the whole dataset: valid alone only has pitches 36/60, the encoder knows all of them
    assert first["pitch"].classes == [24, 36, 48, 60, 84]
    assert first["instrument_family"].classes == list(NSYNTH_FAMILIES)
    assert first.instrument_family.encode("guitar") == NSYNTH_FAMILIES.index("guitar")
    assert first["pitch"].decode(first["pitch"].encode(60)) == 60
    restored = LabelEncoders.from_json(json.loads(json.dumps(first.to_json())))
    assert restored == first
    with pytest.raises(DataError, match="unknown value"):
        first["pitch"].encode(61)
    # filters change what the encoders see (they are fitted after filters)
    assert build(root, split="train", families=["guitar"]).labels["instrument_str"].classes == [
        "guitar_acoustic_000", "guitar_acoustic_001", "guitar_acoustic_002",
        "guitar_electronic_000", "guitar_electronic_001", "guitar_electronic_002",
    ]


def test_label_encoders_save_and_load(tmp_path, root):
    labels = build(root, split="test").labels
    labels.save(tmp_path / "labels.json")
    assert LabelEncoders.load(tmp_path / "labels.json") == labels
    with pytest.raises(DataError, match="format_version"):
        LabelEncoders.from_json({"format_version": 99, "classes": {}})


def test_dataset_pickles_for_spawned_workers(root):
    import pickle

    ds = build(root, split="valid", sources=["electronic"])
    clone = pickle.loads(pickle.dumps(ds))
    assert clone.note_names == ds.note_names and clone.labels == ds.labels
    assert torch.equal(clone[0]["audio"], ds[0]["audio"])


def test_no_root_uses_the_builtin_render(root, monkeypatch):
    from specinpaint.data import render_cache

    calls = []
    monkeypatch.setattr(render_cache, "ensure_rendered", lambda *a, **k: calls.append(a) or root)
    ds = NSynthDataset(NSynthDataset.Params(split="test", split_scheme="official"))
    assert calls == [()] and ds.root == root and len(ds) == expected("test")


def test_official_archive_layout_is_accepted(tmp_path):
    root = write_fake_nsynth(tmp_path / "nsynth")
    for split in ("train", "valid", "test"):  # what nsynth-{split}.jsonwav.tar.gz unpack to
        (root / split).rename(root / f"nsynth-{split}")
    for split in ("train", "valid", "test"):
        ds = build(root, split=split)
        assert len(ds) == expected(split) and ds.audio_path(0).parent.parent.name == f"nsynth-{split}"
        assert ds[0]["audio"].shape == (64000,)
    paper = build(root, split="valid", split_scheme="paper", validate_files="full")
    assert paper.summary()["available_splits"] == ["test", "train", "valid"]
    assert len(paper) + len(build(root, split="train", split_scheme="paper")) == expected("train") + expected("valid")
    (root / "train").mkdir()
    (root / "train" / "examples.json").write_text("{}")
    with pytest.raises(DataError, match=r"split 'train' is in both nsynth-train/ and train/; keep one"):
        build(root, split="train")


def test_index_split_functions_and_audio_check_compose_to_the_dataset(root, tmp_path):
    """The three construction steps as plain functions: the same notes as the dataset."""
    from specinpaint.data.nsynth_index import NSynthIndex, check_audio, split_members
    from specinpaint.data.splits import paper_lists

    messages: list[str] = []
    index = NSynthIndex.read(root, messages.append)
    assert sorted(index.available_splits) == ["test", "train", "valid"] and messages == [] and index.bad_metadata == 0
    assert len(index.records) == len(NOTES) and set(index.owner.values()) == {"train", "valid", "test"}
    names, path = split_members(index, "valid", "official", pitch_range=(24, 84), seed=0, train_fraction=0.8,
                                splits_file=None)
    assert path is None and len(names) == sum(1 for n in NOTES if n[0] == "valid")
    kept, bad = check_audio(index, [index.records[n] for n in names], "header", 16000, 64000, messages.append)
    official = build(root, split="valid", pitch_min=0, pitch_max=127)
    assert bad == 0 and sorted(r.note_str for r in kept) == official.note_names
    # the paper scheme: lists written once, then read back; the dataset uses the same file
    splits_file = tmp_path / "split.json"
    basis = {n for n, s in index.owner.items() if s in ("train", "valid") and 24 <= index.records[n].pitch <= 84}
    lists, written = paper_lists(basis, root, ["train", "valid"], seed=3, splits_file=splits_file)
    assert written == splits_file and paper_lists(basis, root, ["train", "valid"], seed=3, splits_file=splits_file) == (lists, splits_file)
    paper = build(root, split="train", split_scheme="paper", split_seed=3, splits_file=str(splits_file))
    assert set(paper.note_names) == set(lists["train"]) and paper.splits_file == splits_file
