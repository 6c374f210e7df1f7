"""The shipped pipeline configs validate, build, and hold the paper's numbers."""

from __future__ import annotations

import math

import pytest
import torch

from specinpaint.core import build_pipeline, load_config
from specinpaint.core.yaml_config import builtin_configs


def _sine(batch: int = 2) -> torch.Tensor:
    return 0.3 * torch.sin(2 * torch.pi * 220 * torch.arange(64000) / 16000).repeat(batch, 1)


@pytest.fixture(scope="module")
def paper():
    torch.manual_seed(0)
    pipe = build_pipeline("paper").eval()
    pipe.fit_normalizer([_sine() + 0.01 * torch.randn(2, 64000)])  # mode fitted: statistics before use
    return pipe


def test_every_builtin_pipeline_config_validates():
    names = [n for n in builtin_configs() if not n.startswith("ablations/")]
    assert {"paper", "tiny"} <= set(names)
    for name in names:
        load_config(name)


def test_paper_config_is_the_papers_configuration(paper):
    rep = paper.representation.params
    assert (rep.sample_rate, rep.n_fft, rep.hop_length, rep.n_mels) == (16000, 2048, 512, 1024)
    assert rep.mel_break_frequency_hz == 275.0
    assert rep.phase_threshold == pytest.approx(math.log(2e-6))
    q = paper.quantizer.params
    assert (q.hidden_channels, q.residual_channels, q.num_residual_blocks, q.embed_dim, q.num_codes) == (
        128, 32, 2, 64, 512
    )
    assert q.decay == 0.99 and q.commitment_cost == 0.25
    for level in ("top", "bottom"):
        p = paper.priors[level].params
        assert (p.d_model, p.num_heads, p.num_encoder_layers, p.num_decoder_layers, p.ffn_dim, p.dropout) == (
            512, 16, 6, 8, 2048, 0.1
        )
    assert paper.config.sampling.top_p == 0.8
    assert paper.config.data.dataset.params["pitch_min"] == 24 and paper.config.data.dataset.params["pitch_max"] == 84


def test_paper_pipeline_shapes_end_to_end(paper):
    assert paper.spectrogram_shape == (2, 1024, 128)
    assert paper.codemap_shapes == {"top": (32, 4), "bottom": (64, 8)}
    codes = paper.encode(_sine())
    assert codes.shapes == {"top": (32, 4), "bottom": (64, 8)} and codes.batch_size == 2
    assert int(codes["top"].max()) < 512 and int(codes["bottom"].min()) >= 0
    out = paper.decode(codes)
    assert out.shape == (2, 64000) and torch.isfinite(out).all()


def test_tiny_config_is_small_and_consistent():
    tiny = build_pipeline("tiny")
    assert tiny.spectrogram_shape == (2, 256, 128)
    assert tiny.codemap_shapes == {"top": (8, 4), "bottom": (16, 8)}
    assert sum(p.numel() for p in tiny.parameters()) < 1_000_000
    assert tiny.config.training.quantizer.steps <= 1000


def test_an_absurd_codebook_in_a_shipped_config_is_refused_before_allocation():
    from specinpaint.core import ConfigError

    with pytest.raises(ConfigError, match=r"^tiny: quantizer\.params: the model would hold 1\.3\de\+13 "
                                          r"parameters and buffers") as info:
        build_pipeline("tiny", ["quantizer.params.num_codes=100000000000"])
    assert "\n" not in str(info.value)


def test_converted_built_in_configs_use_training_priors_only():
    """paper.yaml and the studies are written with ``training.priors.<level>`` (no former keys)."""
    import warnings

    from specinpaint.core.yaml_config import CONFIG_DIR

    for path in (CONFIG_DIR / "paper.yaml", *sorted((CONFIG_DIR / "ablations").glob("*.yaml"))):
        assert "prior_top" not in path.read_text() and "prior_bottom" not in path.read_text(), path
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        config = load_config("paper")
    assert list(config.training.priors) == ["top", "bottom"] and config.training.prior("top").steps == 2362500
