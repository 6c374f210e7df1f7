"""`python benchmarks/compare.py` (benchmark tooling) on two synthetic pytest-benchmark JSON records."""

from __future__ import annotations

import csv
import io
import json
import runpy
import sys
from pathlib import Path

import pytest
from script_module import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "compare.py"


compare = load_script("compare", folder="benchmarks")
RecordError, compare_files, compare_records, load_record = (
    compare.RecordError, compare.compare_files, compare.compare_records, compare.load_record)


def bench(fullname, median, extra):
    return {
        "group": None, "name": fullname.split("::")[-1], "fullname": fullname, "params": None, "param": None,
        "extra_info": extra, "options": {},
        "stats": {"min": median * 0.9, "max": median * 1.2, "mean": median, "stddev": 0.01, "rounds": 3,
                  "median": median, "iqr": 0.0, "q1": median, "q3": median, "iqr_outliers": 0,
                  "stddev_outliers": 0, "outliers": "0;0", "ld15iqr": median, "hd15iqr": median,
                  "ops": 1 / median, "total": 3 * median, "iterations": 1},
    }


def record(path, scale, sc_paper, device="cpu"):
    data = {
        "machine_info": {"node": "box", "cpu": {"brand_raw": "Test CPU"},
                         "specinpaint": {"device": device, "torch": "2.13.0"}},
        "commit_info": {"id": "abcdef1234567890"},
        "datetime": "2025-01-01T00:00:00+00:00", "version": "5.3.1",
        "benchmarks": [
            bench("benchmarks/bench_ablation_representation.py::test_variant[gansynth]", 2.0 * scale,
                  {"study": "representation", "variant": "gansynth", "reconstruction.sc": 0.5, "reconstruction.top_perplexity": 90.0,
                   "device": device}),
            bench("benchmarks/bench_ablation_representation.py::test_variant[paper]", 3.0 * scale,
                  {"study": "representation", "variant": "paper", "reconstruction.sc": sc_paper, "reconstruction.top_perplexity": 95.0}),
            bench("benchmarks/bench_representations_speed.py::test_encode", 0.5 * scale,
                  {"batched_speedup": 12.0 / scale, "nested": {"notes": 64}, "flag": True}),
        ],
    }
    path.write_text(json.dumps(data))
    return path


def test_two_records_markdown(tmp_path):
    a = record(tmp_path / "a.json", 1.0, 0.4)
    b = record(tmp_path / "b.json", 0.5, 0.3, device="cuda")
    md = compare_files([a, b])
    assert "**A**: `" in md and "device cuda" in md and "commit abcdef1234" in md
    timing_rows = [line for line in md.splitlines() if line.startswith("| bench_")]
    assert any("test_encode" in row and "| 0.5 | 0.25 | 0.5 |" in row for row in timing_rows)
    study = md.split("## Study `representation` (A → B)")[1]
    paper_row = next(line for line in study.splitlines() if line.startswith("| paper"))
    assert "0.4 → 0.3" in paper_row and "95 → 95" in paper_row
    metrics = md.split("## Metrics (numeric extra_info)")[1]
    assert "| batched_speedup | 12 | 24 | 12 |" in metrics
    assert "nested.notes" in metrics and "flag" not in metrics
    assert "reconstruction.sc" not in metrics  # study metrics live in the study table


def test_one_record_and_csv(tmp_path):
    a = record(tmp_path / "a.json", 1.0, 0.4)
    md = compare_files([a])
    assert md.startswith("# Benchmark record") and "B/A" not in md
    rows = list(csv.DictReader(io.StringIO(compare_files([a, record(tmp_path / "b.json", 2.0, 0.4)], "csv"))))
    timing = [r for r in rows if r["quantity"] == "time_median_s" and r["benchmark"].endswith("test_encode")][0]
    assert float(timing["b_over_a"]) == pytest.approx(2.0)
    sc = [r for r in rows if r["quantity"] == "reconstruction.sc" and r["benchmark"].endswith("[paper]")][0]
    assert float(sc["b_minus_a"]) == pytest.approx(0.0)


def test_benchmarks_only_in_one_record(tmp_path):
    a = record(tmp_path / "a.json", 1.0, 0.4)
    data = json.loads(a.read_text())
    data["benchmarks"] = data["benchmarks"][:1]
    b = tmp_path / "b.json"
    b.write_text(json.dumps(data))
    comp = compare_records([load_record(a), load_record(b)])
    encode = next(t for t in comp.timings if t["benchmark"].endswith("test_encode"))
    assert encode["a"] == 0.5 and encode["b"] != encode["b"]  # NaN: missing in B
    assert "n/a" in comp.to_markdown()


def test_bad_records(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(RecordError, match="x.json: not JSON"):
        load_record(tmp_path / "x.json")
    (tmp_path / "y.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(RecordError, match="not a pytest-benchmark record"):
        load_record(tmp_path / "y.json")
    with pytest.raises(RecordError, match="cannot read"):
        load_record(tmp_path / "missing.json")


def test_script_command_line(tmp_path, capsys, monkeypatch):
    a = record(tmp_path / "a.json", 1.0, 0.4)
    b = record(tmp_path / "b.json", 0.5, 0.3)
    assert compare.main([str(a), str(b)]) == 0
    assert "## Study `representation`" in capsys.readouterr().out
    out = tmp_path / "cmp.csv"
    assert compare.main([str(a), "--format", "csv", "--output", str(out)]) == 0
    assert out.read_text().startswith("benchmark,quantity,a,b,b_over_a,b_minus_a")
    assert compare.main([str(a), str(b), str(a)]) == 2
    assert "expected one or two JSON records, got 3" in capsys.readouterr().err
    assert compare.main([str(tmp_path / "nope.json")]) == 2
    assert "nope.json: cannot read benchmark record" in capsys.readouterr().err
    # run as a script, the way the README shows it
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), str(a)])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("# Benchmark record")


def test_ablate_compare_points_to_the_script(tmp_path, capsys):
    from specinpaint.app.cli import main

    a = record(tmp_path / "a.json", 1.0, 0.4)
    assert main(["ablate", "compare", str(a)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "python benchmarks/compare.py A.json [B.json]" in err
