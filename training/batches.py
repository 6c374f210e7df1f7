"""Deterministic, resumable batch order for training and a fixed order for evaluation.

The data position of a run is just its global step: epoch ``e`` uses the permutation drawn from
``seed`` and ``e``; each of the ``world_size`` ranks takes its own slice of every global batch;
the last incomplete global batch of an epoch is dropped. Resuming at step ``s`` therefore
continues with exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from specinpaint.core.errors import DataError


def batches_per_epoch(num_items: int, batch_size: int, world_size: int) -> int:
    per_epoch = num_items // (batch_size * world_size)
    if per_epoch == 0:
        raise DataError(
            f"training set has {num_items} items, fewer than one global batch "
            f"({batch_size} per process × {world_size} processes); lower training.batch_size"
        )
    return per_epoch


def epoch_order(num_items: int, batch_size: int, world_size: int, rank: int, seed: int, epoch: int) -> list[list[int]]:
    """This rank's index lists for one epoch."""
    per_epoch = batches_per_epoch(num_items, batch_size, world_size)
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    perm = torch.randperm(num_items, generator=generator)[: per_epoch * batch_size * world_size]
    return perm.view(per_epoch, world_size, batch_size)[:, rank].tolist()


def _loader(dataset: Dataset, order: list[list[int]], collate: Callable, num_workers: int, seed: int) -> DataLoader:
    """A loader with its own generator: creating its iterator never draws from the global RNG
    (which would make a resumed run diverge from an uninterrupted one)."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_sampler=order, collate_fn=collate, num_workers=num_workers, generator=generator)


def train_batches(
    dataset: Dataset,
    collate: Callable[[Any], Any],
    *,
    batch_size: int,
    seed: int,
    rank: int,
    world_size: int,
    start_step: int,
    num_workers: int = 0,
) -> Iterator[Any]:
    """Endless stream of collated batches for this rank, starting at global step ``start_step``."""
    num_items = len(dataset)  # type: ignore[arg-type]
    per_epoch = batches_per_epoch(num_items, batch_size, world_size)
    epoch, offset = divmod(start_step, per_epoch)
    while True:
        order = epoch_order(num_items, batch_size, world_size, rank, seed, epoch)[offset:]
        yield from _loader(dataset, order, collate, num_workers, seed * 1_000_003 + epoch)
        epoch, offset = epoch + 1, 0


def eval_batches(
    dataset: Dataset,
    collate: Callable[[Any], Any],
    *,
    batch_size: int,
    max_batches: int,
    rank: int,
    world_size: int,
    num_workers: int = 0,
) -> Iterator[Any]:
    """The first ``max_batches × world_size`` batches in dataset order, dealt round-robin to ranks
    (a rank may get none when the set is small)."""
    num_items = len(dataset)  # type: ignore[arg-type]
    starts = list(range(0, num_items, batch_size))[: max_batches * world_size]
    order = [list(range(s, min(s + batch_size, num_items))) for s in starts[rank::world_size]]
    if not order:
        return iter(())
    return iter(_loader(dataset, order, collate, num_workers, 0))
