"""Every stage under the real launcher, as the README documents it: ``torchrun --standalone
--nproc_per_node 2 .venv/bin/specinpaint train all ...`` (gloo on CPU) trains the VQ-VAE, extracts
codes sharded over both ranks and trains both priors; ``extract-codes`` under torchrun writes the store
one process writes; a run whose rank 1 is SIGKILLed mid-training finishes with ``--resume`` with
exactly (bit for bit) the weights of the uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from fakes.nsynth import write_fake_nsynth
from specinpaint.app.cli import main
from specinpaint.core import Pipeline
from specinpaint.data.code_store import CodeStore
from specinpaint.training.checkpoint import read_header
from specinpaint.training.extract import shard_range

QUANTIZER_STEPS = 30
KILL_AFTER_CHECKPOINT = 10  # rank 1 dies once this checkpoint exists; 20 more steps run uninterrupted
OVERRIDES = [
    # the shipped tiny config shrunk as in test_training_integration: [2, 64, 32] -> bottom 16x8, top 8x4
    "num_samples=14512",
    "representation.params.n_mels=64",
    "quantizer.params.hidden_channels=16",
    "quantizer.params.residual_channels=8",
    "quantizer.params.embed_dim=16",
    "quantizer.params.bottom_strides=[[2,2],[2,2]]",
    f"training.quantizer={{steps: {QUANTIZER_STEPS}, batch_size: 4, eval_every: 10, "
    f"checkpoint_every: {KILL_AFTER_CHECKPOINT}, eval_batches: 2, fit_batches: 2, log_every: 5}}",
    "training.priors.top={steps: 8, batch_size: 4, eval_every: 4, checkpoint_every: 4, eval_batches: 2}",
    "training.priors.bottom={steps: 8, batch_size: 4, eval_every: 4, checkpoint_every: 4, eval_batches: 2}",
]


def test_shards_are_whole_batches_in_order_covering_every_note_once():
    for count, batch, world in [(72, 4, 2), (18, 4, 2), (37, 5, 3), (3, 4, 2), (10, 1, 4)]:
        shards = [shard_range(count, batch, rank, world) for rank in range(world)]
        assert [i for shard in shards for i in shard] == list(range(count))
        for shard in shards:
            assert shard.start % batch == 0  # each rank's batches are the single-process batches
    assert [len(shard_range(18, 4, rank, 2)) for rank in range(2)] == [8, 10]  # 2 and 3 of the 5 batches
    assert len(shard_range(3, 4, 0, 2)) == 0 and len(shard_range(3, 4, 1, 2)) == 3  # fewer batches than ranks


def test_merge_takes_parts_in_rank_order_and_refuses_a_part_with_other_notes(synthetic_one_thread, tmp_path):
    """Rank 0's merge, run here on parts written in one process: the merged store equals a direct
    extraction; a part holding other notes than its rank's shard is refused with a one-line error."""
    from fakes.training import synthetic_config
    from specinpaint.core import load_config
    from specinpaint.core.errors import DataError
    from specinpaint.training.data import build_dataset
    from specinpaint.training.extract import _encode, _merge_parts, extract_codes, part_dir

    config = load_config(synthetic_config(count=10))
    pipeline = Pipeline(config)
    dataset = build_dataset(config, "train")
    pipeline.normalizer.fit([pipeline.representation.encode(torch.stack([dataset[i]["audio"] for i in range(4)]))])
    direct = extract_codes(pipeline, dataset, tmp_path / "direct", "train", batch_size=3, progress=False)

    def write_parts(shards):
        for rank, shard in enumerate(shards):
            _encode(pipeline, torch.utils.data.Subset(dataset, shard), part_dir(tmp_path / "merged", rank, 2),
                    "train", {"shard": [shard.start, shard.stop]}, torch.device("cpu"), 3, 0, False)

    write_parts([shard_range(10, 3, rank, 2) for rank in range(2)])  # 4 batches: notes 0-5 and 6-9
    _merge_parts(pipeline, tmp_path / "merged", "train", {}, 10, 3, 2)
    _stores_equal(tmp_path / "merged", direct.root)
    assert not list(tmp_path.glob(".merged.part-*"))

    write_parts([range(0, 3), range(3, 10)])  # not the shards of 10 notes in batches of 3
    with pytest.raises(DataError, match=r"part-0-of-2: part of rank 0 holds notes \[0, 3\], expected \[0, 6\]"):
        _merge_parts(pipeline, tmp_path / "merged", "train", {}, 10, 3, 2)
    _stores_equal(tmp_path / "merged", direct.root)  # the previous store is untouched


def _command(*args: str) -> list[str]:
    bin_dir = Path(sys.executable).parent
    return [str(bin_dir / "torchrun"), "--standalone", "--nproc_per_node", "2", str(bin_dir / "specinpaint"),
            *args]


def _run(log: Path, *args: str) -> None:
    with open(log, "w") as out:
        code = subprocess.run(_command(*args), stdout=out, stderr=subprocess.STDOUT, timeout=300).returncode
    assert code == 0, log.read_text()[-3000:]


def _worker_pid(agent: int, rank: int) -> int:
    """The pid of torchrun's worker process with ``RANK=rank`` (read from /proc)."""
    children = []
    for task in Path(f"/proc/{agent}/task").iterdir():
        children += (task / "children").read_text().split()
    for pid in children:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        if f"RANK={rank}".encode() in environ:
            return int(pid)
    raise AssertionError(f"torchrun {agent} has no worker with RANK={rank} (children: {children})")


def _kill_rank_after_checkpoint(log: Path, checkpoint: Path, rank: int, *args: str) -> int:
    """Launch, SIGKILL one worker as soon as ``checkpoint`` exists, return torchrun's exit code."""
    with open(log, "w") as out:
        agent = subprocess.Popen(_command(*args), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not checkpoint.exists():
            assert agent.poll() is None, f"the run ended before {checkpoint} existed:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "no checkpoint in time"
            time.sleep(0.01)
        os.kill(_worker_pid(agent.pid, rank), signal.SIGKILL)
        return agent.wait(timeout=120)
    finally:
        if agent.poll() is None:
            os.killpg(agent.pid, signal.SIGKILL)
            agent.wait()


def _stores_equal(a: Path, b: Path) -> None:
    left, right = CodeStore(a), CodeStore(b)
    assert left.count == right.count and left.levels == right.levels and left.names == right.names
    for level in left.levels:
        assert np.array_equal(left.codes(level), right.codes(level)), level
    assert np.array_equal(left.pitch, right.pitch) and np.array_equal(left.family, right.family)


@pytest.mark.slow
def test_every_stage_under_torchrun_and_resume_after_a_killed_rank(tmp_path):
    data = write_fake_nsynth(tmp_path / "nsynth")
    args = ["tiny", *OVERRIDES, f"data.dataset.params.root={data}", "--no-progress"]

    # 1. uninterrupted: VQ-VAE, codes (sharded over the 2 ranks), both priors
    full = tmp_path / "full"
    _run(tmp_path / "full.log", "train", "all", *args, "--out", str(full))
    trained = Pipeline.load(full / "bundle")
    assert set(trained.extras["trained"]) == {"quantizer", "prior_top", "prior_bottom"}
    assert {split: len(CodeStore(full / "codes" / split)) for split in ("train", "valid")} == {"train": 72,
                                                                                              "valid": 18}
    assert not list((full / "codes").glob(".*part*"))  # rank 0 merged and removed the parts

    # 2. the sharded stores are exactly what one process writes (same batches, same order)
    _run(tmp_path / "extract.log", "extract-codes", str(full / "bundle"), "config", "--out",
         str(tmp_path / "sharded"), "--split", "valid", "--batch-size", "4", "--no-progress")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each torchrun worker
    try:
        assert main(["extract-codes", str(full / "bundle"), "config", "--out", str(tmp_path / "single"),
                     "--batch-size", "4", "--no-progress"]) == 0
    finally:
        torch.set_num_threads(threads)
    for split in ("train", "valid"):
        _stores_equal(tmp_path / "single" / split, full / "codes" / split)
    _stores_equal(tmp_path / "single/valid", tmp_path / "sharded/valid")  # 5 batches dealt 2 + 3

    # 3. rank 1 killed mid-VQ-VAE, then `--resume` of the whole command
    killed = tmp_path / "killed"
    last = killed / "quantizer/checkpoints/last.pt"
    code = _kill_rank_after_checkpoint(tmp_path / "killed.log", last, 1, "train", "all", *args, "--out",
                                       str(killed))
    assert code != 0
    stopped_at = read_header(last)["step"]
    assert 0 < stopped_at < QUANTIZER_STEPS and not (killed / "bundle").exists()
    _run(tmp_path / "resume.log", "train", "all", *args, "--out", str(killed), "--resume")
    assert f"resumed from {last} at step {stopped_at}" in (tmp_path / "resume.log").read_text()

    resumed = Pipeline.load(killed / "bundle")
    expected, got = trained.state_dict(), resumed.state_dict()
    assert set(expected) == set(got) and any(k.startswith("priors.bottom.") for k in got)
    for key, value in expected.items():  # bit for bit: same batches, RNG streams and reductions
        torch.testing.assert_close(got[key], value, rtol=0, atol=0, equal_nan=True, msg=key)
    for split in ("train", "valid"):
        _stores_equal(full / "codes" / split, killed / "codes" / split)
