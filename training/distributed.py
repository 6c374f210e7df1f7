"""Process-group setup for torchrun + DistributedDataParallel (no home-made launcher).

A single process needs nothing: without ``WORLD_SIZE`` > 1 in the environment training runs
locally. Under ``torchrun`` (or any launcher that sets the standard env:// variables
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) the process group is
created here (NCCL on CUDA, gloo on CPU). A process group created by the caller (tests) is reused.

The group is created once per process and kept until the process exits: `specinpaint train all`
runs several stages (each calling `setup_distributed`) in one torchrun worker, and a default group
destroyed and created again under torchrun's shared rendezvous store can read the previous group's
stale peer addresses (a rank then connects to a closed port: "Connection refused").
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist

from specinpaint.core.errors import ConfigError


@dataclass
class DistContext:
    """Where this process sits: rank, world size and its device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def all_gather_object(self, obj: object) -> list[object]:
        if not self.distributed:
            return [obj]
        out: list[object] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def broadcast_object(self, obj: object) -> object:
        if not self.distributed:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def sum_floats(self, values: Mapping[str, float]) -> dict[str, float]:
        """Sum named floats over ranks (every rank must pass the same keys)."""
        if not self.distributed or not values:
            return dict(values)
        keys = sorted(values)
        tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=self._comm_device)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return dict(zip(keys, tensor.tolist(), strict=True))

    @property
    def _comm_device(self) -> torch.device:
        return self.device if dist.get_backend() == "nccl" else torch.device("cpu")

    def close(self) -> None:
        """End of one stage: the process group stays for the next one (see the module docstring)."""
        return None


#: Process-group backends torch may be built with, and what specinpaint uses each one for.
BACKEND_ROLES = {
    "gloo": "CPU training and code extraction under torchrun",
    "nccl": "CUDA training and code extraction under torchrun",
    "mpi": "not used (torchrun sets up gloo or NCCL)",
}


def backend_for(device: torch.device) -> str:
    """The process-group backend for a training device: NCCL on CUDA, gloo otherwise."""
    return "nccl" if device.type == "cuda" else "gloo"


def backend_report() -> list[dict[str, object]]:
    """Which process-group backends this torch build has (``torch.distributed.is_*_available``) and
    which one a torchrun launch here would use (NCCL with a CUDA device, else gloo)."""
    if not dist.is_available():
        return [{"name": name, "available": False, "used_here": False, "detail": "torch built without distributed"}
                for name in BACKEND_ROLES]
    checks = {"gloo": dist.is_gloo_available, "nccl": dist.is_nccl_available, "mpi": dist.is_mpi_available}
    chosen = backend_for(resolve_device("auto"))
    report = []
    for name, role in BACKEND_ROLES.items():
        available = bool(checks[name]())
        detail = role
        if name == "nccl" and available and not torch.cuda.is_available():
            detail += "; no CUDA device here"
        report.append({"name": name, "available": available, "used_here": available and name == chosen,
                       "detail": detail})
    return report


def resolve_device(preference: str, local_rank: int = 0) -> torch.device:
    """``auto`` → this rank's CUDA device when available, else CPU; ``cuda`` → cuda:LOCAL_RANK."""
    if preference == "auto":
        preference = "cuda" if torch.cuda.is_available() else "cpu"
    if preference == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("training.device: cuda requested but no CUDA device is available")
        return torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))
    try:
        device = torch.device(preference)
    except RuntimeError as exc:
        raise ConfigError(f"training.device: invalid device '{preference}'") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"training.device: {preference} requested but no CUDA device is available")
    return device


def setup_distributed(device_preference: str = "auto") -> DistContext:
    """Join (or create from torchrun's env variables) the default process group."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
    elif world > 1:
        device = resolve_device(device_preference, local_rank)
        backend = backend_for(device)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
        atexit.register(_destroy_group)
        rank = dist.get_rank()
    else:
        rank = 0
    device = resolve_device(device_preference, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return DistContext(rank, world, local_rank, device)


def _destroy_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
