"""Eval mode and no autograd for the duration of one edit, restored afterwards.

Why: an edit may be called on a pipeline that is being trained (samples during training); it must
neither leave dropout on nor switch the caller's module to eval for good."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


@contextlib.contextmanager
def inference(module: nn.Module) -> Iterator[None]:
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        if was_training:
            module.train()
