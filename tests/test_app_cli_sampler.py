"""`specinpaint generate | inpaint --sampler parallel` end to end on an untrained tiny bundle (the
bottom-transformer falls back to autoregressive), and the progress bar flag."""

from __future__ import annotations

import json

import pytest
import soundfile as sf
import torch

from specinpaint.app.cli import main
from specinpaint.core import Codemaps, build_pipeline


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny") / "bundle"
    build_pipeline("tiny").save(path)
    return path


def _codes(path) -> Codemaps:
    return Codemaps.from_lists({k: [v] for k, v in json.loads(path.read_text()).items()})


def test_generate_and_inpaint_with_the_parallel_sampler(tiny_bundle, tmp_path):
    assert main(["generate", "-b", str(tiny_bundle), "--pitch", "60", "--sampler", "parallel", "--steps", "2",
                 "--seed", "1", "-o", str(tmp_path / "a.wav"), "--codes", str(tmp_path / "a.json")]) == 0
    audio, rate = sf.read(tmp_path / "a.wav")
    assert rate == 16000 and audio.shape == (64000,)
    before = _codes(tmp_path / "a.json")
    assert before.shapes == {"top": (8, 4), "bottom": (16, 8)}
    assert main(["inpaint", str(tmp_path / "a.json"), "-b", str(tiny_bundle), "--time", "1.0:2.0",
                 "--sampler", "parallel", "--seed", "2", "-o", str(tmp_path / "b.wav"),
                 "--codes", str(tmp_path / "b.json")]) == 0
    after = _codes(tmp_path / "b.json")
    assert torch.equal(after["top"][..., [0, 2, 3]], before["top"][..., [0, 2, 3]])  # only the 1–2 s column
    assert torch.equal(after["bottom"][..., [0, 1, 4, 5, 6, 7]], before["bottom"][..., [0, 1, 4, 5, 6, 7]])
    assert not after.equal(before)


def test_no_progress_flag_changes_only_stderr(tiny_bundle, tmp_path, capsys):
    def generate(name: str, *extra: str) -> tuple[bytes, str, str]:
        out = tmp_path / f"{name}.wav"
        assert main(["generate", "-b", str(tiny_bundle), "--seed", "3", "--columns", "5", "-o", str(out),
                     "--codes", str(tmp_path / f"{name}.json"), *extra]) == 0
        captured = capsys.readouterr()
        return out.read_bytes(), captured.out.replace(name, "X"), captured.err

    shown, shown_out, shown_err = generate("shown")
    quiet, quiet_out, quiet_err = generate("quiet", "--no-progress")
    assert shown == quiet and shown_out == quiet_out
    assert (tmp_path / "shown.json").read_text() == (tmp_path / "quiet.json").read_text()
    assert "window" in shown_err and "window" not in quiet_err
    codes_in = tmp_path / "shown.json"
    assert main(["inpaint", str(codes_in), "-b", str(tiny_bundle), "--freq", "0:800", "--seed", "4",
                 "--no-progress", "-o", str(tmp_path / "c.wav")]) == 0
    assert "window" not in capsys.readouterr().err
