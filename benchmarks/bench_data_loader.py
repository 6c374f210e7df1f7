"""NSynth loader throughput: ``NSynthDataset.__getitem__`` against a bare ``soundfile.read`` of the
same files (the floor), plus construction time with header validation per 1000 notes.

Recorded in ``extra_info``: ``notes``, ``items_per_second``, ``loader_s`` / ``soundfile_s`` and
``loader_overhead`` (loader time / bare read time), ``construct_header_s_per_1000``.
"""

from __future__ import annotations

import time

import pytest
import soundfile as sf

from fakes.nsynth import write_fake_nsynth
from specinpaint.data.nsynth import NSynthDataset

MAX_OVERHEAD = 2.0  # the loader may cost at most 2x a bare soundfile.read of the same file


def notes_for(count: int) -> list[tuple[str, int, int, int, int]]:
    grid = [(f, s) for f in range(11) for s in range(3)]
    return [("train", *grid[i % len(grid)], 24 + (i // len(grid)) % 61, (25, 50, 75, 100, 127)[i % 5])
            for i in range(count)]


@pytest.fixture(scope="module")
def dataset_root(tmp_path_factory, pick_size):
    count = pick_size(tiny=60, small=400, full=2000)
    return write_fake_nsynth(tmp_path_factory.mktemp("loader"), notes_for(count))


def test_loader_throughput(benchmark, dataset_root, timer, record_ratio):
    start = time.perf_counter()
    ds = NSynthDataset(NSynthDataset.Params(root=str(dataset_root), split="train", split_scheme="official",
                                            pitch_min=0, pitch_max=127))
    construct_s = time.perf_counter() - start
    paths = [str(ds.audio_path(i)) for i in range(len(ds))]

    def load_all():
        for i in range(len(ds)):
            ds[i]

    benchmark.pedantic(load_all, rounds=1 if benchmark.disabled else 3, iterations=1)
    loader_s = benchmark.stats.stats.median if not benchmark.disabled else timer(load_all, repeats=1)
    bare_s = timer(lambda: [sf.read(p, dtype="float32") for p in paths], repeats=1 if benchmark.disabled else 3)
    record_ratio("loader", loader_s, "soundfile", bare_s)
    benchmark.extra_info.update(
        notes=len(ds), items_per_second=len(ds) / loader_s, loader_overhead=loader_s / bare_s,
        construct_header_s_per_1000=construct_s / len(ds) * 1000,
    )
    assert len(ds) == len(paths) > 0
    if not benchmark.disabled:
        assert loader_s / bare_s < MAX_OVERHEAD
