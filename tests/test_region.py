"""Region (seconds × Hz) ↔ aligned codemap masks."""

import pytest
import torch

from specinpaint.core.errors import SpecinpaintError
from specinpaint.core.region import (
    Region,
    aligned_masks,
    dilate_mask,
    downsample_mask,
    mask_to_region,
    region_to_masks,
    upsample_mask,
)

# a 16 kHz, 4 s note: 1024 linear rows up to 8 kHz, 128 frames 31.25 ms apart (the paper's grid)
FREQS = torch.arange(1024) * 8000 / 1024
TIMES = torch.arange(128) * 0.03125
SHAPES = {"top": (32, 4), "bottom": (64, 8)}


def test_two_seconds_all_frequencies_is_the_first_two_top_columns():
    masks = region_to_masks(Region(time_s=(0.0, 2.0)), FREQS, TIMES, SHAPES)
    expected = torch.zeros(32, 4, dtype=torch.bool)
    expected[:, :2] = True
    assert torch.equal(masks["top"], expected)
    assert torch.equal(masks["bottom"], upsample_mask(expected, (64, 8)))
    assert list(masks) == ["top", "bottom"]


def test_low_quarter_band_is_the_lowest_eight_top_rows():
    masks = region_to_masks(Region(freq_hz=(0, 2000)), FREQS, TIMES, SHAPES)
    assert masks["top"][:8].all() and not masks["top"][8:].any()


def test_aligned_bottom_covers_every_child_but_unaligned_is_geometric():
    region = Region(time_s=(0.0, 1.5), freq_hz=(0, 250))  # 1.5 top columns, one top row
    aligned = region_to_masks(region, FREQS, TIMES, SHAPES)
    free = region_to_masks(region, FREQS, TIMES, SHAPES, aligned=False)
    assert aligned["top"].sum() == 2 and aligned["bottom"].sum() == 8
    assert torch.equal(free["top"], aligned["top"])
    # geometric bottom mask: 3 bottom columns × 2 bottom rows
    assert free["bottom"].sum() == 6 and free["bottom"][:2, :3].all()
    assert torch.equal(downsample_mask(free["bottom"], (32, 4)), free["top"])


def test_narrow_band_inside_one_cell_still_selects_it():
    masks = region_to_masks(Region(freq_hz=(1010, 1030)), FREQS, TIMES, SHAPES)
    assert masks["top"].any(dim=1).nonzero().flatten().tolist() == [4]


def test_region_mostly_outside_still_selects_the_part_inside():
    masks = region_to_masks(Region(time_s=(3.9, 60.0), freq_hz=(7900, 20000)), FREQS, TIMES, SHAPES)
    assert masks["top"].nonzero().tolist() == [[31, 3]]


def test_every_level_selects_something_for_any_region_inside():
    for lo in torch.linspace(0, 3.9, 14).tolist():
        for width in (0.01, 0.3, 0.9, 1.7):
            masks = region_to_masks(Region(time_s=(lo, lo + width)), FREQS, TIMES, SHAPES, aligned=False)
            assert all(bool(m.any()) for m in masks.values()), (lo, width)


def test_dilation_grows_by_one_token():
    masks = region_to_masks(Region(time_s=(1.0, 2.0), freq_hz=(1000, 1250)), FREQS, TIMES, SHAPES, dilation=1)
    top = masks["top"]
    assert top.sum() == 9 and top[3:6, 0:3].all()
    assert torch.equal(masks["bottom"], upsample_mask(top, (64, 8)))
    assert torch.equal(dilate_mask(torch.zeros(4, 4, dtype=torch.bool), 2), torch.zeros(4, 4, dtype=torch.bool))


def test_mask_to_region_round_trip():
    masks = region_to_masks(Region(time_s=(1.0, 3.0), freq_hz=(500, 3000)), FREQS, TIMES, SHAPES)
    for level in ("top", "bottom"):
        back = mask_to_region(masks[level], FREQS, TIMES)
        assert back is not None
        again = region_to_masks(back, FREQS, TIMES, SHAPES)
        assert torch.equal(again["top"], masks["top"])
    assert mask_to_region(torch.zeros(32, 4, dtype=torch.bool), FREQS, TIMES) is None


def test_aligned_masks_from_bottom_goes_back_up():
    bottom = torch.zeros(64, 8, dtype=torch.bool)
    bottom[5, 7] = True
    masks = aligned_masks(bottom, "bottom", SHAPES)
    assert masks["top"].nonzero().tolist() == [[2, 3]]
    assert torch.equal(masks["bottom"], bottom)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"time_s": (2.0, 1.0)}, "empty or inverted"),
        ({"time_s": (1.0, 1.0)}, "empty or inverted"),
        ({"freq_hz": (100, 50)}, "empty or inverted"),
        ({"time_s": (-1.0, 1.0)}, "below 0"),
        ({"freq_hz": (0, float("nan"))}, "finite"),
        ({"time_s": "abc"}, "pair of numbers"),
    ],
)
def test_invalid_regions_are_rejected(kwargs, message):
    with pytest.raises(SpecinpaintError, match=message):
        Region(**kwargs)


def test_region_outside_the_spectrogram_is_an_error():
    with pytest.raises(SpecinpaintError, match="outside the spectrogram"):
        region_to_masks(Region(time_s=(10.0, 12.0)), FREQS, TIMES, SHAPES)
    with pytest.raises(SpecinpaintError, match="strictly increasing"):
        region_to_masks(Region(), FREQS.flip(0), TIMES, SHAPES)
