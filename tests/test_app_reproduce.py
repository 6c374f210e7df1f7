"""`specinpaint reproduce website BUNDLE [NOTE.wav]` on a saved fake bundle whose labels offer three
families and pitches 40..70: the grid is exactly those families × the ladder inside the range, the
three inpainting variants change what they say and nothing else, and the page links every file."""

from __future__ import annotations

import json
import re

import pytest
import soundfile as sf
import torch

from fakes.editing import edit_plugins, make_pipeline
from specinpaint.app.cli import main
from specinpaint.data.labels import LabelEncoder, LabelEncoders

FAMILIES = ["bass", "guitar", "keyboard"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from specinpaint.core import NSYNTH_FAMILIES

    encoders = {name: LabelEncoder(name, ["x"]) for name in ("velocity", "instrument_source", "instrument_str")}
    encoders["pitch"] = LabelEncoder("pitch", [40, 55, 70])
    encoders["instrument_family"] = LabelEncoder("instrument_family", list(NSYNTH_FAMILIES), FAMILIES)
    with edit_plugins():
        pipe = make_pipeline()
        pipe.extras["labels"] = LabelEncoders(encoders).to_json()
        path = tmp_path_factory.mktemp("reproduce") / "bundle"
        pipe.save(path)
        yield path


def _note(path, seconds=0.3):
    t = torch.arange(int(seconds * 8000)) / 8000
    sf.write(path, (0.4 * torch.sin(2 * torch.pi * 330 * t)).numpy(), 8000)
    return path


def test_website_grid_and_variants_on_a_given_note(bundle, tmp_path, capsys):
    note = _note(tmp_path / "note.wav")
    out = tmp_path / "site"
    argv = ["reproduce", "website", str(bundle), str(note), "-o", str(out), "--family", "guitar", "--pitch", "52",
            "--seed", "3", "--no-progress"]
    with edit_plugins():
        assert main(argv) == 0
    assert capsys.readouterr().out.strip() == str(out / "index.html")
    summary = json.loads((out / "website.json").read_text())
    assert summary["grid"] == {"families": FAMILIES, "pitches": [45, 52, 59, 66]}  # the ladder inside 40..70
    page = (out / "index.html").read_text()
    grid_files = sorted(p.name for p in (out / "grid").iterdir())
    assert grid_files == sorted(f"{f}-{p}.{ext}" for f in FAMILIES for p in (45, 52, 59, 66) for ext in ("wav", "png"))
    assert all(sf.read(out / "grid" / name)[0].shape == (1024,) for name in grid_files if name.endswith(".wav"))
    links = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert all((out / link).is_file() for link in links if not link.startswith("http")), links
    assert page.count("<audio") == 12 + 5  # grid + original, reconstruction and three variants
    assert "brass" not in page.split("<table")[1]  # no other family in the grid

    variants = summary["variants"]
    assert list(variants) == ["two seconds", "bottom quarter", "keep top"]
    assert all(v["family"] == "guitar" and v["pitch"] == 52 for v in variants.values())
    # a 0.3 s note: 10 top columns (4 rows), 20 bottom columns (8 rows)
    keep = variants["keep top"]
    assert keep["level"] == "bottom" and keep["cells"] == {"top": 0, "bottom": 160} and keep["changed"]["top"] == 0
    quarter = variants["bottom quarter"]
    assert quarter["cells"] == {"top": 10, "bottom": 40}  # the lowest of 4 top rows, and the 2 bottom rows under it
    middle = variants["two seconds"]
    assert middle["region"]["time_s"] == pytest.approx([0.08, 0.24])  # the middle half of a 0.32 s note
    assert 0 < middle["cells"]["top"] < 40 and middle["cells"]["top"] % 4 == 0  # whole columns, all rows
    for variant in variants.values():
        assert all(variant["changed"][lvl] <= variant["cells"][lvl] for lvl in ("top", "bottom"))
        assert sum(variant["changed"].values()) > 0
        audio, rate = sf.read(out / variant["audio"])
        assert rate == 8000 and audio.shape == (2560,)
    first = (out / "note" / "keep-top.wav").read_bytes()
    with edit_plugins():
        assert main(argv) == 0  # seeded: the same files again
    assert (out / "note" / "keep-top.wav").read_bytes() == first


def test_website_defaults_to_a_held_out_note_and_refuses_other_labels(bundle, tmp_path, capsys):
    out = tmp_path / "site"
    with edit_plugins():
        assert main(["reproduce", "website", str(bundle), "-o", str(out), "--ladder", "40:70:30", "--no-progress"]) == 0
        summary = json.loads((out / "website.json").read_text())
        assert summary["grid"]["pitches"] == [40, 70]
        # the fake dataset's held-out notes: families 0..3 at MIDI 57, 69, 81, 93; only bass at 57 is offered
        assert summary["note"]["source"].startswith("held-out note") and summary["note"]["family"] == "bass"
        assert summary["note"]["pitch"] == 57
        capsys.readouterr()
        assert main(["reproduce", "website", str(bundle), "--family", "brass", "-o", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err == "error: family 'brass' is not one of this bundle's families: bass, guitar, keyboard\n"
    assert not (tmp_path / "x").exists()


def test_without_the_bundles_data_a_note_is_rendered(bundle, tmp_path, monkeypatch):
    pytest.importorskip("tinysoundfont", reason="rendering needs the render extra")
    from specinpaint.core.errors import DataError

    def no_data(editor):
        raise DataError("nsynth: dataset root missing")

    monkeypatch.setattr("specinpaint.app.website.heldout_note", no_data)
    out = tmp_path / "site"
    with edit_plugins():
        assert main(["reproduce", "website", str(bundle), "-o", str(out), "--ladder", "60:60:1", "--no-progress"]) == 0
    note = json.loads((out / "website.json").read_text())["note"]
    assert note["family"] == "keyboard" and note["pitch"] == 60 and "rendered from" in note["source"]
    audio, rate = sf.read(out / "note" / "original.wav")
    assert rate == 8000 and audio.shape == (1024,) and abs(abs(audio).max() - 0.5) < 1e-3
