"""scripts/code_search_probe.py's search on the tiny pipeline (untrained: the search's mechanics
do not depend on training): it starts from the encoder's nearest codes, never ends further from
the note than they were, and visits only the levels it is given."""

from __future__ import annotations

import pytest
import torch
from script_module import load_script

from specinpaint.core import build_pipeline
from specinpaint.core.conditioning import Conditioning


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    pipeline = build_pipeline("tiny").eval()
    t = torch.arange(pipeline.config.num_samples) / pipeline.sample_rate
    audio = (0.3 * torch.sin(2 * torch.pi * 220.0 * t) * torch.exp(-t))[None]
    labels = Conditioning(torch.tensor([57]), torch.tensor([3]))
    return load_script("code_search_probe"), pipeline, pipeline.spectrogram(audio), labels


def test_one_candidate_is_the_encoders_own_choice(setup):
    script, pipeline, spec, labels = setup
    searched = script.search_codes(pipeline, spec, labels, candidates=1)
    nearest = pipeline.quantizer.encode(spec)
    assert all(torch.equal(searched[level], nearest[level]) for level in pipeline.quantizer.levels)


def test_the_search_never_moves_away_from_the_note_and_keeps_unvisited_levels(setup):
    script, pipeline, spec, labels = setup
    nearest = pipeline.quantizer.encode(spec)
    searched = script.search_codes(pipeline, spec, labels, candidates=3, levels=("top",))  # 32 cells: cheap
    assert torch.equal(searched["bottom"], nearest["bottom"])
    with torch.no_grad():
        before = script.distance(pipeline, pipeline.decode_codes(nearest, labels), spec, "linear")
        after = script.distance(pipeline, pipeline.decode_codes(searched, labels), spec, "linear")
    assert (after <= before + 1e-6).all() and float(after.sum()) < float(before.sum())
    assert not torch.equal(searched["top"], nearest["top"])
    candidates = script.candidate_codes(pipeline, spec, nearest, 3)["top"]
    assert torch.equal(candidates[..., 0], nearest["top"])  # the nearest code is always a candidate
    assert (candidates == searched["top"][..., None]).any(-1).all()
