"""scripts/gpu-check.sh on a machine without CUDA: every part is in the JSON report, the GPU parts
are skipped with a reason, the CPU parts pass, and the whole run stays under a minute. Plus the
runner's rules (a failing part fails the report but not the others; the time budget skips parts)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from script_module import load_script

ROOT = Path(__file__).resolve().parent.parent
GPU_PARTS = ["cuda_tests", "xformers_parity", "amp_training_steps", "paper_edit_latency", "cuda_benchmarks"]
CPU_PARTS = ["environment", "sdpa_parity", "training_steps_smoke", "tiny_edit_latency"]


def _module():
    return load_script("gpu_check")


@pytest.fixture(scope="module")
def cpu_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-check") / "report.json"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHON": sys.executable}
    start = time.monotonic()
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "gpu-check.sh"), str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    return proc, json.loads(out.read_text()), time.monotonic() - start


def test_the_script_reports_every_part_and_passes_without_cuda(cpu_report):
    proc, report, seconds = cpu_report
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert seconds < 60, f"the CPU run took {seconds:.0f} s"
    assert report["format"] == 1 and report["status"] == "pass" and report["device"]["cuda"] is False
    assert list(report["parts"]) == CPU_PARTS + GPU_PARTS
    for name in GPU_PARTS:
        part = report["parts"][name]
        assert part["gpu"] and part["status"] == "skipped" and "CUDA" in part["reason"], name
    for name in CPU_PARTS:
        part = report["parts"][name]
        assert not part["gpu"] and part["status"] == "pass" and part["reason"] is None, name
    assert "gpu-check: pass" in proc.stderr


def test_the_cpu_parts_measure_what_the_gpu_parts_will(cpu_report):
    parts = cpu_report[1]["parts"]
    cases = parts["sdpa_parity"]["results"]["cases"]
    assert set(cases) == {"causal/float32", "cross/float32", "cached_step/float32", "cached_chunk/float32"}
    assert all(c["pass"] and c["forward_error"] < 1e-4 and c["backward_error"] < 1e-4 for c in cases.values())
    assert (cases["cross/float32"]["queries"], cases["cross/float32"]["keys"]) == (512, 128)
    steps = parts["training_steps_smoke"]["results"]
    for model in ("quantizer", "prior_top", "prior_bottom"):
        assert steps[model]["finite"] and steps[model]["notes_per_s"] > 0
        assert all(math.isfinite(x) for x in steps[model]["losses"])
    edit = parts["tiny_edit_latency"]["results"]
    assert edit["unmasked_codes_kept"] and 0 < edit["edit_p50_s"] <= edit["edit_p95_s"]
    backends = {b["name"]: b for b in parts["environment"]["results"]["attention_backends"]}
    assert backends["sdpa"]["available"] and not backends["xformers"]["available"]


def test_a_failing_part_fails_the_report_and_the_rest_still_run(tmp_path):
    gpu_check = _module()

    def broken(ctx):
        raise RuntimeError("boom")

    parts = [
        gpu_check.Part("broken", False, broken, 1),
        gpu_check.Part("bad_result", False, lambda ctx: (False, {"x": 1}), 1),
        gpu_check.Part("fine", False, lambda ctx: (True, {"x": 2}), 1),
        gpu_check.Part("too_long", True, lambda ctx: (True, {}), 10_000),
    ]
    report = gpu_check.run_check(tmp_path / "r.json", budget_s=100, parts=parts)
    assert json.loads((tmp_path / "r.json").read_text()) == report
    statuses = {name: part["status"] for name, part in report["parts"].items()}
    assert statuses == {"broken": "fail", "bad_result": "fail", "fine": "pass", "too_long": "skipped"}
    assert report["status"] == "fail" and "RuntimeError: boom" in report["parts"]["broken"]["reason"]
    assert "budget" in report["parts"]["too_long"]["reason"]


def test_help_names_the_default_report_path():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and "outputs/gpu-check.json" in proc.stdout
