#!/usr/bin/env bash
# Set up everything specinpaint needs on a fresh Debian/Ubuntu machine (CPU is enough):
# system packages, a virtual environment in .venv, CPU torch, the project with its extras,
# and the example third-party plugin. Safe to run again (it only adds what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  portaudio19-dev     # lets pip build pyaudio, a declared dependency of tinysoundfont (renderer)
  fluid-soundfont-gm  # FluidR3_GM.sf2: the larger General MIDI SoundFont (optional for rendering)
  chromium chromium-driver  # headless browser test of the web app
)
if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip install -q --disable-pip-version-check)
# CPU torch first and pinned: a bare `torch` requirement would resolve to a multi-GB CUDA build.
if [ -n "${TORCH_INDEX_URL:-}" ]; then
  "${PIP[@]}" "torch==2.13.0" --index-url "$TORCH_INDEX_URL"
else
  "${PIP[@]}" "torch==2.13.0"
fi
"${PIP[@]}" -e ".[dev,render,app,tensorboard]"
"${PIP[@]}" ./plugins/specinpaint-logstft
# Warm numba's cache once (librosa's first STFT compiles for ~15 s in a fresh venv).
.venv/bin/python -c "import numpy, librosa; librosa.stft(numpy.zeros(4096, dtype='float32'))" >/dev/null
echo "setup done: .venv ready"
