"""Two CPU processes with the gloo backend, set up exactly as torchrun does (env:// variables):
both ranks must end with identical weights and codebook buffers, although they start from
different random initialisations and see different data (restarts included)."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

WORLD = 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
                       "LOCAL_RANK": str(rank), "WORLD_SIZE": str(WORLD)})
    torch.set_num_threads(1)
    from specinpaint.core import Pipeline, load_config
    from specinpaint.training.data import build_dataset
    from specinpaint.training.quantizer_task import train_quantizer
    from specinpaint.training.synthetic import synthetic_config, synthetic_plugins

    with synthetic_plugins():
        config = load_config(synthetic_config(count=32, dead_code_steps=2))
        torch.manual_seed(100 + rank)  # different init on each rank: DDP must broadcast rank 0's
        pipeline = Pipeline(config)
        training = config.training.quantizer.model_copy(
            update={"steps": 6, "batch_size": 4, "log_every": 2, "eval_every": 3, "checkpoint_every": 3})
        result = train_quantizer(pipeline, training, build_dataset(config, "train"), build_dataset(config, "valid"),
                                 f"{out}/run", progress=False)
        restarted = sum(v for k, v in result.outcome.train_metrics.items() if k.endswith("/restarted"))
        state = {f"quantizer.{k}": v for k, v in pipeline.quantizer.state_dict().items()}
        state.update({f"normalizer.{k}": v for k, v in pipeline.normalizer.state_dict().items()})
        torch.save({"state": state, "finished": result.finished, "bundle": str(result.bundle),
                    "restarted": restarted}, f"{out}/rank{rank}.pt")


@pytest.mark.slow
def test_two_gloo_processes_end_with_identical_weights(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    assert all(r["finished"] for r in ranks)
    state0, state1 = ranks[0]["state"], ranks[1]["state"]
    assert set(state0) == set(state1)
    for key in state0:
        assert torch.equal(state0[key], state1[key]), key
    assert bool(state0["normalizer.fitted"])
    assert any(k.endswith("unused_steps") for k in state0)  # codebook buffers compared too
    # rank 0 alone writes the bundle and the checkpoints
    assert ranks[0]["bundle"].endswith("bundle") and ranks[1]["bundle"] == "None"
    assert (tmp_path / "run/bundle/weights.safetensors").exists()
    assert (tmp_path / "run/checkpoints/last.pt").exists()
    from specinpaint.training.logger import read_metrics

    records = read_metrics(tmp_path / "run/metrics.jsonl", "train")
    assert sum(r["top/restarted"] + r["bottom/restarted"] for r in records) > 0  # restarts were synchronised
