"""Time offsets of long-note windows (issue 14, part 4): the priors' learned time positions are
indexed by ``offset + column``; offset 0 (and every bundle saved before the option) gives exactly
the numbers of the code before it; the editing windows pass their own starts."""

import json

import pytest
import torch
from safetensors import safe_open

from fakes.editing import edit_plugins, make_pipeline
from fakes.priors import BOTTOM, TOP, build, conditioning, random_codes, random_mask
from specinpaint.core import Codemaps, Conditioning, PluginError, SamplingOptions, SpecinpaintError, registry
from specinpaint.core.region import Region
from specinpaint.editing import Editor

pytestmark = pytest.mark.usefixtures("one_thread")

FIXTURE = __import__("pathlib").Path(__file__).parent / "data" / "prior_offset_fixture.safetensors"


def fixture():
    """(cases meta, tensors) written by tests/data/make_prior_fixture.py with the code before offsets."""
    with safe_open(str(FIXTURE), "pt") as f:
        meta = json.loads(f.metadata()["cases"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return meta, tensors


def fixture_inputs(tensors):
    codes = Codemaps({"top": tensors["codes.top"], "bottom": tensors["codes.bottom"]})
    masks = {"top": tensors["mask.top"], "bottom": tensors["mask.bottom"]}
    return codes, masks, Conditioning.make([40, 60], [3, 7], 2)


def state_of(tensors, case):
    prefix = f"{case}.state."
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


OPTIONS = SamplingOptions(seed=3, guidance_scale=2.0)
META, TENSORS = fixture()


@pytest.mark.parametrize("case", sorted(META))
def test_weights_saved_before_offsets_load_and_give_the_same_numbers(case):
    info = META[case]
    prior = registry("priors").build(info["name"], info["params"]).eval()
    assert prior.max_time_offset == 0
    prior.load_state_dict(state_of(TENSORS, case))  # strict: no new or resized parameter
    codes, masks, cond = fixture_inputs(TENSORS)
    mask = masks[prior.level]
    with torch.no_grad():
        assert prior.loss(codes, cond, mask).loss.item() == pytest.approx(info["loss"], rel=1e-6, abs=0)
        # an offset given to a prior without a time table is clamped to 0: a note's start, as before
        assert prior.loss(codes, cond, mask, time_offset=7).loss.item() == pytest.approx(info["loss"], rel=1e-6)
    assert torch.equal(prior.inpaint(codes, mask, cond, OPTIONS), TENSORS[f"{case}.inpaint"])
    assert torch.equal(prior.inpaint(codes, mask, cond, OPTIONS, time_offset=5), TENSORS[f"{case}.inpaint"])


@pytest.mark.parametrize("case", sorted(META))
def test_offset_zero_of_a_prior_with_a_time_table_gives_the_old_numbers(case):
    """The table's first rows are the old table: offset 0 reads exactly them."""
    info = META[case]
    wide = dict(info["params"], max_time_offset=8)
    prior = registry("priors").build(info["name"], wide).eval()
    old = state_of(TENSORS, case)
    state = prior.state_dict()
    grown = [k for k in state if state[k].shape != old[k].shape]
    assert grown and all(k.endswith("time.weight") for k in grown)
    for key in grown:
        assert state[key].shape[0] == old[key].shape[0] + (8 if not key.startswith("context.") else 4)
        state[key][: old[key].shape[0]] = old[key]
    prior.load_state_dict({k: state[k] if k in grown else old[k] for k in state})
    codes, masks, cond = fixture_inputs(TENSORS)
    mask = masks[prior.level]
    with torch.no_grad():
        assert prior.loss(codes, cond, mask, time_offset=0).loss.item() == pytest.approx(info["loss"], rel=1e-6)
        assert prior.loss(codes, cond, mask, time_offset=torch.zeros(2, dtype=torch.long)).loss.item() == \
            pytest.approx(info["loss"], rel=1e-6)
        shifted = prior.loss(codes, cond, mask, time_offset=4).loss.item()
    assert shifted != pytest.approx(info["loss"], rel=1e-6)  # the positional input moved
    assert torch.equal(prior.inpaint(codes, mask, cond, OPTIONS), TENSORS[f"{case}.inpaint"])


def time_rows_seen(embedding):
    """Forward hook recording the indices an embedding is read at."""
    seen = []
    handle = embedding.register_forward_hook(lambda m, args, out: seen.append(args[0].clone()))
    return seen, handle


@pytest.mark.parametrize("positions", ["rope", "learned2d"])
def test_top_offsets_index_the_time_table_and_clamp(positions):
    prior = build("top-transformer", positions=positions, max_time_offset=6).eval()
    codes, cond, mask = random_codes(), conditioning(), random_mask(TOP)
    seen, handle = time_rows_seen(prior.source.time)
    with torch.no_grad():
        base = prior.loss(codes, cond, mask).loss.item()
        per_example = prior.loss(codes, cond, mask, time_offset=torch.tensor([0, 2, 9])).loss.item()
        at_max = prior.loss(codes, cond, mask, time_offset=6).loss.item()
        past_max = prior.loss(codes, cond, mask, time_offset=100).loss.item()
    handle.remove()
    columns = prior.lin.coords[:, 1]
    assert torch.equal(seen[0], columns)  # offset 0: the plain columns (the unshifted path)
    assert torch.equal(seen[1], torch.stack([columns, columns + 2, columns + 6]))  # 9 clamped to 6
    assert per_example != pytest.approx(base) and at_max != pytest.approx(base)
    assert past_max == pytest.approx(at_max, rel=1e-6)


def test_bottom_offsets_shift_both_levels_consistently():
    prior = build("bottom-transformer", positions="learned2d", max_time_offset=8).eval()
    factor = BOTTOM[1] // TOP[1]
    top_seen, h1 = time_rows_seen(prior.context.input.time)
    bottom_seen, h2 = time_rows_seen(prior.target.time)
    with torch.no_grad():
        prior.loss(random_codes(), conditioning(), time_offset=torch.tensor([0, 2, 6]))
    h1.remove()
    h2.remove()
    offsets = torch.tensor([0, 2, 6])[:, None]
    assert torch.equal(bottom_seen[0], prior.lin.coords[None, :, 1] + offsets)
    assert torch.equal(top_seen[0], prior.top_lin.coords[None, :, 1] + offsets // factor)
    assert prior.context.input.time.num_embeddings == TOP[1] + 8 // factor
    assert prior.target.time.num_embeddings == BOTTOM[1] + 8


@pytest.mark.parametrize("name", ["top-transformer", "bottom-transformer", "bottom-masked"])
def test_per_example_offsets_match_one_call_per_example(name):
    prior = build(name, positions="learned2d", max_time_offset=4).eval()
    codes, cond = random_codes(batch=2), conditioning(2)
    shape = TOP if name == "top-transformer" else BOTTOM
    mask = torch.ones(2, *shape, dtype=torch.bool)  # as many hidden tokens in each: the mean is the average
    with torch.no_grad():
        both = prior.loss(codes, cond, mask, time_offset=torch.tensor([0, 4])).loss.item()
        first = prior.loss(codes.select(slice(0, 1)), cond.select(slice(0, 1)), mask[:1], time_offset=0).loss.item()
        second = prior.loss(codes.select(slice(1, 2)), cond.select(slice(1, 2)), mask[1:], time_offset=4).loss.item()
    assert both == pytest.approx((first + second) / 2, rel=1e-5)
    options = SamplingOptions(seed=1)
    shifted = prior.inpaint(codes, mask, cond, options, time_offset=torch.tensor([0, 4]))
    assert not torch.equal(prior.inpaint(codes, mask, cond, options), shifted)  # the offset reaches the draws
    out = prior.variations(codes, mask, cond, options, n=2, time_offset=torch.tensor([0, 4]))
    index = torch.tensor([0, 0, 1, 1])
    repeated = Codemaps({k: v[index] for k, v in codes.items()})
    expected = prior.inpaint(repeated, mask[index], cond.repeat(2), options, time_offset=torch.tensor([0, 0, 4, 4]))
    assert torch.equal(out, expected)


def test_bad_offsets_are_one_line_errors():
    prior = build("top-transformer", max_time_offset=4)
    with pytest.raises(SpecinpaintError, match=">= 0"):
        prior.loss(random_codes(), conditioning(), time_offset=-1)
    with pytest.raises(SpecinpaintError, match=r"\[B\] tensor"):
        prior.loss(random_codes(), conditioning(), time_offset=torch.tensor([1, 2]))
    with pytest.raises(PluginError, match="multiple of 2"):
        build("bottom-transformer", max_time_offset=3)


def test_paper_config_keeps_every_window_at_a_note_start():
    from specinpaint.core import load_config

    config = load_config("paper")
    for spec in config.priors.values():
        assert spec.params.get("max_time_offset", 0) == 0


# -- editing windows --------------------------------------------------------------------------
def test_long_note_windows_pass_their_starts_to_priors_that_take_them():
    with edit_plugins():
        pipeline = make_pipeline(priors={
            "top": {"name": "edit-prior", "params": {"level": "top", "codemap_shape": [4, 4], "max_time_offset": 64}},
            "bottom": {"name": "edit-prior", "params": {"level": "bottom", "codemap_shape": [8, 8],
                                                          "context": ["top"], "max_time_offset": 128}},
        })
        editor = Editor(pipeline)
        codes = editor.encode_long(torch.sin(torch.arange(3 * 1024 + 100) * 0.3) * 0.5)  # 13 top columns
        out = editor.inpaint(codes, Region(time_s=(0.05, 0.33), freq_hz=(0.0, 1500.0)), pitch=64, seed=9,
                             decode=False)
        for level, ratio in (("top", 1), ("bottom", 2)):
            calls = pipeline.priors[level].calls
            offsets = [c["time_offset"] for c in calls]
            assert len(calls) >= 3 and offsets == sorted(offsets) and offsets[0] == 0 and offsets[-1] > 0
            assert all(o % ratio == 0 for o in offsets)
            for call in calls:  # the window shown is the long map's columns from that start
                start = call["time_offset"]
                window = codes[level][..., start:start + 4 * ratio]
                kept = ~out.masks[level][..., start:start + 4 * ratio]  # cells no window changes
                assert kept.any() and torch.equal(call["codes"][level][kept], window[kept])


def test_priors_without_a_time_table_get_no_offset():
    with edit_plugins():
        editor = Editor(make_pipeline())
        codes = editor.encode_long(torch.sin(torch.arange(3 * 1024 + 100) * 0.3) * 0.5)
        editor.inpaint(codes, Region(time_s=(0.05, 0.33)), pitch=64, seed=9, decode=False)
        calls = editor.pipeline.priors["top"].calls
        assert len(calls) >= 3 and all(c["time_offset"] is None for c in calls)
