"""Training engine: schedules, data order, resume == uninterrupted, checkpoint refusals, logs."""

from __future__ import annotations

import json

import pytest
import torch

from fakes.training import synthetic_config
from specinpaint.core import Pipeline, load_config
from specinpaint.core.config import TrainingConfig
from specinpaint.core.errors import BundleError, DataError
from specinpaint.training.batches import epoch_order, eval_batches, train_batches
from specinpaint.training.checkpoint import load_checkpoint, read_header, save_checkpoint
from specinpaint.training.data import build_dataset
from specinpaint.training.logger import read_metrics
from specinpaint.training.quantizer_task import train_quantizer
from specinpaint.training.schedule import lr_factor

pytestmark = pytest.mark.usefixtures("synthetic_one_thread")


def test_lr_schedules_warm_up_and_decay():
    constant = TrainingConfig(steps=100, schedule="constant", warmup_steps=10)
    assert lr_factor(0, constant) == pytest.approx(0.1)
    assert lr_factor(9, constant) == pytest.approx(1.0)
    assert lr_factor(99, constant) == 1.0
    cosine = TrainingConfig(steps=100, schedule="cosine", warmup_steps=0)
    assert lr_factor(0, cosine) == pytest.approx(1.0)
    assert lr_factor(50, cosine) == pytest.approx(0.5)
    assert lr_factor(100, cosine) == pytest.approx(0.0, abs=1e-12)
    onecycle = TrainingConfig(steps=100, schedule="onecycle")
    assert lr_factor(0, onecycle) == pytest.approx(1 / 25)  # the original CycleScheduler: lr/25 start
    assert lr_factor(30, onecycle) == pytest.approx(1.0)  # 30 % warm-up
    assert lr_factor(100, onecycle) == pytest.approx(1 / 25 / 1e4)


def test_epoch_order_is_seeded_sharded_and_resumable():
    a = epoch_order(50, 4, 2, 0, seed=3, epoch=0)
    b = epoch_order(50, 4, 2, 1, seed=3, epoch=0)
    assert len(a) == len(b) == 6  # 50 // (4 × 2), last partial global batch dropped
    flat_a, flat_b = sum(a, []), sum(b, [])
    assert not set(flat_a) & set(flat_b)
    assert epoch_order(50, 4, 2, 0, seed=3, epoch=0) == a
    assert epoch_order(50, 4, 2, 0, seed=3, epoch=1) != a
    data = list(range(50))

    def collate(items):
        return items

    stream = train_batches(data, collate, batch_size=4, seed=3, rank=0, world_size=2, start_step=0)
    full = [next(stream) for _ in range(10)]  # crosses into epoch 1
    resumed = train_batches(data, collate, batch_size=4, seed=3, rank=0, world_size=2, start_step=7)
    assert [next(resumed) for _ in range(3)] == full[7:]
    with pytest.raises(DataError, match="fewer than one global batch"):
        next(train_batches(data[:3], collate, batch_size=4, seed=0, rank=0, world_size=1, start_step=0))
    assert list(eval_batches(data, collate, batch_size=20, max_batches=5, rank=1, world_size=2)) == [data[20:40]]


def _setup(count=32, **quantizer):
    config = load_config(synthetic_config(count=count, **quantizer))
    torch.manual_seed(0)
    pipeline = Pipeline(config)
    return config, pipeline, build_dataset(config, "train"), build_dataset(config, "valid")


def _training(config, **changes):
    return config.training.quantizer.model_copy(update={
        "steps": 8, "log_every": 1, "eval_every": 3, "checkpoint_every": 4, **changes})


def test_resume_continues_the_uninterrupted_loss_curve(tmp_path):
    config, pipeline, train, valid = _setup(dead_code_steps=2)
    training = _training(config)
    full = train_quantizer(pipeline, training, train, valid, tmp_path / "full", progress=False)
    assert full.finished and full.steps == 8

    config, pipeline, train, valid = _setup(dead_code_steps=2)
    part = train_quantizer(pipeline, training, train, valid, tmp_path / "part", progress=False, stop_after=4)
    assert not part.finished and part.steps == 4 and part.bundle is None
    # a fresh process: new pipeline object (different init), state comes from the checkpoint only
    config, fresh, train, valid = _setup(dead_code_steps=2)
    torch.manual_seed(123)
    rest = train_quantizer(fresh, training, train, valid, tmp_path / "part", progress=False)
    assert rest.outcome.resumed_from == 4 and rest.finished

    curve_full = [(r["step"], r["loss"]) for r in read_metrics(tmp_path / "full/metrics.jsonl", "train")]
    curve_part = [(r["step"], r["loss"]) for r in read_metrics(tmp_path / "part/metrics.jsonl", "train")]
    assert [s for s, _ in curve_part] == list(range(1, 9))  # no duplicate steps after resuming
    assert curve_part == curve_full
    restarted = sum(r["bottom/restarted"] + r["top/restarted"] for r in read_metrics(tmp_path / "full/metrics.jsonl", "train"))
    assert restarted > 0  # restarts (which draw random numbers) happened and were reproduced
    for key, value in full.pipeline.quantizer.state_dict().items():
        assert torch.equal(value, fresh.quantizer.state_dict()[key]), key
    valid_full = read_metrics(tmp_path / "full/metrics.jsonl", "valid")
    valid_part = read_metrics(tmp_path / "part/metrics.jsonl", "valid")
    assert [r["loss"] for r in valid_part] == [r["loss"] for r in valid_full]


def test_moments_saved_in_another_memory_layout_resume_the_same_curve(tmp_path):
    """A checkpoint from before the quantizer's weights became channels-last holds its optimiser
    moments in the default layout; the fused AdamW reads a parameter and its moments as flat
    arrays, so the resume must give them the parameter's layout (or it would misread them)."""
    config, pipeline, train, valid = _setup()
    training = _training(config)
    full = train_quantizer(pipeline, training, train, valid, tmp_path / "full", progress=False)
    config, pipeline, train, valid = _setup()
    train_quantizer(pipeline, training, train, valid, tmp_path / "part", progress=False, stop_after=4)
    last = tmp_path / "part/checkpoints/last.pt"
    header = read_header(last)
    _, state = load_checkpoint(last)
    moments = [v for s in state["optimizer"]["state"].values() for v in s.values() if torch.is_tensor(v) and v.dim() == 4]
    assert any(not m.is_contiguous() for m in moments)  # channels-last, as the weights
    for per_param in state["optimizer"]["state"].values():
        for key, value in per_param.items():
            if torch.is_tensor(value):
                per_param[key] = value.contiguous()
    save_checkpoint(last, header, state)
    config, fresh, train, valid = _setup()
    train_quantizer(fresh, training, train, valid, tmp_path / "part", progress=False)
    curve_full = [(r["step"], r["loss"]) for r in read_metrics(tmp_path / "full/metrics.jsonl", "train")]
    curve_part = [(r["step"], r["loss"]) for r in read_metrics(tmp_path / "part/metrics.jsonl", "train")]
    assert curve_part == curve_full
    for key, value in full.pipeline.quantizer.state_dict().items():
        assert torch.equal(value, fresh.quantizer.state_dict()[key]), key


def test_checkpoints_are_refused_when_damaged_or_mismatched(tmp_path):
    config, pipeline, train, valid = _setup()
    training = _training(config, steps=2, eval_every=100, checkpoint_every=2)
    train_quantizer(pipeline, training, train, None, tmp_path / "run", progress=False)
    last = tmp_path / "run/checkpoints/last.pt"
    header = read_header(last)
    assert header["task"] == "quantizer" and header["step"] == 2
    assert header["signature"]["quantizer"]["params"]["hidden_channels"] == 16

    data = last.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) - 100])
    with pytest.raises(BundleError, match="truncated checkpoint") as info:
        load_checkpoint(truncated)
    assert "\n" not in str(info.value)
    (tmp_path / "stub.pt").write_bytes(data[:10])
    with pytest.raises(BundleError, match="not a specinpaint training checkpoint"):
        load_checkpoint(tmp_path / "stub.pt")
    flipped = bytearray(data)
    flipped[-50] ^= 0xFF
    (tmp_path / "flipped.pt").write_bytes(bytes(flipped))
    with pytest.raises(BundleError, match="checksum mismatch"):
        load_checkpoint(tmp_path / "flipped.pt")
    with pytest.raises(BundleError, match="is for 'quantizer', not 'prior_top'"):
        load_checkpoint(last, task="prior_top")

    # resuming the run with another model config is refused with the differing key
    config2, pipeline2, train2, _ = _setup(hidden_channels=8)
    with pytest.raises(BundleError, match=r"quantizer\.params\.hidden_channels: checkpoint has 16, config has 8"):
        train_quantizer(pipeline2, training, train2, None, tmp_path / "run", progress=False)
    # the truncated file in place of last.pt stops the resume too, and is never overwritten silently
    last.write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="truncated"):
        train_quantizer(pipeline, training, train, None, tmp_path / "run", progress=False)


def test_a_checkpoint_that_predates_a_parameter_resumes_while_the_parameter_is_at_its_default(tmp_path):
    """A plugin parameter added after a checkpoint was written is missing from its signature: the
    run resumes while the config leaves the parameter at its default, and is refused (naming it)
    when the config sets it to something the checkpoint never trained with."""
    config, pipeline, train, _ = _setup()
    training = _training(config, steps=4, eval_every=100, checkpoint_every=2)
    part = train_quantizer(pipeline, training, train, None, tmp_path / "run", progress=False, stop_after=2)
    assert part.steps == 2 and not part.finished
    last = tmp_path / "run/checkpoints/last.pt"
    header, payload = load_checkpoint(last)
    params = header["signature"]["quantizer"]["params"]
    assert params.pop("finest_level_dropout") == 0.0 and params.pop("recon_after_clean") is False
    save_checkpoint(last, {k: v for k, v in header.items() if not k.startswith("_")}, payload)  # "older" file

    _, other, train2, _ = _setup(finest_level_dropout=0.25)
    with pytest.raises(BundleError, match=r"quantizer\.params\.finest_level_dropout is missing in the checkpoint"):
        train_quantizer(other, training, train2, None, tmp_path / "run", progress=False)
    _, same, train3, _ = _setup()
    rest = train_quantizer(same, training, train3, None, tmp_path / "run", progress=False)
    assert rest.outcome.resumed_from == 2 and rest.finished and rest.bundle is not None


def test_checkpoint_roundtrip_keeps_nested_state(tmp_path):
    payload = {"a": torch.arange(3), "nested": {"b": [1, 2.5, "x"], "c": None}, "rng": (3, (1, 2), None)}
    save_checkpoint(tmp_path / "x.pt", {"task": "t", "signature": {"k": [1, 2]}, "step": 7}, payload)
    header, loaded = load_checkpoint(tmp_path / "x.pt", task="t", signature={"k": [1, 2]})
    assert header["step"] == 7
    assert torch.equal(loaded["a"], payload["a"]) and loaded["nested"] == payload["nested"]
    with pytest.raises(BundleError, match=r"k\[1\]: checkpoint has 2, config has 3"):
        load_checkpoint(tmp_path / "x.pt", signature={"k": [1, 3]})


def test_metrics_log_and_bundle_record(tmp_path):
    config, pipeline, train, valid = _setup()
    training = _training(config, steps=6, log_every=2, eval_every=3, sample_every=6)
    result = train_quantizer(pipeline, training, train, valid, tmp_path, progress=False, sample_count=1)
    train_records = read_metrics(tmp_path / "metrics.jsonl", "train")
    valid_records = read_metrics(tmp_path / "metrics.jsonl", "valid")
    assert [r["step"] for r in train_records] == [2, 4, 6]
    assert [r["step"] for r in valid_records] == [3, 6]
    for key in ("loss", "lr", "grad_norm", "items_per_s", "top/perplexity", "bottom/dead_fraction", "loss/recon"):
        assert key in train_records[-1], key
    assert (tmp_path / "checkpoints/best.pt").exists()
    samples = sorted(p.name for p in (tmp_path / "samples/step_0000006").iterdir())
    for name in ("00_input.png", "00_recon.png", "00_recon.wav", "00_input.wav", "00_codes_top.png"):
        assert name in samples, name
    assert (tmp_path / "samples/step_0000006/00_recon.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "samples/step_0000006/00_codes_top.png").read_bytes()[:4] == b"\x89PNG"  # one renderer
    loaded = Pipeline.load(result.bundle)
    record = loaded.extras["trained"]["quantizer"]
    assert record["steps"] == 6 and record["finished"] and record["weights"] == "best"
    assert record["valid"]["loss"] == pytest.approx(valid_records[-1]["loss"])
    assert not loaded.normalizer.needs_fit  # fitted before training and saved in the bundle
    json.dumps(record)


def _all_finite(path) -> bool:
    _, state = load_checkpoint(path)
    return all(bool(torch.isfinite(v).all()) for v in state["module"].values() if v.is_floating_point())


def test_resume_in_the_middle_of_a_logging_window_averages_the_whole_window(tmp_path):
    config, pipeline, train, valid = _setup()
    training = _training(config, log_every=3, eval_every=100, checkpoint_every=100)
    train_quantizer(pipeline, training, train, None, tmp_path / "full", progress=False)
    config, pipeline, train, valid = _setup()
    train_quantizer(pipeline, training, train, None, tmp_path / "part", progress=False, stop_after=4)  # window 4..6
    config, fresh, train, valid = _setup()
    train_quantizer(fresh, training, train, None, tmp_path / "part", progress=False)
    full = read_metrics(tmp_path / "full/metrics.jsonl", "train")
    part = read_metrics(tmp_path / "part/metrics.jsonl", "train")
    assert [r["step"] for r in part] == [3, 6, 8]
    for a, b in zip(full, part, strict=True):
        assert {k: v for k, v in a.items() if k != "items_per_s"} == {k: v for k, v in b.items() if k != "items_per_s"}


def test_non_finite_training_never_reaches_a_checkpoint_and_the_advice_works(tmp_path):
    from specinpaint.core.errors import SpecinpaintError

    config, pipeline, train, _ = _setup()
    training = _training(config, log_every=4, eval_every=100, checkpoint_every=2)
    train_quantizer(pipeline, training, train, None, tmp_path, progress=False, stop_after=4)
    last_before = (tmp_path / "checkpoints/last.pt").read_bytes()
    config, pipeline, train, _ = _setup()
    with pytest.raises(SpecinpaintError, match=r"quantizer: the train loss became NaN/inf by step 6, so nothing was "
                                               r"saved after step 4; the last checkpoint \(step 4\) is intact; resume "
                                               r"from it with a lower learning rate, e.g\. --resume "
                                               r"training\.quantizer\.lr=1e\+37") as info:
        train_quantizer(pipeline, training.model_copy(update={"lr": 1e38}), train, None, tmp_path, progress=False)
    assert "\n" not in str(info.value)
    last = tmp_path / "checkpoints/last.pt"
    assert read_header(last)["step"] == 4 and last.read_bytes() == last_before and _all_finite(last)
    # the advice: the same run resumed with a lower learning rate (which must take effect) finishes cleanly
    config, pipeline, train, _ = _setup()
    result = train_quantizer(pipeline, training.model_copy(update={"lr": 1e-3}), train, None, tmp_path,
                             progress=False)
    assert result.finished and _all_finite(last) and read_header(last)["step"] == 8
    losses = [r["loss"] for r in read_metrics(tmp_path / "metrics.jsonl", "train")]
    assert len(losses) == 2 and all(isinstance(v, float) for v in losses)  # the log writes NaN as a string


def test_weights_and_validation_loss_are_checked_before_saving(tmp_path, monkeypatch):
    from specinpaint.core.errors import SpecinpaintError
    from specinpaint.training import engine

    config, pipeline, train, valid = _setup()
    training = _training(config, log_every=100, eval_every=100, checkpoint_every=4)

    def poison(step, record):  # a statistic the loss does not read yet: only the weights check sees it
        if step == 3:
            next(b for name, b in pipeline.quantizer.named_buffers() if name.endswith("embed_avg")).fill_(float("nan"))

    task_train = engine.train
    monkeypatch.setattr("specinpaint.training.quantizer_task.train",
                        lambda *a, **k: task_train(*a, **{**k, "callback": poison}))
    with pytest.raises(SpecinpaintError, match=r"the weights became NaN/inf \(e\.g\. .*embed.*\) by step 4, so "
                                               r"nothing was saved after step 0; no checkpoint was written"):
        train_quantizer(pipeline, training, train, None, tmp_path / "weights", progress=False)
    assert not (tmp_path / "weights/checkpoints/last.pt").exists()
    monkeypatch.undo()

    config, pipeline, train, valid = _setup()
    monkeypatch.setattr(engine, "_evaluate", lambda *a: {"loss": float("nan")})
    with pytest.raises(SpecinpaintError, match=r"the validation loss became nan by step 3"):
        train_quantizer(pipeline, _training(config), train, valid, tmp_path / "valid", progress=False)
    assert not (tmp_path / "valid/checkpoints/best.pt").exists()


def test_stale_temporaries_of_the_run_are_removed_on_start_and_resume(tmp_path):
    config, pipeline, train, _ = _setup()
    training = _training(config, steps=4, eval_every=100, checkpoint_every=2)
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir(parents=True)
    killed = [checkpoints / ".last.pt.k1llq3x_.tmp", checkpoints / ".best.pt.a8d1_x0w.tmp", tmp_path / ".metrics.jsonl.zz1.tmp"]
    for path in killed:
        path.write_bytes(b"half a checkpoint")
    unrelated = checkpoints / ".notes.txt.tmp"
    unrelated.write_text("not ours")
    train_quantizer(pipeline, training, train, None, tmp_path, progress=False, stop_after=2)
    assert not any(p.exists() for p in killed) and unrelated.exists()
    (checkpoints / ".last.pt.again123.tmp").write_bytes(b"killed again")
    config, pipeline, train, _ = _setup()
    train_quantizer(pipeline, training, train, None, tmp_path, progress=False)
    assert sorted(p.name for p in checkpoints.iterdir()) == [".notes.txt.tmp", "last.pt"]


def test_a_checkpoint_holding_nan_is_refused_at_resume(tmp_path):
    config, pipeline, train, _ = _setup()
    training = _training(config, steps=4, eval_every=100, checkpoint_every=2)
    train_quantizer(pipeline, training, train, None, tmp_path, progress=False, stop_after=2)
    last = tmp_path / "checkpoints/last.pt"
    header, state = load_checkpoint(last)
    key = next(k for k, v in state["module"].items() if v.is_floating_point())
    state["module"][key] = torch.full_like(state["module"][key], float("nan"))  # written by an older version
    save_checkpoint(last, {k: v for k, v in header.items() if not k.startswith("_")}, state)
    with pytest.raises(BundleError, match=rf"last\.pt: checkpoint holds NaN/inf \(e\.g\. {key}\)"):
        train_quantizer(pipeline, training, train, None, tmp_path, progress=False)


def test_infinite_learning_rate_is_a_config_error():
    from specinpaint.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"training\.quantizer\.lr: Input should be a finite number"):
        load_config(synthetic_config(), ["training.quantizer.lr=.inf"])


def test_step_values_stay_tensors_until_the_log_interval(tmp_path):
    """Per-step metrics are 0-d device tensors summed in the window; floats only at a log (one sync)."""
    from specinpaint.training.batches import train_batches
    from specinpaint.training.distributed import setup_distributed
    from specinpaint.training.engine import TrainingState
    from specinpaint.training.logger import MetricsLogger
    from specinpaint.training.quantizer_task import QuantizerTask

    config = load_config(synthetic_config(count=16))
    torch.manual_seed(0)
    pipeline = Pipeline(config)
    task = QuantizerTask(pipeline, build_dataset(config, "train"), None, fit_batches=1)
    training = TrainingConfig(steps=4, batch_size=4, log_every=2, schedule="constant", device="cpu")
    ctx = setup_distributed("cpu")
    logger = MetricsLogger(tmp_path / "metrics.jsonl", enabled=True)
    try:
        state = TrainingState(task, training, tmp_path, ctx, logger)
        state.resume(False)
        state._wrap()
        data = train_batches(task.train_set, task.collate, batch_size=4, seed=0, rank=0, world_size=1, start_step=0)
        state.step(next(data))
        state.step(next(data))
        sums = state.window.sums
        assert state.step_reached == 2 and state.window.count == 2
        assert {"loss", "grad_norm", "top/perplexity", "bottom/dead_fraction"} <= set(sums)
        host = {"lr", "top/restarted", "bottom/restarted"}  # known on the host: no sync to read them
        assert [k for k, v in sums.items() if k not in host and not isinstance(v, torch.Tensor)] == []
        record = state.log()
        assert all(isinstance(v, float) for v in record.values()) and state.window.count == 0
        assert read_metrics(tmp_path / "metrics.jsonl")[-1]["step"] == 2
    finally:
        logger.close()
        ctx.close()


def test_prior_loss_metrics_are_device_tensors():
    from fakes.priors import build, conditioning, random_codes

    for name in ("top-transformer", "bottom-transformer", "bottom-masked"):
        out = build(name, d_model=16, ffn_dim=32).loss(random_codes(), conditioning())
        assert out.metrics and all(isinstance(v, torch.Tensor) and v.dim() == 0 for v in out.metrics.values()), name
