"""SoundFont renderer throughput (notes/s) against the cost of just writing the same WAV files.

Recorded in ``extra_info``: ``notes``, ``workers``, ``notes_per_second`` (whole render: calibration,
synthesis, quality analysis, 16-bit WAV writes, JSON), ``render_s`` / ``wav_write_s`` and their
ratio, and at small/full scale the speed-up of the worker pool over one process.
"""

from __future__ import annotations

import itertools
import json
import os

import numpy as np
import pytest

pytest.importorskip("tinysoundfont")

from specinpaint.data.render_spec import RenderSpec  # noqa: E402
from specinpaint.data.renderer import REPORT_FILE, render_dataset  # noqa: E402

# whole render at most this many times slower than writing the WAVs alone (measured ~3-4x)
MAX_RENDER_VS_WRITE = 15.0


def spec_for(scale: str) -> RenderSpec:
    if scale == "tiny":
        return RenderSpec.tiny()  # 46 notes planned with the pretty_midi SoundFont
    if scale == "small":
        return RenderSpec()  # the built-in dataset, 979 notes planned
    return RenderSpec(velocities_per_pitch=3)  # 2937 notes planned


def test_render_throughput(benchmark, bench_scale, tmp_path, timer, record_ratio):
    spec = spec_for(bench_scale)
    workers = min(os.cpu_count() or 1, 8)
    counter = itertools.count()

    def render():
        return render_dataset(tmp_path / f"r{next(counter)}", spec, workers=workers)

    out = benchmark.pedantic(render, rounds=1 if bench_scale == "tiny" else 2, iterations=1)
    report = json.loads((out / REPORT_FILE).read_text())
    notes = report["notes_planned"]
    assert report["notes_written"] >= 0.9 * notes
    benchmark.extra_info.update(notes=notes, workers=workers, notes_per_second=report["notes_per_second"])

    # baseline: write the same number of 4 s 16-bit WAVs from memory (the I/O floor of any renderer)
    import soundfile as sf

    audio = (0.1 * np.random.default_rng(0).standard_normal(64000)).astype(np.float32)
    wav_dir = tmp_path / "wav"
    wav_dir.mkdir()

    def write_all():
        for i in range(notes):
            sf.write(str(wav_dir / f"{i}.wav"), audio, 16000, subtype="PCM_16", format="WAV")

    write_s = timer(write_all, repeats=1)
    render_s = report["seconds"]
    record_ratio("render", render_s, "wav_write", write_s)
    benchmark.extra_info["render_vs_wav_write"] = render_s / write_s
    if not benchmark.disabled:
        assert render_s / write_s < MAX_RENDER_VS_WRITE
        if workers > 1:
            single = timer(lambda: render_dataset(tmp_path / f"r{next(counter)}", spec, workers=1), repeats=1)
            record_ratio("pool", render_s, "one_process", single)
