#!/usr/bin/env bash
# The GPU check (issue 14): CUDA tests, xformers/sdpa parity, bf16 training steps and edit latency
# at the paper's sizes, and the CUDA benchmarks, in at most 8 minutes on one GPU; one JSON report.
# Without CUDA it runs the short CPU parts and reports the GPU parts as skipped, with the reason.
#
#   bash scripts/gpu-check.sh [REPORT.json]      # default outputs/gpu-check.json (exit 1 if a part fails)
#
# The logic and the report's format are in scripts/gpu_check.py.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
# 8 minutes at most, whatever happens; the report is rewritten after every part
exec timeout --signal=TERM --kill-after=10 480 "$PY" scripts/gpu_check.py "$@"
