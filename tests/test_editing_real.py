"""The editing API on the real plugins: the tiny pipeline end to end (paper Mel-IF, VQ-VAE-2,
top and bottom Transformers; untrained weights — the mechanics do not depend on training), and
the paper's geometry (1024 mel rows × 128 frames, top 32×4, bottom 64×8)."""

from __future__ import annotations

import pytest
import torch

from fakes.editing import edit_plugins
from specinpaint.core import Codemaps, build_pipeline, load_config
from specinpaint.core.region import Region, upsample_mask
from specinpaint.editing import Editor


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return Editor(build_pipeline("tiny").eval())


def test_tiny_pipeline_inpaints_only_the_region(tiny):
    gen = torch.Generator().manual_seed(0)
    notes = Codemaps({level: torch.randint(0, tiny.geometry.num_codes[level], (2, *shape), generator=gen)
                      for level, shape in tiny.geometry.window_shapes.items()})
    region = Region(time_s=(1.0, 2.0), freq_hz=(0.0, 1000.0))
    out = tiny.inpaint(notes, region, pitch=62, family="organ", seed=1, decode=False)
    top, bottom = out.masks["top"], out.masks["bottom"]
    assert top[0].any(0).nonzero().flatten().tolist() == [1]  # 1–2 s is the second of 4 top columns
    assert torch.equal(bottom, upsample_mask(top, tiny.geometry.window_shapes["bottom"]))
    for level in ("top", "bottom"):
        assert torch.equal(out.codes[level][~out.masks[level]], notes[level][~out.masks[level]])
    detail = tiny.inpaint(notes.select(0), region, level="bottom", seed=2)
    assert torch.equal(detail.codes["top"], notes["top"][:1])
    assert detail.audio.shape == (1, tiny.geometry.num_samples) and torch.isfinite(detail.audio).all()


def test_tiny_pipeline_long_note_and_attenuate(tiny):
    audio = 0.3 * torch.sin(torch.arange(int(6.5 * 16000)) * 2 * torch.pi * 220 / 16000)
    codes = tiny.encode_long(audio)
    assert codes.shapes == {"top": (8, 7), "bottom": (16, 14)}
    out = tiny.inpaint(codes, Region(time_s=(2.5, 5.5), freq_hz=(0.0, 600.0)), pitch=57, family="string", seed=3,
                       decode=False)
    cols = out.masks["top"][0].any(0).nonzero().flatten().tolist()
    assert cols == [2, 3, 4, 5]  # a box across the 4-column window boundary: one continuous edit
    for level in ("top", "bottom"):
        assert torch.equal(out.codes[level][~out.masks[level]], codes[level][~out.masks[level]])
    quiet = tiny.attenuate(codes.replace(top=codes["top"][..., :4], bottom=codes["bottom"][..., :8]),
                           Region(freq_hz=(0.0, 2000.0)), amount_db=40, decode=False)
    for level in ("top", "bottom"):
        assert torch.equal(quiet.codes[level][~quiet.masks[level]], codes[level][..., : quiet.masks[level].shape[-1]][~quiet.masks[level]])


def test_paper_geometry_maps_regions_to_the_right_cells():
    """Paper Mel-IF + paper VQ-VAE-2 with stand-in priors of the paper's codemap shapes."""
    with edit_plugins():
        config = load_config("paper", [
            "priors.top.name=edit-prior", "priors.top.params={level: top, codemap_shape: [32, 4], num_codes: 512}",
            "priors.bottom.name=edit-prior",
            "priors.bottom.params={level: bottom, codemap_shape: [64, 8], num_codes: 512, context: [top]}",
        ])
        from specinpaint.core import Pipeline

        paper = Pipeline(config).eval()
        paper.fit_normalizer([0.1 * torch.randn(2, 64000)])  # the paper's normaliser is fitted on data
        assert paper.spectrogram_shape == (2, 1024, 128)
        editor = Editor(paper)
        assert paper.codemap_shapes == {"top": (32, 4), "bottom": (64, 8)} and editor.geometry.window_seconds == 4.0
        masks = editor.region_masks(Region(time_s=(1.0, 2.0), freq_hz=(0.0, 500.0)), 4)
        top = masks["top"][0]
        assert top.any(0).nonzero().flatten().tolist() == [1]
        rows = top.any(1).nonzero().flatten().tolist()
        freqs = editor.geometry.bin_frequencies()
        assert rows == list(range(len(rows))) and 1 <= len(rows) < 32
        assert float(freqs[(rows[-1] + 1) * 32 - 1]) > 400 and float(freqs[rows[-1] * 32]) < 500
        codes = paper.encode(torch.zeros(1, 64000))
        out = editor.inpaint(codes, Region(time_s=(1.0, 2.0), freq_hz=(0.0, 500.0)), pitch=60, seed=0, decode=False)
        for level in ("top", "bottom"):
            assert torch.equal(out.codes[level][~out.masks[level]], codes[level][~out.masks[level]])
        assert paper.priors["bottom"].calls[-1]["mask"].shape == (1, 64, 8)
