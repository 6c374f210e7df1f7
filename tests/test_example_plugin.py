"""The separately installed example plugin is found by name and usable from a pipeline YAML,
although the core never imports it."""

from __future__ import annotations

import subprocess
import sys

import torch
import yaml

from fakes.spine import fake_config
from specinpaint.core import build_pipeline
from specinpaint.core.registry import representations

PLUGIN = "logstft-griffinlim"


def test_plugin_is_discovered_from_its_own_distribution():
    assert PLUGIN in representations.names(), (
        "install the example plugin: pip install ./plugins/specinpaint-logstft"
    )
    assert representations.info(PLUGIN).distribution == "specinpaint-logstft"


def test_core_sources_never_import_the_plugin():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for folder in ("core", "representations", "quantizers", "priors", "app", "data", "training"):
        for path in (root / folder).rglob("*.py"):
            assert "specinpaint_logstft" not in path.read_text(), path


def test_pipeline_yaml_uses_the_plugin(tmp_path, fake_plugins):
    config = fake_config(
        num_samples=4096,
        representation={"name": PLUGIN, "params": {"n_fft": 256, "hop_length": 64, "griffin_lim_iters": 32}},
        priors={},
    )
    path = tmp_path / "plugin.yaml"
    path.write_text(yaml.safe_dump(config))
    pipeline = build_pipeline(path)
    assert type(pipeline.representation).__module__ == "specinpaint_logstft.representation"
    assert pipeline.spectrogram_shape == (1, 128, 65)
    t = torch.arange(4096) / 16000
    audio = (0.5 * torch.sin(2 * torch.pi * 440 * t)).unsqueeze(0)
    spec = pipeline.representation.encode(audio)
    assert spec.shape == (1, 1, 128, 65)
    back = pipeline.representation.decode(spec, 4096)
    assert back.shape == (1, 4096)
    # Griffin-Lim recovers the magnitude spectrum well (phase may differ).
    mag_in = torch.stft(audio, 256, 64, window=torch.hann_window(256), return_complex=True).abs()
    mag_out = torch.stft(back, 256, 64, window=torch.hann_window(256), return_complex=True).abs()
    convergence = (mag_in - mag_out).norm() / mag_in.norm()
    assert convergence < 0.15


def test_cli_lists_the_plugin():
    out = subprocess.run(
        [sys.executable, "-m", "specinpaint.app.cli", "plugins", "list", "--kind", "representations"],
        capture_output=True, text=True, check=True,
    ).stdout
    line = next(row for row in out.splitlines() if row.split()[1:2] == [PLUGIN])
    assert "specinpaint-logstft" in line and "Griffin-Lim" in line
