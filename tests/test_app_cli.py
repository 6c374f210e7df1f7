"""`specinpaint generate | inpaint | show | serve` and the demo/report part of `run`, on a saved
bundle of the two-level fake pipeline."""

from __future__ import annotations

import json
import re

import pytest
import soundfile as sf
import torch
from editing_fakes import edit_plugins, make_pipeline

from specinpaint.app.cli import main
from specinpaint.core import Codemaps
from specinpaint.core.region import Region


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    with edit_plugins():
        path = tmp_path_factory.mktemp("cli") / "bundle"
        make_pipeline().save(path)
        yield path


def _codes(path) -> Codemaps:
    return Codemaps.from_lists({k: [v] for k, v in json.loads(path.read_text()).items()})


def test_generate_writes_numbered_wavs_and_codes(bundle, tmp_path, capsys):
    args = ["generate", "-b", str(bundle), "--pitch", "60", "--family", "brass", "-n", "2", "--seed", "4",
            "-o", str(tmp_path / "note.wav"), "--codes", str(tmp_path / "note.json")]
    assert main(args) == 0
    first = (tmp_path / "note-0.wav").read_bytes()
    audio, rate = sf.read(tmp_path / "note-1.wav")
    assert rate == 8000 and audio.shape == (1024,)
    assert _codes(tmp_path / "note-0.json").shapes == {"top": (4, 4), "bottom": (8, 8)}
    assert main(args) == 0 and (tmp_path / "note-0.wav").read_bytes() == first  # seeded
    assert "note-1.wav" in capsys.readouterr().out


def test_inpaint_from_codes_changes_only_the_region(bundle, tmp_path, capsys):
    main(["generate", "-b", str(bundle), "--seed", "1", "-o", str(tmp_path / "a.wav"), "--codes", str(tmp_path / "a.json")])
    assert main(["inpaint", str(tmp_path / "a.json"), "-b", str(bundle), "--time", "0.0:0.06", "--freq", "0:1500",
                 "--pitch", "70", "--family", "organ", "--seed", "2", "-o", str(tmp_path / "b.wav"),
                 "--codes", str(tmp_path / "b.json")]) == 0
    before, after = _codes(tmp_path / "a.json"), _codes(tmp_path / "b.json")
    with edit_plugins():
        masks = make_pipeline().region_masks(Region(time_s=(0.0, 0.06), freq_hz=(0.0, 1500.0)), 4)
    for level in ("top", "bottom"):
        assert torch.equal(after[level][~masks[level]], before[level][~masks[level]])
    assert not after.equal(before)
    assert re.search(r"changed codes \{'top': \d+, 'bottom': \d+\}", capsys.readouterr().out)
    # audio input (any length) and the attenuate brush
    assert main(["inpaint", str(tmp_path / "a.wav"), "-b", str(bundle), "--freq", "0:800", "--attenuate", "20",
                 "-o", str(tmp_path / "c.wav")]) == 0
    assert sf.read(tmp_path / "c.wav")[0].shape == (1024,)


def test_cli_errors_are_one_line(bundle, tmp_path, capsys):
    wav = tmp_path / "x.wav"
    sf.write(wav, torch.zeros(1024).numpy(), 8000)
    cases = [
        (["inpaint", str(wav), "-b", str(bundle)], "give a region"),
        (["inpaint", str(wav), "-b", str(bundle), "--time", "1-2"], "expected START:END"),
        (["inpaint", str(wav), "-b", str(bundle), "--time", "5:6"], "outside the spectrogram"),
        (["inpaint", str(tmp_path / "missing.wav"), "-b", str(bundle), "--time", "0:1"], "no such file"),
        (["generate", "-b", str(tmp_path / "nowhere")], "no pipeline bundle here"),
        (["generate", "-b", str(bundle), "--pitch", "100"], "pitch outside MIDI 24..84"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1, err


def test_show_writes_pngs(bundle, tmp_path):
    main(["generate", "-b", str(bundle), "--seed", "3", "-o", str(tmp_path / "n.wav")])
    assert main(["show", str(tmp_path / "n.wav"), "-b", str(bundle), "-o", str(tmp_path / "pngs")]) == 0
    names = sorted(p.name for p in (tmp_path / "pngs").iterdir())
    assert names == ["codes-bottom.png", "codes-top.png", "input-spectrogram.png", "spectrogram.png"]
    assert all((tmp_path / "pngs" / n).read_bytes().startswith(b"\x89PNG") for n in names)


def test_serve_builds_settings_and_binds_loopback(bundle, monkeypatch):
    seen = {}

    def fake_serve(app, settings):
        seen["app"], seen["settings"] = app, settings

    monkeypatch.setattr("specinpaint.app.server.serve", fake_serve)
    with edit_plugins():
        assert main(["serve", str(bundle), "--port", "8123", "--max-duration", "10", "--rate-limit", "30"]) == 0
    settings = seen["settings"]
    assert settings.host == "127.0.0.1" and settings.port == 8123
    assert settings.max_duration_s == 10 and settings.rate_limit_per_minute == 30
    assert seen["app"].state.dataset is None  # no code store next to this bundle
