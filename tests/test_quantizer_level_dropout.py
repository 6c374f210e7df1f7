"""``quantizer.params.finest_level_dropout``: in training, a share of the examples reach the
decoder without their finest level's map (so the coarser levels must carry the note); never in
evaluation, and the paper's shapes train with it."""

from __future__ import annotations

import pytest
import torch

from fakes.training import synthetic_config
from specinpaint.core import Pipeline, load_config
from specinpaint.core.pipeline import build_pipeline

pytestmark = pytest.mark.usefixtures("synthetic_one_thread")


def _pipeline(rate: float) -> Pipeline:
    torch.manual_seed(0)  # the same initial weights whatever the rate
    return Pipeline(load_config(synthetic_config(count=8, priors=False, finest_level_dropout=rate)))


def test_training_hides_the_finest_map_of_the_configured_share_of_examples():
    quantizer = _pipeline(0.25).quantizer.train()
    finest = torch.randn(2000, 4, 2, 2) + 5.0  # never zero by chance
    torch.manual_seed(1)
    out = quantizer._drop_finest(finest)
    hidden = (out == 0).flatten(1).all(dim=1)
    kept = torch.equal(out[~hidden], finest[~hidden])
    assert kept and 0.2 < hidden.float().mean() < 0.3  # whole examples, about a quarter of them
    assert torch.equal(quantizer.eval()._drop_finest(finest), finest)  # evaluation sees every level
    assert torch.equal(_pipeline(0.0).quantizer.train()._drop_finest(finest), finest)


def test_a_hidden_finest_map_changes_the_training_reconstruction_only():
    """Same weights, same seed, one training pass each: only the dropout tells the passes apart
    (a rate-0 twin gives the very same output), and evaluation ignores the rate."""
    x = torch.randn(6, *_pipeline(0.0).spectrogram_shape)

    def train_pass(rate: float) -> torch.Tensor:
        quantizer = _pipeline(rate).quantizer.train()
        torch.manual_seed(3)
        with torch.no_grad():
            return quantizer(x).reconstruction

    def eval_pass(rate: float) -> torch.Tensor:
        with torch.no_grad():
            return _pipeline(rate).quantizer.eval()(x).reconstruction

    assert torch.equal(train_pass(0.0), train_pass(0.0))
    assert not torch.allclose(train_pass(0.9), train_pass(0.0))
    assert torch.equal(eval_pass(0.9), eval_pass(0.0))


def test_paper_shapes_train_a_step_with_it():
    pipe = build_pipeline("configs/paper.yaml", ["quantizer.params.finest_level_dropout=0.1"])
    out = pipe.quantizer.train()(torch.randn(1, *pipe.spectrogram_shape))
    out.loss.backward()
    assert out.reconstruction.shape == (1, 2, 1024, 128) and torch.isfinite(out.loss)
