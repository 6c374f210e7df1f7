"""Labels from the data: the families and pitch range a bundle offers come from the label
encoders saved in its extras (NSynth's vocabulary when it saved none), in the Python API, the CLI
(`generate --help`, errors), the HTTP API (`/api/info`, 422s) — for NSynth data restricted to three
families and for a third-party vocabulary."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import pytest

from fakes.editing import edit_plugins, make_pipeline
from fakes.nsynth import write_fake_nsynth
from specinpaint.app.cli import main
from specinpaint.app.server import ServerSettings, create_app
from specinpaint.core import NSYNTH_FAMILIES, Pipeline
from specinpaint.data.labels import LabelEncoder, LabelEncoders
from specinpaint.data.nsynth import NSynthDataset
from specinpaint.editing import EditError, Editor, LabelVocabulary

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

THREE = ("bass", "guitar", "keyboard")
LOCAL = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def three_family_labels(tmp_path_factory) -> dict:
    """The label encoders of the fake NSynth dataset restricted to three families, as a bundle
    saves them."""
    root = write_fake_nsynth(tmp_path_factory.mktemp("nsynth"), num_samples=1024)
    dataset = NSynthDataset(root=str(root), families=list(THREE), expected_samples=1024, split_seed=7,
                            splits_file=str(root / "split.json"))
    return dataset.labels.to_json()


def _third_party_labels() -> dict:
    """A drum dataset's encoders: its own family names, pitches 36..42."""
    return LabelEncoders({
        "pitch": LabelEncoder("pitch", [36, 38, 42]),
        "velocity": LabelEncoder("velocity", [100]),
        "instrument_family": LabelEncoder("instrument_family", ["kick", "snare", "hat"]),
        "instrument_source": LabelEncoder("instrument_source", ["acoustic"]),
        "instrument_str": LabelEncoder("instrument_str", ["kit_1"]),
    }).to_json()


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, three_family_labels):
    """Saved fake bundles: one with the three-family labels, one with the drum labels, one with none."""
    folder = tmp_path_factory.mktemp("bundles")
    with edit_plugins():
        for name, labels in (("three", three_family_labels), ("drums", _third_party_labels()), ("none", None)):
            pipe = make_pipeline()
            if labels is not None:
                pipe.extras["labels"] = labels
            pipe.save(folder / name)
        yield folder


def test_nsynth_data_restricted_to_three_families_offers_those_three(three_family_labels):
    assert three_family_labels["classes"]["instrument_family"] == list(NSYNTH_FAMILIES)  # indices stay NSynth's
    assert three_family_labels["present"]["instrument_family"] == list(THREE)
    assert LabelEncoders.from_json(three_family_labels).to_json() == three_family_labels
    labels = LabelVocabulary.from_extras({"labels": three_family_labels})
    assert labels.offered == THREE and labels.families == NSYNTH_FAMILIES and labels.from_bundle
    assert labels.pitch_range == (24, 84)  # the fake dataset's pitches inside the default 24..84 filter
    assert labels.family_index("guitar") == 3
    with pytest.raises(EditError, match="family 'brass' is not one of this bundle's families: bass, guitar, keyboard"):
        labels.family_index("brass")


def test_a_bundle_without_labels_falls_back_to_nsynth_and_old_labels_offer_every_class():
    fallback = LabelVocabulary.from_extras({})
    assert fallback.offered == NSYNTH_FAMILIES and fallback.pitch_range == (24, 84) and not fallback.from_bundle
    old = {"format_version": 1, "classes": {"pitch": [40, 50], "instrument_family": list(NSYNTH_FAMILIES)}}
    assert LabelVocabulary.from_extras({"labels": old}).offered == NSYNTH_FAMILIES  # saved before "present"
    assert LabelVocabulary.from_extras({"labels": old}).pitch_range == (40, 50)
    for bad, message in (({"format_version": 2, "classes": {}}, "format_version 2"),
                         ({"format_version": 1, "classes": {"pitch": [60]}}, "instrument_family must be"),
                         ({"format_version": 1, "classes": {"pitch": ["C4"], "instrument_family": ["a"]}},
                          "pitch must be a non-empty list of MIDI integers")):
        with pytest.raises(EditError, match=message):
            LabelVocabulary.from_extras({"labels": bad})


def test_the_offer_is_narrowed_to_what_the_priors_condition_on():
    labels = LabelVocabulary.from_extras({"labels": _third_party_labels()})
    priors = {"top": SimpleNamespace(params=SimpleNamespace(pitch_range=(38, 84), num_families=2)),
              "bottom": SimpleNamespace(params=None)}
    narrowed = labels.within(priors)
    assert narrowed.offered == ("kick", "snare") and narrowed.pitch_range == (38, 42)
    with pytest.raises(EditError, match="lie outside the pitch range its priors"):
        labels.within({"top": SimpleNamespace(params=SimpleNamespace(pitch_range=(60, 84), num_families=3))})


def test_a_third_party_vocabulary_conditions_the_priors_with_its_own_indices():
    with edit_plugins():
        pipe = make_pipeline()
        pipe.extras["labels"] = _third_party_labels()
        editor = Editor(pipe)
        editor.generate(38, "snare", sampling={"seed": 0}, decode=False)
        call = pipe.priors["top"].calls[-1]
        assert call["family"].tolist() == [1] and call["pitch"].tolist() == [38]
        pack = editor.sample_pack(editor.generate(sampling={"seed": 1}, decode=False).codes, [36, 42], family="hat",
                                  sampling={"seed": 2})
        assert pack.names() == ["hat-36.wav", "hat-42.wav"]
        with pytest.raises(EditError, match="family 'brass' is not one of this bundle's families: kick, snare, hat"):
            editor.generate(38, "brass")
        with pytest.raises(EditError, match="pitch 60 is outside this bundle's pitch range 36..42"):
            editor.generate(60, "kick")
        with pytest.raises(EditError, match=r"family index 3 is outside 0..2"):
            editor.generate([36], [3])


def _family_help(capsys, argv) -> str:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    return out[out.index("--family FAMILY"):out.index("-h, --help")]


@pytest.mark.parametrize("command", ["generate", "inpaint"])
def test_help_lists_the_bundles_families_wherever_b_stands(bundles, capsys, command):
    for argv in ([command, "-b", str(bundles / "three"), "--help"], [command, "--help", "-b", str(bundles / "three")]):
        text = _family_help(capsys, argv)
        assert "bass, guitar, keyboard" in text
        assert not [f for f in NSYNTH_FAMILIES if f not in THREE and f in text], text
    drums = _family_help(capsys, [command, f"--bundle={bundles / 'drums'}", "-h"])
    assert "kick, snare, hat" in drums and "36..42" in drums
    fallback = _family_help(capsys, [command, "-b", str(bundles / "none"), "-h"])
    assert ", ".join(NSYNTH_FAMILIES) in fallback and "saved no labels" in fallback
    missing = _family_help(capsys, [command, "-b", str(bundles / "nowhere"), "-h"])
    assert "unknown:" in missing and "not a pipeline bundle directory" in missing


def test_cli_refuses_families_the_bundle_does_not_offer(bundles, tmp_path, capsys):
    with edit_plugins():
        assert main(["generate", "-b", str(bundles / "three"), "--family", "guitar", "--pitch", "60", "--seed", "1",
                     "-o", str(tmp_path / "ok.wav"), "--no-progress"]) == 0
        capsys.readouterr()
        assert main(["generate", "-b", str(bundles / "three"), "--family", "brass", "-o", str(tmp_path / "no.wav"),
                     "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err == "error: family 'brass' is not one of this bundle's families: bass, guitar, keyboard\n"
    assert not (tmp_path / "no.wav").exists()


def test_api_info_and_requests_follow_the_bundles_labels(bundles):
    with edit_plugins():
        for name, families, pitches in (("three", list(THREE), [24, 84]), ("drums", ["kick", "snare", "hat"], [36, 42]),
                                        ("none", list(NSYNTH_FAMILIES), [24, 84])):
            client = TestClient(create_app(Pipeline.load(bundles / name), ServerSettings(rate_limit_per_minute=0)),
                                base_url=LOCAL)
            info = client.get("/api/info").json()
            assert info["families"] == families and info["pitch_range"] == pitches
            assert info["labels_from_bundle"] == (name != "none")
            assert client.post("/api/generate", json={"family": families[-1], "pitch": pitches[0], "seed": 1}).status_code == 200
        other = client.post("/api/generate", json={"family": "kick", "seed": 1})  # a drum family on an NSynth bundle
        assert other.status_code == 422
        drums = TestClient(create_app(Pipeline.load(bundles / "drums")), base_url=LOCAL)
        refused = drums.post("/api/generate", json={"family": "brass", "seed": 1})
        assert refused.status_code == 422 and refused.json() == {
            "detail": "family: not one of this bundle's families: kick, snare, hat"}
        codes = drums.post("/api/generate", json={"seed": 1}).json()["codes"]
        pack = drums.post("/api/sample-pack", json={"codes": codes, "family": "snare", "min_pitch": 40, "max_pitch": 44})
        assert pack.status_code == 422 and pack.json()["detail"] == "pitch: outside this bundle's pitch range 36..42"
