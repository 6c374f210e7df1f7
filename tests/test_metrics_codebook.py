"""Codebook statistics on hand-computed code tensors."""

from __future__ import annotations

import pytest
import torch

from specinpaint.core.errors import SpecinpaintError
from specinpaint.metrics.codebook import cell_entropy_bits, codebook_stats, usage_histogram


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


def test_cell_entropy_tells_a_collapsed_level_from_a_used_one():
    """Every note with the same map scores 0 bits even when the map uses many codes (a high
    perplexity over positions); maps that differ in every cell across 8 notes score 3 bits."""
    same_map = torch.arange(32 * 4).remainder(512).reshape(1, 32, 4).repeat(8, 1, 1)  # paper top shape
    assert codebook_stats(same_map, 512).perplexity == pytest.approx(128.0)
    assert cell_entropy_bits(same_map, 512) == 0.0
    distinct = torch.arange(8)[:, None, None].expand(8, 32, 4)
    assert cell_entropy_bits(distinct, 512) == pytest.approx(3.0)
    half = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])[:, None, None].expand(8, 2, 2)  # one bit in every cell
    assert cell_entropy_bits(half, 2) == pytest.approx(1.0)
    with pytest.raises(SpecinpaintError, match="codes \\[N, F, T\\]"):
        cell_entropy_bits(torch.zeros(4, 4, dtype=torch.long), 2)
