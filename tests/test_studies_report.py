"""Study tables (CSV, Markdown, JSON), the column vocabulary and the PNG plots, on synthetic runs."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from specinpaint.studies.columns import best_index, describe, order_key, ordered
from specinpaint.studies.study_report import clear_winner, table_csv, table_markdown, write_report
from specinpaint.studies.study_results import RunResult, mean_std, read_result, summarize

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NAMES = ["gansynth", "threshold", "compressed", "paper"]


def flat_metrics(i: int, seed: int) -> dict[str, float]:
    """What `EvaluationReport.flat()` gives for a whole pipeline, with made-up values."""
    noise = 0.001 * seed
    metrics = {
        "reconstruction.notes": 8.0, "reconstruction.sc": 0.5 - 0.05 * i + noise,
        "reconstruction.lsd_db": 10.0 + i, "reconstruction.mrstft": 2.0 - 0.1 * i,
        "reconstruction.roundtrip_sc": 0.2, "reconstruction.sc_vs_roundtrip": 0.4,
        "reconstruction.level_error_db_mean": -3.0 + i, "reconstruction.level_error_db_std": 2.0,
        "reconstruction.pitch_accuracy": 0.6 + 0.1 * i, "reconstruction.raw_pitch_accuracy": 0.9,
        "reconstruction.family_accuracy": 0.5, "reconstruction.raw_family_accuracy": 0.8,
        "reconstruction.top_perplexity": 100.0 + i, "reconstruction.bottom_dead_fraction": 0.5,
        "reconstruction.bottom_silent_entropy_bits": 4.0 - i, "reconstruction.top_silent_fraction": 0.3,
        "generation.notes": 54.0, "generation.pitch_accuracy": 0.2 + 0.02 * i + 0.05 * seed,
        "generation.family_accuracy": 0.4, "generation.family_accuracy_ratio": 0.5,
        "inpainting.codes_outside_unchanged": 1.0, "inpainting.outside_lsd_db": 3.0,
        "inpainting.pitch_accuracy": 0.3,
        "priors.top_nll": 3.0 - 0.1 * i, "priors.top_accuracy": 0.3, "priors.bottom_nll_region": 2.0,
        "priors.bottom_accuracy_region": 0.4,
        "timing.classifier": 1.0, "timing.reconstruction": 2.0, "timing.train_quantizer": 30.0,
    }
    if i == 3:
        metrics["reconstruction.top_silent_entropy_bits"] = math.nan  # no silent top cell: n/a
    return metrics


def synthetic_runs(seeds=(0, 1, 2)):
    return [RunResult(name, f"label {name}", flat_metrics(i, seed), "f" * 16, {"train_s": 1.5, "eval_s": 0.5},
                      seed=seed) for i, name in enumerate(NAMES) for seed in seeds]


def test_vocabulary_meanings_and_directions():
    assert describe("reconstruction.sc")[1] == "lower"
    assert describe("generation.pitch_accuracy") == (
        "generated notes whose pYIN pitch is the requested one (share)", "higher")
    assert describe("reconstruction.level_error_db_mean")[1] == "zero"
    assert describe("reconstruction.raw_pitch_accuracy")[1] == ""  # a ceiling, not a score
    assert describe("priors.bottom_accuracy_region") == ("bottom level: prior accuracy with the middle box hidden",
                                                         "higher")
    assert describe("priors.top_nll")[0].startswith("top level: prior NLL")
    assert describe("reconstruction.middle_silent_distinct_codes")[0].startswith("middle level: distinct codes")
    assert describe("timing.train_prior_top")[0] == "seconds training the prior top"
    assert describe("train_s")[0].startswith("wall seconds") and describe("nonsense") == ("", "")
    columns = ["train_s", "timing.reconstruction", "priors.top_nll", "inpainting.pitch_accuracy",
               "generation.pitch_accuracy", "reconstruction.top_perplexity", "reconstruction.pitch_accuracy",
               "reconstruction.sc", "zzz.unknown"]
    assert ordered(columns) == ["reconstruction.sc", "reconstruction.pitch_accuracy", "reconstruction.top_perplexity",
                                "generation.pitch_accuracy", "inpainting.pitch_accuracy", "priors.top_nll",
                                "timing.reconstruction", "train_s", "zzz.unknown"]
    assert order_key("priors.top_accuracy") < order_key("priors.top_nll_region")
    assert best_index([0.3, -0.1, 0.2], "zero") == 1 and best_index([0.3, math.nan, 0.5], "higher") == 2
    assert best_index([1.0, 2.0], "") is None


def test_mean_std_and_summaries():
    assert mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0, 3)
    mean, std, n = mean_std([4.0, math.nan])
    assert (mean, n) == (4.0, 1) and math.isnan(std)
    summaries = summarize(synthetic_runs())
    assert [s.name for s in summaries] == NAMES and summaries[0].seeds == [0, 1, 2]
    assert summaries[1].stats("generation.pitch_accuracy") == pytest.approx((0.27, 0.05, 3))
    assert all(math.isnan(v) for v in summaries[3].per_seed("reconstruction.top_silent_entropy_bits"))
    mean, std, n = summaries[3].stats("reconstruction.top_silent_entropy_bits")
    assert n == 0 and math.isnan(mean) and math.isnan(std)


def test_clear_winner_needs_a_gap_beyond_the_noise():
    summaries = summarize(synthetic_runs())
    assert clear_winner(summaries, "reconstruction.sc") == 3  # 0.05 apart, std 0.001
    assert clear_winner(summaries, "generation.pitch_accuracy") is None  # 0.02 apart, std 0.05: noise
    assert clear_winner(summaries, "reconstruction.raw_pitch_accuracy") is None  # no direction
    assert clear_winner(summaries, "reconstruction.level_error_db_mean") == 3  # 0 dB beats -1 dB
    assert clear_winner(summarize(synthetic_runs(seeds=(0,))), "reconstruction.sc") is None  # one seed


def test_csv_one_row_per_run_plus_mean_and_std():
    rows = list(csv.DictReader(io.StringIO(table_csv(synthetic_runs()))))
    assert [(r["variant"], r["seed"]) for r in rows[:5]] == [
        ("gansynth", "0"), ("gansynth", "1"), ("gansynth", "2"), ("gansynth", "mean"), ("gansynth", "std")]
    header = list(rows[0])
    assert header[:5] == ["variant", "label", "seed", "reconstruction.sc", "reconstruction.lsd_db"]
    assert header[-2:] == ["train_s", "eval_s"]
    assert header.index("reconstruction.pitch_accuracy") < header.index("reconstruction.top_perplexity")
    assert header.index("reconstruction.top_perplexity") < header.index("generation.pitch_accuracy")
    mean = next(r for r in rows if r["variant"] == "threshold" and r["seed"] == "mean")
    std = next(r for r in rows if r["variant"] == "threshold" and r["seed"] == "std")
    assert float(mean["reconstruction.sc"]) == pytest.approx(0.451)
    assert float(std["generation.pitch_accuracy"]) == pytest.approx(0.05)
    assert float(mean["generation.pitch_accuracy"]) == pytest.approx(0.27)
    assert all(r["reconstruction.top_silent_entropy_bits"] == "" for r in rows if r["variant"] == "paper")
    single = list(csv.DictReader(io.StringIO(table_csv(synthetic_runs(seeds=(0,))))))
    assert [r["seed"] for r in single] == ["0"] * 4  # one seed: no mean/std rows


def test_markdown_sections_mean_std_bold_and_legend():
    md = table_markdown(synthetic_runs(), "Representation ablation", {"budget": "ci", "seeds": [0, 1, 2]})
    lines = md.splitlines()
    assert lines[0] == "# Representation ablation"
    assert "- **budget**: ci" in lines and "- **seeds**: 0, 1, 2" in lines
    for section in ("## Reconstruction", "## Generation", "## Inpainting", "## Priors", "## Timing"):
        assert section in lines
    header = next(line for line in lines if line.startswith("| measure"))
    assert header == "| measure | better | gansynth (n=3) | threshold (n=3) | compressed (n=3) | paper (n=3) |"
    sc = next(line for line in lines if line.startswith("| `sc` |"))
    assert sc == "| `sc` | ↓ | 0.501 ± 0.001 | 0.451 ± 0.001 | 0.401 ± 0.001 | **0.351 ± 0.001** |"
    generated = lines[lines.index("## Generation"):]
    pitch = next(line for line in generated if line.startswith("| `pitch_accuracy` |"))
    assert pitch.startswith("| `pitch_accuracy` | ↑ | 0.25 ± 0.05 |") and "**" not in pitch
    level = next(line for line in lines if line.startswith("| `level_error_db_mean` |"))
    assert "| →0 |" in level
    entropy = next(line for line in lines if line.startswith("| `top_silent_entropy_bits` |"))
    assert entropy.endswith("| n/a |")
    assert "- `generation.family_accuracy_ratio`: family accuracy over that ceiling" in lines
    assert any(line.startswith("- `priors.bottom_nll_region`: bottom level: prior NLL") for line in lines)
    assert "- `gansynth`: label gansynth (seeds 0, 1, 2)" in lines
    one = table_markdown(synthetic_runs(seeds=(7,)), "t")
    assert "±" not in one and "**" not in one and "(n=" not in one and "one run per variant" in one
    assert "| `sc` | ↓ | 0.507 | 0.457 | 0.407 | 0.357 |" in one


def test_write_report_files_and_plots(tmp_path):
    files = write_report(tmp_path, synthetic_runs(), "t", {"budget": "ci"})
    for key in ("csv", "markdown", "json"):
        assert files[key].is_file()
    payload = json.loads(files["json"].read_text())
    assert payload["meta"]["budget"] == "ci" and len(payload["variants"]) == 4
    paper = payload["variants"][3]
    assert paper["seeds"] == [0, 1, 2] and paper["mean"]["reconstruction.top_silent_entropy_bits"] is None
    assert paper["std"]["generation.pitch_accuracy"] == pytest.approx(0.05)
    assert [run["values"]["generation.pitch_accuracy"] for run in paper["runs"]] == pytest.approx([0.26, 0.31, 0.36])
    assert payload["columns"]["reconstruction.sc"] == {"meaning": "spectral convergence, decoded vs raw notes",
                                                       "better": "lower"}
    plots = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert plots == ["codebook.png", "family.png", "pitch.png", "priors.png", "silence.png", "spectral.png",
                     "timing.png"]
    for name in plots:
        data = (tmp_path / "plots" / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000
    assert not [p for p in tmp_path.rglob("*.tmp")]  # atomic writes leave no temporaries


def test_plots_skip_absent_groups(tmp_path):
    only_sc = [RunResult("a", "a", {"reconstruction.sc": 0.1}, "x"), RunResult("b", "b", {"reconstruction.sc": 0.2}, "y")]
    write_report(tmp_path, only_sc)
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["spectral.png"]


def test_result_files_round_trip_and_old_formats_are_rerun(tmp_path):
    run = RunResult("a", "A", {"reconstruction.sc": 0.25, "generation.pitch_accuracy": math.nan}, "abc",
                    {"train_s": 1.0}, {"budget": "ci"}, seed=3)
    path = tmp_path / "result.json"
    path.write_text(json.dumps(run.to_json()))
    back = read_result(path)
    assert back.seed == 3 and back.metrics["reconstruction.sc"] == 0.25
    assert math.isnan(back.metrics["generation.pitch_accuracy"]) and back.values["train_s"] == 1.0
    old = {**run.to_json(), "format": 1}
    path.write_text(json.dumps(old))
    assert read_result(path) is None  # a result of the former evaluator: evaluated again
    path.write_text("{broken")
    assert read_result(path) is None
