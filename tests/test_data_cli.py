"""`specinpaint data render|summary|split|programs`."""

from __future__ import annotations

import json

import pytest

from specinpaint.app.cli import main
from specinpaint.core.conditioning import NSYNTH_FAMILIES

pytest.importorskip("tinysoundfont")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "ds"
    assert main(["data", "render", "--tiny", "--families", "organ,vocal", "--pitch-step", "6",
                 "--instruments-per-family", "all", "--out", str(out), "--workers", "1"]) == 0
    return out


def test_render_writes_an_nsynth_layout(rendered, capsys):
    report = json.loads((rendered / "render_report.json").read_text())
    assert report["spec"]["instruments_per_family"] is None  # "all"
    assert report["spec"]["families"] == ["organ", "vocal"] and report["spec"]["pitch_step"] == 6
    assert len(report["instruments"]) == 8  # 5 organ + 3 vocal programs
    for split in ("train", "valid", "test"):
        assert (rendered / split / "examples.json").is_file()


def test_render_refuses_to_overwrite_without_force(rendered, capsys):
    assert main(["data", "render", "--tiny", "--families", "organ", "--out", str(rendered)]) == 2
    assert "already holds a render" in capsys.readouterr().err


def test_summary_text_and_json(rendered, capsys):
    assert main(["data", "summary", "--root", str(rendered), "--split-scheme", "official",
                 "--sources", "electronic"]) == 0
    text = capsys.readouterr().out
    assert "sources: electronic" in text and "SOURCES" not in text and "per family:  organ" in text
    assert main(["data", "summary", "--root", str(rendered), "--json", "--families", "vocal"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["filters"]["families"] == ["vocal"] and set(summary["per_family"]) == {"vocal"}
    assert summary["split_scheme"] == "paper" and summary["splits_file"].endswith("paper-seed20200117.json")


def test_split_command(rendered, capsys, tmp_path):
    out = tmp_path / "split.json"
    assert main(["data", "split", "--root", str(rendered), "--seed", "5", "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["seed"] == 5 and set(document["splits"]) == {"train", "valid"}
    assert f"{out}: train {len(document['splits']['train'])}" in capsys.readouterr().out


def test_programs_table(capsys):
    assert main(["data", "programs"]) == 0
    out = capsys.readouterr().out
    assert all(family in out for family in NSYNTH_FAMILIES)
    assert "Acoustic Grand Piano" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["data", "render", "--tiny", "--families", "drums", "--out", "X"], "families"),
        (["data", "render", "--tiny", "--programs", "120", "--out", "X"], "no NSynth family"),
        (["data", "summary", "--root", "/nonexistent/nsynth"], "does not exist"),
        (["data", "summary", "--root", ".", "--sources", "acoustc"], "sources"),
    ],
)
def test_user_errors_are_one_line(argv, message, capsys, tmp_path):
    argv = [str(tmp_path / "x") if a == "X" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and len(err.strip().splitlines()) == 1


def test_summary_and_split_build_the_dataset_through_the_registry(rendered, capsys, monkeypatch, tmp_path):
    """As a pipeline config reaches it (a third party's replacement would be reached the same way)."""
    from specinpaint.core.registry import Registry

    built = []
    original = Registry.build

    def build(self, name, params=None):
        built.append((self.kind, name))
        return original(self, name, params)

    monkeypatch.setattr(Registry, "build", build)
    assert main(["data", "summary", "--root", str(rendered), "--split-scheme", "official"]) == 0
    assert main(["data", "split", "--root", str(rendered), "--out", str(tmp_path / "s.json")]) == 0
    assert built == [("datasets", "nsynth"), ("datasets", "nsynth")]
