"""`specinpaint info`: attention backends and the distributed (torchrun) backends of this build."""

from __future__ import annotations

import json

import torch.distributed as dist

from specinpaint.app.cli import main
from specinpaint.training import distributed


def test_info_reports_distributed_backends_as_torch_sees_them(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [b["name"] for b in info["attention_backends"]][:1] == ["math"]
    backends = {b["name"]: b for b in info["distributed_backends"]}
    assert set(backends) == {"gloo", "nccl", "mpi"}
    assert backends["gloo"]["available"] is dist.is_gloo_available()
    assert backends["nccl"]["available"] is dist.is_nccl_available()
    assert backends["mpi"]["available"] is dist.is_mpi_available()
    # exactly the backend the trainer would create here is marked as used (gloo on a CPU machine)
    used = [name for name, b in backends.items() if b["used_here"]]
    assert used == [distributed.backend_for(distributed.resolve_device("auto"))]

    assert main(["info"]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    start = lines.index("distributed backends (torchrun):")
    assert lines.index("attention backends:") < start
    rows = {line.split()[0]: line for line in lines[start + 1:start + 4]}
    assert set(rows) == {"gloo", "nccl", "mpi"}
    for name, backend in backends.items():
        state = "used here" if backend["used_here"] else "available" if backend["available"] else "unavailable"
        assert f" {state} " in rows[name]


def test_nccl_without_a_cuda_device_is_reported_but_not_used(monkeypatch):
    monkeypatch.setattr(dist, "is_nccl_available", lambda: True)
    monkeypatch.setattr(distributed.torch.cuda, "is_available", lambda: False)
    nccl = {b["name"]: b for b in distributed.backend_report()}["nccl"]
    assert nccl["available"] and not nccl["used_here"] and "no CUDA device here" in nccl["detail"]
    gloo = {b["name"]: b for b in distributed.backend_report()}["gloo"]
    assert gloo["used_here"] is dist.is_gloo_available()
