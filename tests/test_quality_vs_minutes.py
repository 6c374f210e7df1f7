"""scripts/quality_vs_minutes.py: training minutes are the sum of a report's train_* timings, and
each run's generation and reconstruction numbers land in the table and the plot."""

from __future__ import annotations

import json
from pathlib import Path

from script_module import load_script

ROOT = Path(__file__).resolve().parents[1]


def _script():
    return load_script("quality_vs_minutes")


def _report(path: Path, pitch: float, train_s: tuple[float, float], with_reconstruction: bool) -> Path:
    sections = {"generation": {"metrics": {"pitch_accuracy": pitch, "family_accuracy_ratio": 0.5}}}
    if with_reconstruction:
        sections["reconstruction"] = {"metrics": {"pitch_accuracy": 0.75}}
    timings = {"train_quantizer": train_s[0], "train_prior_top": train_s[1], "generation": 999.0}
    path.write_text(json.dumps({"sections": sections, "timings": timings}))
    return path


def test_minutes_sum_the_training_stages_and_every_run_is_tabled(tmp_path, capsys):
    script = _script()
    a = _report(tmp_path / "a.json", 0.25, (60.0, 30.0), True)
    b = _report(tmp_path / "b.json", 0.5, (120.0, 120.0), False)
    minutes, values = script.point(a)
    assert minutes == 1.5  # the evaluation's own 999 s are not training
    assert values == {"generated pitch accuracy": 0.25, "generated family / ceiling": 0.5,
                      "reconstructed pitch accuracy": 0.75}
    out = tmp_path / "plot.png"
    assert script.main([str(out), f"short={a}", f"long={b}"]) == 0
    assert out.stat().st_size > 5000
    table = capsys.readouterr().out.splitlines()
    assert table[2] == "| short | 1.5 | 25.0 % | 50.0 % | 75.0 % |"
    assert table[3] == "| long | 4.0 | 50.0 % | 50.0 % | – |"
    assert script.main([str(out), "no-equals-sign"]) == 2


def test_recorded_points_join_the_reports(tmp_path, capsys):
    """A points file redraws runs whose folders are gone; an empty cell is a measure not taken."""
    script = _script()
    points = tmp_path / "points.csv"
    points.write_text("run,train_min,generated_pitch,generated_family_ratio,reconstructed_pitch,source\n"
                      "old,10.6,0.919,0.476,,section 7.1\n")
    report = _report(tmp_path / "a.json", 0.25, (60.0, 30.0), True)
    assert script.main([str(tmp_path / "plot.png"), str(points), f"new={report}"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[2] == "| old | 10.6 | 91.9 % | 47.6 % | – |"
    assert table[3] == "| new | 1.5 | 25.0 % | 50.0 % | 75.0 % |"


def test_the_recorded_points_file_reads():
    """docs/results/quality-vs-minutes.csv, which the results doc's plot is drawn from, parses:
    every row has its minutes and at least the generated pitch, as fractions."""
    rows = _script().recorded_points(ROOT / "docs" / "results" / "quality-vs-minutes.csv")
    assert len(rows) >= 9
    for run, minutes, values in rows:
        assert minutes > 0 and values["generated pitch accuracy"] is not None, run
        assert all(v is None or 0.0 <= v <= 1.0 for v in values.values()), run
