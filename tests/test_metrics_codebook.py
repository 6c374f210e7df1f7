"""Codebook statistics on hand-computed code tensors."""

from __future__ import annotations

import pytest
import torch

from specinpaint.core.errors import SpecinpaintError
from specinpaint.metrics.codebook import codebook_stats, usage_histogram


def test_hand_computed_stats():
    codes = torch.tensor([[0, 0], [1, 1]])
    stats = codebook_stats(codes, 4)
    assert stats.histogram.tolist() == [2, 2, 0, 0]
    assert stats.perplexity == pytest.approx(2.0)
    assert stats.dead_fraction == 0.5 and stats.used == 2
    # skewed usage: p = (3/4, 1/4) -> exp(H)
    h = -(0.75 * torch.log(torch.tensor(0.75)) + 0.25 * torch.log(torch.tensor(0.25)))
    assert codebook_stats(torch.tensor([5, 5, 5, 2]), 8).perplexity == pytest.approx(float(h.exp()), rel=1e-6)
    assert codebook_stats(torch.tensor([5, 5, 5, 2]), 8, dead_threshold=1).dead_fraction == 7 / 8


def test_uniform_and_collapsed_codebooks_at_paper_shapes():
    top = torch.arange(512).repeat(2).reshape(32, 32)  # every code of a 512-entry codebook twice
    uniform = codebook_stats(top, 512)
    assert uniform.perplexity == pytest.approx(512.0)
    assert uniform.dead_fraction == 0.0
    collapsed = torch.full((16, 64, 8), 7)  # bottom codemaps [B, 64, 8], one code used
    stats = codebook_stats(collapsed, 512)
    assert stats.perplexity == pytest.approx(1.0) and stats.used == 1
    assert stats.dead_fraction == pytest.approx(511 / 512)


def test_bad_codes():
    with pytest.raises(SpecinpaintError, match="0..3"):
        usage_histogram(torch.tensor([0, 4]), 4)
    with pytest.raises(SpecinpaintError, match="integer"):
        usage_histogram(torch.tensor([0.5]), 4)
    assert codebook_stats(torch.zeros(0, dtype=torch.long), 4).perplexity == 0.0
