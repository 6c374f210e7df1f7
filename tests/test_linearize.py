"""Codemap linearisation: the paper's orders, k(i) alignment, exact inverses, generic shapes."""

import pytest
import torch

from specinpaint.core.errors import SpecinpaintError
from specinpaint.core.linearize import Linearizer, linearizers, upsampling_factors


def arange_map(f, t):
    return torch.arange(f * t).view(f, t)  # value = f·T + t


def test_top_order_is_column_by_column_low_to_high_frequency():
    lin = Linearizer.columns((32, 4))
    seq = lin.to_sequence(arange_map(32, 4))
    assert lin.length == 128
    # first column bottom-up: (0,0), (1,0), (2,0) ... then the second column
    assert seq[:3].tolist() == [0, 4, 8]
    assert seq[31].item() == 31 * 4
    assert seq[32].item() == 1
    assert seq[127].item() == 31 * 4 + 3
    assert lin.coords[33].tolist() == [1, 1]


def test_bottom_order_is_patch_major_frequency_first():
    lins = linearizers({"top": (32, 4), "bottom": (64, 8)})
    seq = lins["bottom"].to_sequence(arange_map(64, 8))
    assert lins["bottom"].length == 512
    # first 2×2 patch under top (0,0): (0,0), (1,0), (0,1), (1,1) → values f·8 + t
    assert seq[:4].tolist() == [0, 8, 1, 9]
    # second patch lies under top token 1 = top cell (1, 0): rows 2,3 of column 0,1
    assert seq[4:8].tolist() == [16, 24, 17, 25]
    # token 128 starts top token 32 = top cell (0, 1): bottom rows 0,1 × columns 2,3
    assert seq[128:132].tolist() == [2, 10, 3, 11]


def test_k_of_i_alignment_is_floor_i_over_4_and_geometric():
    lins = linearizers({"top": (32, 4), "bottom": (64, 8)})
    top, bottom = lins["top"], lins["bottom"]
    assert bottom.parent_index is not None
    assert torch.equal(bottom.parent_index, torch.arange(512) // 4)
    # bottom cell (f, t) lies under top cell (f // 2, t // 2)
    assert torch.equal(top.coords[bottom.parent_index], bottom.coords // 2)


@pytest.mark.parametrize(
    "top_shape, bottom_shape",
    [((32, 4), (64, 8)), ((8, 4), (16, 8)), ((5, 3), (15, 6)), ((1, 1), (4, 2)), ((7, 2), (7, 2))],
)
def test_exact_inverse_and_generic_factors(top_shape, bottom_shape):
    lins = linearizers({"top": top_shape, "bottom": bottom_shape})
    rf, rt = upsampling_factors(bottom_shape, top_shape)
    for lin in lins.values():
        maps = torch.randint(0, 1000, (3, *lin.shape))
        assert torch.equal(lin.to_map(lin.to_sequence(maps)), maps)
        seq = torch.randint(0, 1000, (2, lin.length))
        assert torch.equal(lin.to_sequence(lin.to_map(seq)), seq)
        assert torch.equal(lin.order[lin.inverse], torch.arange(lin.length))
    bottom = lins["bottom"]
    assert torch.equal(bottom.parent_index, torch.arange(bottom.length) // (rf * rt))
    assert torch.equal(lins["top"].coords[bottom.parent_index], bottom.coords // torch.tensor([rf, rt]))


def test_three_levels_nest():
    lins = linearizers({"a": (2, 1), "b": (4, 2), "c": (8, 4)})
    c, b = lins["c"], lins["b"]
    assert torch.equal(c.parent_index, torch.arange(32) // 4)
    assert torch.equal(b.parent_index[c.parent_index], torch.arange(32) // 16)


def test_bad_shapes_give_one_line_errors():
    with pytest.raises(SpecinpaintError, match="not an integer upsampling"):
        linearizers({"top": (32, 4), "bottom": (48, 8)})
    lin = Linearizer.columns((4, 2))
    with pytest.raises(SpecinpaintError, match="does not match"):
        lin.to_sequence(torch.zeros(1, 2, 4))
    with pytest.raises(SpecinpaintError, match="does not match"):
        lin.to_map(torch.zeros(1, 7))
    with pytest.raises(SpecinpaintError, match="positive"):
        Linearizer.columns((0, 4))
