"""Ablation tables (CSV, Markdown, JSON) and PNG plots on synthetic results."""

from __future__ import annotations

import csv
import io
import json
import math

from specinpaint.studies.study import VariantResult
from specinpaint.studies.study_report import describe, table_csv, table_markdown, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def synthetic_results():
    names = ["gansynth", "threshold", "compressed", "paper"]
    out = []
    for i, name in enumerate(names):
        metrics = {
            "sc_vs_raw": 0.5 - 0.05 * i, "lsd_vs_raw": 10.0 + i, "mrstft_vs_raw": 2.0 - 0.1 * i,
            "sc_vs_roundtrip": 0.4, "lsd_vs_roundtrip": 8.0, "mrstft_vs_roundtrip": 1.5,
            "roundtrip_sc": 0.2, "roundtrip_lsd": 3.0, "roundtrip_mrstft": 0.7,
            "top_perplexity": 100.0 + i, "bottom_perplexity": 200.0, "top_dead_fraction": 0.25,
            "bottom_dead_fraction": 0.5, "bottom_silent_entropy_bits": 4.0 - i,
            "bottom_silent_distinct_codes": 30.0 - 5 * i, "bottom_silent_fraction": 0.3,
            "pitch_accuracy": 0.6 + 0.1 * i,
        }
        if name == "paper":
            metrics["top_silent_entropy_bits"] = math.nan  # no silent top cell: reported as n/a
        out.append(VariantResult(name, f"label {name}", metrics, "f" * 16, {"train_s": 1.5, "eval_s": 0.5}))
    return out


def test_csv_has_one_row_per_variant_and_ordered_columns():
    rows = list(csv.DictReader(io.StringIO(table_csv(synthetic_results()))))
    assert [r["variant"] for r in rows] == ["gansynth", "threshold", "compressed", "paper"]
    header = list(rows[0])
    assert header[:5] == ["variant", "label", "sc_vs_raw", "lsd_vs_raw", "mrstft_vs_raw"]
    assert header[-2:] == ["train_s", "eval_s"]
    assert header.index("pitch_accuracy") < header.index("top_perplexity")
    assert float(rows[1]["sc_vs_raw"]) == 0.45
    assert rows[3]["top_silent_entropy_bits"] == "" and rows[0]["top_silent_entropy_bits"] == ""
    assert float(rows[2]["bottom_silent_entropy_bits"]) == 2.0


def test_markdown_table_arrows_values_and_legend():
    md = table_markdown(synthetic_results(), "Representation ablation", {"budget": "ci", "differs": ["representation.params.x"]})
    lines = md.splitlines()
    assert lines[0] == "# Representation ablation"
    assert "- **budget**: ci" in lines
    header = next(line for line in lines if line.startswith("| variant"))
    assert "sc_vs_raw ↓" in header and "pitch_accuracy ↑" in header and "top_perplexity ↑" in header
    row = next(line for line in lines if line.startswith("| threshold"))
    assert "| 0.45 |" in row and "| 0.7 |" in row
    assert "n/a" in next(line for line in lines if line.startswith("| paper"))
    assert any(line.startswith("- `bottom_silent_entropy_bits`: bottom level: entropy") for line in lines)
    assert describe("bottom_dead_fraction")[1] == "lower"


def test_write_report_files_and_plots(tmp_path):
    files = write_report(tmp_path, synthetic_results(), "t", {"budget": "ci"})
    for key in ("csv", "markdown", "json"):
        assert files[key].is_file()
    payload = json.loads(files["json"].read_text())
    assert len(payload["rows"]) == 4 and payload["meta"]["budget"] == "ci"
    assert payload["rows"][3]["top_silent_entropy_bits"] is None
    plots = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert plots == ["codebook.png", "pitch.png", "silence.png", "spectral.png", "timing.png"]
    for name in plots:
        data = (tmp_path / "plots" / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000
    assert not [p for p in tmp_path.rglob("*.tmp")]  # atomic writes leave no temporaries


def test_plots_skip_absent_groups(tmp_path):
    only_sc = [VariantResult("a", "a", {"sc_vs_raw": 0.1}, "x"), VariantResult("b", "b", {"sc_vs_raw": 0.2}, "y")]
    write_report(tmp_path, only_sc)
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["spectral.png"]
