"""`specinpaint run` (the default job) end to end through the real training stages, on the
two-level fakes with two training steps per stage: it trains, writes demo WAVs/PNGs and the report,
and a second run reuses the trained stages and the demo instead of making them again."""

from __future__ import annotations

import json
import re

import soundfile as sf

from fakes.editing import edit_config, edit_plugins
from specinpaint.app.cli import main

STEPS = {"steps": 2, "batch_size": 2, "eval_every": 1, "checkpoint_every": 1, "log_every": 1, "device": "cpu"}


def _metrics_lines(out):
    return {stage: len((out / stage / "metrics.jsonl").read_text().splitlines())
            for stage in ("quantizer", "prior_top", "prior_bottom")}


def test_run_trains_reports_and_reuses(tmp_path, capsys):
    config = tmp_path / "fake.yaml"
    config.write_text(json.dumps(edit_config(training={"quantizer": STEPS, "priors": {"top": STEPS,
                                                                                "bottom": STEPS}})))
    out = tmp_path / "out"
    with edit_plugins():
        assert main(["run", "--config", str(config), "-o", str(out), "--no-progress", "--no-evaluate"]) == 0
        printed = capsys.readouterr().out
        assert f"specinpaint serve {out / 'bundle'}" in printed
        report = (out / "report.html").read_text()
        wavs = sorted((out / "demo").glob("*.wav"))
        assert len(wavs) == 7 and report.count("<audio") == 7  # incl. a note from the code store
        assert sf.read(wavs[0])[0].shape == (1024,)
        assert len(list((out / "demo").glob("*.png"))) == 7 * 3
        assert all((out / src).is_file() for src in re.findall(r'(?:src|href)="(demo/[^"]+)"', report))
        assert re.search(r"<th>changed</th><td>top [1-9]\d*/16, bottom [1-9]\d*/64</td>", report)
        trained = json.loads((out / "bundle" / "extras.json").read_text())["trained"]
        assert {"quantizer", "prior_top", "prior_bottom"} <= set(trained)
        weights = (out / "bundle" / "weights.safetensors").read_bytes()
        lines = _metrics_lines(out)
        stamps = {p: p.stat().st_mtime_ns for p in wavs}

        assert main(["run", "--config", str(config), "-o", str(out), "--no-progress", "--no-evaluate"]) == 0
        assert _metrics_lines(out) == lines  # no stage trained again
        assert (out / "bundle" / "weights.safetensors").read_bytes() == weights
        assert (out / "report.html").read_text() == report
        assert {p: p.stat().st_mtime_ns for p in wavs} == stamps  # demo reused for the same weights
        assert "report.html (7 notes)" in capsys.readouterr().out


def test_run_into_a_folder_of_another_config_says_what_to_do(tmp_path, capsys):
    config = tmp_path / "fake.yaml"
    config.write_text(json.dumps(edit_config(training={"quantizer": STEPS, "priors": {"top": STEPS,
                                                                                "bottom": STEPS}})))
    out = tmp_path / "out"
    with edit_plugins():
        assert main(["run", "--config", str(config), "-o", str(out), "--no-progress", "--no-evaluate"]) == 0
        capsys.readouterr()
        assert main(["run", "--config", str(config), "-o", str(out), "--no-progress",
                     "--set", "quantizer.params.num_codes=8"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and len(error.splitlines()) == 1
    assert "holds a run of another config: choose another --out or delete it" in error
