"""`specinpaint generate | inpaint | show | serve` and the demo/report part of `run`, on a saved
bundle of the two-level fake pipeline."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import soundfile as sf
import torch

from fakes.editing import edit_plugins, make_pipeline
from specinpaint.app.cli import main
from specinpaint.core import Codemaps
from specinpaint.core.region import Region
from specinpaint.editing import Editor


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
        masks = Editor(make_pipeline()).region_masks(Region(time_s=(0.0, 0.06), freq_hz=(0.0, 1500.0)), 4)
    for level in ("top", "bottom"):
        assert torch.equal(after[level][~masks[level]], before[level][~masks[level]])
    assert not after.equal(before)
    assert re.search(r"changed codes \{'top': \d+, 'bottom': \d+\}", capsys.readouterr().out)
    # audio input (any length) and the attenuate brush
    assert main(["inpaint", str(tmp_path / "a.wav"), "-b", str(bundle), "--freq", "0:800", "--attenuate", "20",
                 "-o", str(tmp_path / "c.wav")]) == 0
    assert sf.read(tmp_path / "c.wav")[0].shape == (1024,)


def test_inpaint_noise_brush_is_seeded_and_stays_in_the_region(bundle, tmp_path, capsys):
    main(["generate", "-b", str(bundle), "--seed", "1", "-o", str(tmp_path / "a.wav"), "--codes", str(tmp_path / "a.json")])
    runs = []
    for name, flag in (("n1", "--level"), ("n2", "--layer")):  # --layer: the former name, still accepted
        assert main(["inpaint", str(tmp_path / "a.json"), "-b", str(bundle), "--time", "0.0:0.06", "--noise",
                     flag, "bottom", "--seed", "5", "-o", str(tmp_path / f"{name}.wav"),
                     "--codes", str(tmp_path / f"{name}.json")]) == 0
        runs.append(_codes(tmp_path / f"{name}.json"))
    before = _codes(tmp_path / "a.json")
    with edit_plugins():
        masks = Editor(make_pipeline()).region_masks(Region(time_s=(0.0, 0.06)), 4, level="bottom")
    assert runs[0].equal(runs[1]) and torch.equal(runs[0]["top"], before["top"])
    assert torch.equal(runs[0]["bottom"][~masks["bottom"]], before["bottom"][~masks["bottom"]])
    assert not torch.equal(runs[0]["bottom"], before["bottom"])
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:  # one brush at a time (argparse's own usage error)
        main(["inpaint", str(tmp_path / "a.json"), "-b", str(bundle), "--time", "0:0.06", "--noise", "--attenuate", "10"])
    assert stop.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_cli_errors_are_one_line(bundle, tmp_path, capsys):
    wav = tmp_path / "x.wav"
    sf.write(wav, torch.zeros(1024).numpy(), 8000)
    cases = [
        (["inpaint", str(wav), "-b", str(bundle)], "give a region"),
        (["inpaint", str(wav), "-b", str(bundle), "--time", "1-2"], "expected START:END"),
        (["inpaint", str(wav), "-b", str(bundle), "--time", "5:6"], "outside the spectrogram"),
        (["inpaint", str(tmp_path / "missing.wav"), "-b", str(bundle), "--time", "0:1"], "no such file"),
        (["generate", "-b", str(tmp_path / "nowhere")], "no pipeline bundle here"),
        (["generate", "-b", str(bundle), "--pitch", "100"], "pitch 100 is outside this bundle's pitch range 24..84"),
        (["generate", "-b", str(bundle), "--family", "kazoo"], "family 'kazoo' is not one of this bundle's families: bass,"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1, err


def test_show_writes_pngs(bundle, tmp_path, capsys):
    main(["generate", "-b", str(bundle), "--seed", "3", "-o", str(tmp_path / "n.wav")])
    capsys.readouterr()
    assert main(["show", str(tmp_path / "n.wav"), "-b", str(bundle), "-o", str(tmp_path / "pngs")]) == 0
    names = sorted(p.name for p in (tmp_path / "pngs").iterdir())
    assert names == ["codes-bottom.png", "codes-top.png", "input-spectrogram.png", "spectrogram.png"]
    assert all((tmp_path / "pngs" / n).read_bytes().startswith(b"\x89PNG") for n in names)
    # audio comes without a pitch: the one estimated from it is used, and said
    assert "pitch estimated from the input:" in capsys.readouterr().out


def test_audio_input_without_pitch_decodes_with_the_estimated_pitch(bundle, tmp_path, capsys):
    wav = tmp_path / "a3.wav"
    t = np.arange(16000) / 16000
    sf.write(wav, 0.3 * np.sin(2 * np.pi * 220.0 * t), 16000)  # A3 = MIDI 57
    assert main(["inpaint", str(wav), "-b", str(bundle), "--time", "0:0.06", "-o", str(tmp_path / "o.wav")]) == 0
    assert "pitch estimated from the input: MIDI 57" in capsys.readouterr().out
    assert main(["inpaint", str(wav), "-b", str(bundle), "--time", "0:0.06", "--pitch", "40",
                 "-o", str(tmp_path / "o.wav")]) == 0
    out = capsys.readouterr().out
    assert "pitch 40" in out and "estimated" not in out


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
    assert seen["app"].state.service.dataset is None  # no code store next to this bundle


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


@pytest.mark.parametrize("command", ["generate", "inpaint"])
@pytest.mark.parametrize("seed, message", [
    ("99999999999999999999", "sampling.seed: Input should be less than or equal to 4294967295"),
    ("-5", "sampling.seed: Input should be greater than or equal to 0"),
])
def test_out_of_range_seeds_are_one_line_errors(bundle, tmp_path, capsys, command, seed, message):
    main(["generate", "-b", str(bundle), "--seed", "1", "-o", str(tmp_path / "a.wav"), "--codes",
          str(tmp_path / "a.json"), "--no-progress"])
    capsys.readouterr()
    argv = {"generate": ["generate"],
            "inpaint": ["inpaint", str(tmp_path / "a.json"), "--time", "0:0.05"]}[command]
    assert main([*argv, "-b", str(bundle), "--seed", seed, "-o", str(tmp_path / "b.wav"), "--no-progress"]) == 2
    assert message in _one_error_line(capsys)
    assert not (tmp_path / "b.wav").exists()


def test_output_that_is_a_directory_names_the_users_path(bundle, tmp_path, capsys):
    folder = tmp_path / "already-a-folder"
    folder.mkdir()
    assert main(["generate", "-b", str(bundle), "--seed", "1", "-o", str(folder), "--no-progress"]) == 2
    assert _one_error_line(capsys) == f"error: {folder}: is a directory, not a file name"
    assert list(folder.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["already-a-folder"]


def test_missing_output_directories_are_created_as_documented(bundle, tmp_path, capsys):
    from specinpaint.app.cli import build_parser

    target = tmp_path / "new" / "deeper" / "b.wav"
    assert main(["generate", "-b", str(bundle), "--seed", "1", "-o", str(target), "--no-progress"]) == 0
    assert sf.read(target)[0].shape == (1024,) and str(target) in capsys.readouterr().out
    for command in ("generate", "inpaint"):
        sub = build_parser()._subparsers._group_actions[0].choices[command]  # the documented behaviour
        assert "missing parent directories are created" in " ".join(sub.format_help().split())


@pytest.mark.parametrize("content, message", [
    ({"top": [[1.5, 0, 0, 0]] + [[0] * 4] * 3, "bottom": [[0] * 8] * 8}, "codemap 'top' must hold integers, got torch.float32 (e.g. 1.5)"),
    ({"top": [[True] * 4] * 4, "bottom": [[0] * 8] * 8}, "codemap 'top' must hold integers"),
])
def test_codes_files_with_non_integer_codes_are_refused(bundle, tmp_path, capsys, content, message):
    codes = tmp_path / "odd.json"
    codes.write_text(json.dumps(content))
    assert main(["inpaint", str(codes), "-b", str(bundle), "--time", "0:0.05", "-o", str(tmp_path / "o.wav")]) == 2
    err = _one_error_line(capsys)
    assert err.startswith(f"error: {codes}: ") and message in err
    assert not (tmp_path / "o.wav").exists()


@pytest.mark.parametrize("flags, message", [
    (["--port", "99999"], "error: --port 99999: Input should be less than or equal to 65535"),
    (["--threads", "0"], "error: --threads 0: Input should be greater than or equal to 1"),
    (["--rate-limit", "-5"], "error: --rate-limit -5.0: Input should be greater than or equal to 0"),
    (["--max-upload-mb", "-1"], "error: --max-upload-mb -1: must be a positive number of megabytes"),
    (["--max-upload-mb", "nan"], "error: --max-upload-mb nan: must be a positive number of megabytes"),
    (["--max-duration", "inf"], "error: --max-duration inf: Input should be a finite number"),
])
def test_invalid_serve_flags_are_one_line_errors(bundle, monkeypatch, capsys, flags, message):
    monkeypatch.setattr("specinpaint.app.server.serve", lambda app, settings: pytest.fail("served"))
    assert main(["serve", str(bundle), *flags]) == 2
    assert _one_error_line(capsys) == message


def test_serve_trusts_forwarded_headers_and_hosts_only_when_told(bundle, monkeypatch):
    from specinpaint.app.server import uvicorn_config

    seen = {}
    monkeypatch.setattr("specinpaint.app.server.serve", lambda app, settings: seen.update(app=app, settings=settings))
    with edit_plugins():
        assert main(["serve", str(bundle)]) == 0
        default = uvicorn_config(seen["app"], seen["settings"])
        assert default.proxy_headers is False  # uvicorn's own default trusts 127.0.0.1
        assert main(["serve", str(bundle), "--forwarded-allow-ips", "10.0.0.2,10.0.0.3",
                     "--allowed-hosts", "synth.example, *.lab.example"]) == 0
    settings = seen["settings"]
    assert settings.forwarded_allow_ips == "10.0.0.2,10.0.0.3"
    assert settings.allowed_hosts == ["synth.example", "*.lab.example"]
    behind_proxy = uvicorn_config(seen["app"], settings)
    assert behind_proxy.proxy_headers is True and behind_proxy.forwarded_allow_ips == "10.0.0.2,10.0.0.3"


def test_security_doc_names_only_real_serve_flags_and_is_linked():
    import re
    from pathlib import Path

    from specinpaint.app.cli import build_parser

    root = Path(__file__).resolve().parent.parent
    doc = (root / "docs/security.md").read_text()
    serve_help = build_parser()._subparsers._group_actions[0].choices["serve"].format_help()
    flags = set(re.findall(r"`(--[a-z-]+)", doc))
    assert {"--host", "--max-upload-mb", "--rate-limit", "--allowed-hosts", "--forwarded-allow-ips"} <= flags
    assert all(flag in serve_help for flag in flags), flags - set(re.findall(r"--[a-z-]+", serve_help))
    assert "docs/security.md" in (root / "README.md").read_text() and "docs/security.md" in serve_help
