"""Per-level sampler choice in the editing API on the real tiny configs (untrained weights): a
parallel request runs parallel where the level's prior supports it and autoregressive elsewhere,
decided before any sampling; ``columns=0`` is rejected; the progress bar is opt-in."""

from __future__ import annotations

import logging

import pytest
import torch

from fakes.editing import edit_plugins, make_pipeline
from specinpaint.core import Codemaps, build_pipeline
from specinpaint.core.region import Region
from specinpaint.editing import EditError, Editor


def _spy(monkeypatch, editor) -> dict[str, list[str]]:
    """Record the sampler each level's prior is called with."""
    seen: dict[str, list[str]] = {}
    for level, prior in editor.pipeline.priors.items():
        def wrapped(codes, mask, conditioning, options, _inner=prior.inpaint, _level=level):
            seen.setdefault(_level, []).append(options.sampler)
            return _inner(codes, mask, conditioning, options)

        monkeypatch.setattr(prior, "inpaint", wrapped)
    return seen


def _notes(editor, batch: int = 1, columns: int = 4) -> Codemaps:
    gen = torch.Generator().manual_seed(0)
    shapes = editor.geometry.level_shapes(columns)
    return Codemaps({lvl: torch.randint(0, editor.geometry.num_codes[lvl], (batch, *shape), generator=gen)
                     for lvl, shape in shapes.items()})


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return Editor(build_pipeline("tiny").eval())


@pytest.fixture(scope="module")
def tiny_masked():
    torch.manual_seed(0)
    return Editor(build_pipeline("tiny-masked").eval())


def test_tiny_parallel_runs_on_top_and_falls_back_on_bottom(tiny, monkeypatch, caplog):
    seen = _spy(monkeypatch, tiny)
    notes = _notes(tiny, columns=6)
    with caplog.at_level(logging.INFO, logger="specinpaint.editing.plan"):
        out = tiny.inpaint(notes, Region(time_s=(1.0, 4.5), freq_hz=(0.0, 1500.0)), pitch=60, family="brass",
                           sampler="parallel", seed=3, decode=False)
    assert set(seen["top"]) == {"parallel"} and set(seen["bottom"]) == {"autoregressive"}
    assert len(seen["bottom"]) >= 2  # a long note: several windows, one fallback decision
    fallbacks = [r.getMessage() for r in caplog.records if "autoregressively" in r.getMessage()]
    assert len(fallbacks) == 1 and "'bottom'" in fallbacks[0] and "BottomPrior" in fallbacks[0]
    for level in ("top", "bottom"):
        keep = ~out.masks[level]
        assert torch.equal(out.codes[level][keep], notes[level][keep])
        assert out.masks[level].any()


def test_tiny_masked_runs_parallel_on_both_levels(tiny_masked, monkeypatch, caplog):
    seen = _spy(monkeypatch, tiny_masked)
    with caplog.at_level(logging.INFO, logger="specinpaint.editing.plan"):
        gen = tiny_masked.generate(60, "organ", n=2, sampling={"sampler": "parallel", "num_steps": 2, "seed": 1},
                                   decode=False)
    assert seen == {"top": ["parallel"], "bottom": ["parallel"]}
    assert not [r for r in caplog.records if "autoregressively" in r.getMessage()]
    assert gen.codes.shapes == {"top": (8, 4), "bottom": (16, 8)} and gen.codes.batch_size == 2
    notes = _notes(tiny_masked)
    out = tiny_masked.inpaint(notes, Region(time_s=(0.0, 2.0)), sampler="parallel", seed=2, decode=False)
    for level in ("top", "bottom"):
        assert torch.equal(out.codes[level][~out.masks[level]], notes[level][~out.masks[level]])
    assert seen["top"][-1] == seen["bottom"][-1] == "parallel"


def test_unsupported_sampler_is_refused_before_any_level_is_sampled():
    with edit_plugins():
        pipe = make_pipeline()
    pipe.priors["bottom"].supports_sampler = lambda sampler: False  # a prior that can run nothing
    with pytest.raises(EditError, match="'bottom' prior .* supports neither 'parallel' nor 'autoregressive'"):
        Editor(pipe).generate(sampling={"sampler": "parallel", "seed": 0}, decode=False)
    assert pipe.priors["top"].calls == []


def test_zero_columns_is_an_error_not_a_default(tiny):
    with pytest.raises(EditError, match="columns must be >= 4, got 0"):
        tiny.generate(columns=0, decode=False)


def test_progress_bar_is_opt_in_and_does_not_change_results(capsys):
    with edit_plugins():
        pipe = Editor(make_pipeline())
    quiet = pipe.generate(60, "brass", n=2, sampling={"seed": 5}, columns=9, decode=False)
    assert capsys.readouterr().err == ""
    shown = pipe.generate(60, "brass", n=2, sampling={"seed": 5}, columns=9, decode=False, progress=True)
    err = capsys.readouterr().err
    assert "window" in err and "sampling bottom" in err
    assert quiet.codes.equal(shown.codes)


def test_per_level_filters_reach_only_their_level(tiny, monkeypatch):
    seen: dict[str, list[tuple[float, int]]] = {}
    for level, prior in tiny.pipeline.priors.items():
        def wrapped(codes, mask, conditioning, options, _inner=prior.inpaint, _level=level):
            seen.setdefault(_level, []).append((options.temperature, options.top_k))
            return _inner(codes, mask, conditioning, options)

        monkeypatch.setattr(prior, "inpaint", wrapped)
    sampling = {"temperature": 0.9, "top_k": 5, "levels": {"bottom": {"temperature": 0.25}}, "seed": 1}
    tiny.generate(60, "brass", sampling=sampling, decode=False)
    assert seen == {"top": [(0.9, 5)], "bottom": [(0.25, 5)]}
    with pytest.raises(EditError, match="sampling.levels: no level 'middle'"):
        tiny.generate(60, "brass", sampling={"levels": {"middle": {"temperature": 0.5}}}, decode=False)
    greedy = tiny.generate(60, "brass", sampling={"seed": 1, "levels": {"bottom": {"top_k": 1}}}, decode=False)
    again = tiny.generate(60, "brass", sampling={"seed": 2, "levels": {"bottom": {"top_k": 1}}}, decode=False)
    fresh = tiny.generate(60, "brass", sampling={"seed": 2}, decode=False)
    assert not torch.equal(greedy.codes["top"], again.codes["top"])  # the top level still samples
    assert not torch.equal(again.codes["bottom"], fresh.codes["bottom"])  # the override changed the bottom
