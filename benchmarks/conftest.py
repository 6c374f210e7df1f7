"""Shared benchmark fixtures and record metadata for every room's speed suite.

* Collection: ``bench_*.py`` files are collected as test modules (besides pytest's ``test_*.py``).
* Fakes: ``tests/`` is put on ``sys.path`` so benchmarks share the test doubles (``from fakes.notes
  import note_batch``); they are not part of the installed package.
* Record metadata: every ``--benchmark-json`` record gets ``machine_info["specinpaint"]`` (device,
  dtype, thread count, CUDA/GPU name, library versions), and every benchmark's ``extra_info``
  gets ``device``, ``dtype`` and ``scale`` unless the benchmark set them itself.
* Sizes: :func:`bench_scale` is ``"full"`` when ``SPECINPAINT_BENCH_FULL=1``, ``"tiny"`` under
  ``--benchmark-disable`` (CI: each benchmark runs once as a test, on tiny sizes), ``"small"``
  otherwise. ``pick_size(tiny=..., small=..., full=...)`` chooses accordingly.
* Speed targets are ratios against a baseline measured in the same run: ``record_ratio`` stores
  ``{name}_s``, ``{baseline}_s`` and ``{name}_speedup`` in ``extra_info`` (``time_call`` measures
  the baseline).
"""

from __future__ import annotations

import fnmatch
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_TESTS = str(Path(__file__).resolve().parent.parent / "tests")
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

FULL_ENV = "SPECINPAINT_BENCH_FULL"
DEVICE_ENV = "SPECINPAINT_BENCH_DEVICE"


# -- collection --------------------------------------------------------------------------------

def pytest_collect_file(file_path, parent):
    """Collect ``bench_*.py`` unless pytest's own ``python_files`` already matches it."""
    if file_path.suffix != ".py" or not file_path.name.startswith("bench_"):
        return None
    if parent.session.isinitpath(file_path):
        return None  # named on the command line: pytest collects it itself
    patterns = parent.config.getini("python_files")
    if any(fnmatch.fnmatch(file_path.name, p) for p in patterns):
        return None
    return pytest.Module.from_parent(parent, path=file_path)


# -- environment -------------------------------------------------------------------------------

def bench_device_name() -> str:
    """``SPECINPAINT_BENCH_DEVICE`` if set, else ``cuda`` when available, else ``cpu``."""
    import torch

    wanted = os.environ.get(DEVICE_ENV)
    if wanted:
        return wanted
    return "cuda" if torch.cuda.is_available() else "cpu"


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("specinpaint", "torch", "numpy", "librosa", "xformers", "pytest-benchmark"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def environment_info() -> dict[str, Any]:
    """Device, dtype, threads, CUDA/GPU and library versions: what makes timings comparable."""
    import torch

    device = bench_device_name()
    info: dict[str, Any] = {
        "device": device,
        "dtype": str(torch.get_default_dtype()).replace("torch.", ""),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "cuda_available": torch.cuda.is_available(),
        "scale_env": os.environ.get(FULL_ENV, ""),
        **_versions(),
    }
    info["torch"] = torch.__version__
    if torch.cuda.is_available():
        info["cuda"] = torch.version.cuda
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cudnn"] = torch.backends.cudnn.version()
    return info


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["specinpaint"] = environment_info()


def _scale(config) -> str:
    if os.environ.get(FULL_ENV, "").strip() not in ("", "0", "false", "False"):
        return "full"
    if config.getoption("benchmark_disable", default=False):
        return "tiny"
    return "small"


# -- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def bench_scale(pytestconfig) -> str:
    """``tiny`` (--benchmark-disable, CI), ``small`` (default timing run) or ``full`` (env)."""
    return _scale(pytestconfig)


@pytest.fixture(scope="session")
def bench_full(bench_scale) -> bool:
    return bench_scale == "full"


@pytest.fixture(scope="session")
def pick_size(bench_scale) -> Callable[..., Any]:
    """``pick_size(tiny=a, small=b, full=c)`` → the value for this run (small defaults to tiny,
    full to small)."""

    def pick(tiny: Any, small: Any = None, full: Any = None) -> Any:
        small = tiny if small is None else small
        full = small if full is None else full
        return {"tiny": tiny, "small": small, "full": full}[bench_scale]

    return pick


@pytest.fixture(scope="session")
def bench_device():
    """The torch device benchmarks should use (CUDA when present)."""
    import torch

    return torch.device(bench_device_name())


@pytest.fixture(scope="session")
def bench_env() -> dict[str, Any]:
    return environment_info()


@pytest.fixture(autouse=True)
def _benchmark_metadata(request, bench_scale):
    """Stamp device/dtype/scale into every benchmark's extra_info (benchmarks may overwrite)."""
    if "benchmark" not in request.fixturenames:
        yield
        return
    benchmark = request.getfixturevalue("benchmark")
    yield
    import torch

    info = benchmark.extra_info
    info.setdefault("device", bench_device_name())
    info.setdefault("dtype", str(torch.get_default_dtype()).replace("torch.", ""))
    info.setdefault("scale", bench_scale)


def time_call(fn: Callable[[], Any], repeats: int = 3, sync: bool = True) -> float:
    """Median seconds of ``repeats`` calls (CUDA synchronised), for a baseline in the same run."""
    import torch

    times = []
    for _ in range(max(1, repeats)):
        if sync and torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if sync and torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@pytest.fixture(scope="session")
def timer() -> Callable[..., float]:
    """The :func:`time_call` helper as a fixture (no import path games in benchmark files)."""
    return time_call


@pytest.fixture
def record_ratio(benchmark) -> Callable[..., float]:
    """``record_ratio("batched", t_batched, "reference", t_ref)`` → speed-up t_ref / t_batched,
    stored in extra_info with both timings."""

    def record(name: str, seconds: float, baseline: str, baseline_seconds: float) -> float:
        speedup = baseline_seconds / seconds if seconds > 0 else float("inf")
        benchmark.extra_info[f"{name}_s"] = seconds
        benchmark.extra_info[f"{baseline}_s"] = baseline_seconds
        benchmark.extra_info[f"{name}_speedup"] = speedup
        return speedup

    return record
