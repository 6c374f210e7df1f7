"""Long notes (issue 14, part 4): random-crop prior training over a store of longer notes, and the
window-NLL / seam-flux measurement, on tiny two-level pipelines."""

import math

import pytest
import torch

from fakes.editing import edit_plugins, make_pipeline
from specinpaint.core import Codemaps
from specinpaint.core.config import TrainingConfig
from specinpaint.data.code_store import CodeStore, CodeStoreWriter
from specinpaint.studies.long_notes import (
    extract_long_codes,
    long_note_report,
    offsets_off,
    seam_flux,
    window_nll,
)
from specinpaint.training.prior_task import PriorTask, random_windows, train_prior

PRIOR = dict(num_codes=16, d_model=32, num_heads=2, num_encoder_layers=1, num_decoder_layers=1, ffn_dim=64,
             dropout=0.0, class_dropout=0.0, positions="learned2d")


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def transformer_pipeline(max_offset=8):
    """The editing fakes' representation and quantizer (top 4x4, bottom 8x8 per 1024-sample window)
    with real transformer priors that take time offsets."""
    torch.manual_seed(0)
    return make_pipeline(priors={
        "top": {"name": "top-transformer", "params": dict(PRIOR, codemap_shape=[4, 4], max_time_offset=max_offset)},
        "bottom": {"name": "bottom-transformer", "params": dict(PRIOR, codemap_shape=[8, 8], top_shape=[4, 4],
                                                                  top_num_codes=16, max_time_offset=2 * max_offset)},
    })


def long_notes(count=3, windows=3):
    t = torch.arange(1024 * windows) / 8000
    return [{"audio": (0.4 * torch.sin(2 * math.pi * 220 * (i + 1) * t)).numpy(), "pitch": 60 + i, "family": i,
             "name": f"note{i}"} for i in range(count)]


def test_random_windows_crop_every_level_at_one_start_per_example():
    top = torch.arange(12)[None, None].expand(5, 2, 12).clone()
    codes = Codemaps({"top": top, "bottom": torch.arange(24)[None, None].expand(5, 3, 24).clone()})
    torch.manual_seed(1)
    windows, starts = random_windows(codes, {"top": (2, 4), "bottom": (3, 8)})
    assert windows.shapes == {"top": (2, 4), "bottom": (3, 8)}
    for b, s in enumerate(starts.tolist()):
        assert 0 <= s <= 8
        assert windows["top"][b, 0].tolist() == list(range(s, s + 4))
        assert windows["bottom"][b, 2].tolist() == list(range(2 * s, 2 * s + 8))
    assert len(set(starts.tolist())) > 1


def test_prior_training_on_random_crops_passes_each_window_start(tmp_path):
    with edit_plugins():
        pipeline = transformer_pipeline()
        store = extract_long_codes(pipeline, long_notes(count=4, windows=3), tmp_path / "train", "train")
        assert store.shapes == {"top": (4, 12), "bottom": (8, 24)}
        assert store.meta["long_notes"] is True
        task = PriorTask(pipeline, "bottom", store, None, random_crop=True)
        torch.manual_seed(0)
        codes, cond, offsets = task.prepare(store.batch([0, 1, 2, 3]), torch.device("cpu"))
        assert codes.shapes == {"top": (4, 4), "bottom": (8, 8)}
        assert offsets is not None and offsets.shape == (4,) and bool((offsets % 2 == 0).all())
        seen = []
        handle = pipeline.priors["bottom"].target.time.register_forward_hook(lambda m, a, o: seen.append(a[0]))
        loss, _ = task.compute_loss(task.module, (codes, cond, offsets))
        handle.remove()
        assert torch.isfinite(loss) and torch.equal(seen[0][:, 0], offsets)  # column 0 of each window
        with pytest.raises(Exception, match="the pipeline expects"):
            PriorTask(pipeline, "top", store, None)  # a wide store needs random_crop
        config = TrainingConfig(steps=3, batch_size=2, lr=1e-3, eval_every=10, checkpoint_every=10, random_crop=True)
        result = train_prior(pipeline, "top", config, store, None, tmp_path / "run", progress=False)
        assert result.steps == 3 and result.outcome.finished and math.isfinite(result.outcome.train_metrics["loss"])


def test_measurement_returns_finite_numbers_with_the_expected_keys(tmp_path):
    with edit_plugins():
        pipeline = transformer_pipeline()
        store = extract_long_codes(pipeline, long_notes(count=2, windows=3), tmp_path / "valid", "valid")
        codes, cond = store.batch([0, 1])
        nll = window_nll(pipeline, codes, cond)
        assert set(nll) == {"top", "bottom"} and nll["top"]["starts"] == list(range(9))
        assert nll["top"]["right"][0] == pytest.approx(nll["top"]["zero"][0])  # start 0: the same window
        assert nll["top"]["right"][4] != pytest.approx(nll["top"]["zero"][4])  # later: the offset matters
        flux = seam_flux(pipeline, codes, cond, (4, 8), seeds=(0,))
        keys = {"original", "right", "zero", "original_inside", "right_inside", "zero_inside"}
        assert keys <= set(flux) and all(math.isfinite(flux[k]) for k in keys)
        report = long_note_report(pipeline, store, max_notes=2, seeds=(0,))
        assert set(report) >= {"nll", "nll_summary", "seam_flux", "max_time_offset"}
        assert report["max_time_offset"] == {"top": 8, "bottom": 16}
        summary = report["nll_summary"]["top"]
        assert all(math.isfinite(summary[k]) for k in ("middle_right", "middle_zero", "first_right", "first_zero"))


def test_offsets_off_restores_the_priors():
    with edit_plugins():
        pipeline = transformer_pipeline()
        with offsets_off(pipeline):
            assert all(p.max_time_offset == 0 for p in pipeline.priors.values())
        assert pipeline.priors["top"].max_time_offset == 8 and pipeline.priors["bottom"].max_time_offset == 16


def test_random_crop_accepts_a_store_of_one_window_notes(tmp_path):
    with edit_plugins():
        pipeline = transformer_pipeline()
        shapes = {"top": (4, 4), "bottom": (8, 8)}
        with CodeStoreWriter(tmp_path / "s", shapes, {"top": 16, "bottom": 16}, 1) as w:
            w.append(Codemaps({k: torch.zeros(1, *v, dtype=torch.long) for k, v in shapes.items()}), [60], [0])
        store = CodeStore(tmp_path / "s")
        PriorTask(pipeline, "top", store, None, random_crop=True)  # crops nothing, offset 0: allowed (logged)
        PriorTask(pipeline, "top", store, None)
