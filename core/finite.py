"""Finding NaN/inf in model state (bundles at load, training checkpoints before a save).

Why a reference: some modules keep NaN on purpose as "not known yet" (the affine normaliser's
data range before a fit). A tensor is flagged only where it is non-finite and the reference
(a freshly built model, or the state a run started from) is finite.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch


def all_finite(tensor: torch.Tensor) -> bool:
    """True for non-float tensors; for float ones one ``aminmax`` reduction (NaN propagates)."""
    if not (tensor.is_floating_point() or tensor.is_complex()) or tensor.numel() == 0:
        return True
    if tensor.is_complex():
        return bool(torch.isfinite(tensor).all())
    low, high = torch.aminmax(tensor.detach())
    return bool(torch.isfinite(low) & torch.isfinite(high))


def nonfinite_tensors(
    state: Mapping[str, torch.Tensor], reference: Mapping[str, torch.Tensor] | None = None
) -> list[str]:
    """Names of the tensors in ``state`` holding NaN/inf where ``reference`` (same names and
    shapes) is finite; without a reference entry, anywhere."""
    bad = []
    for key, value in state.items():
        if not isinstance(value, torch.Tensor) or all_finite(value):
            continue
        ref = reference.get(key) if reference is not None else None
        if isinstance(ref, torch.Tensor) and ref.shape == value.shape:
            finite_ref = torch.isfinite(ref.detach().to(value.device))
            if not bool((~torch.isfinite(value.detach()) & finite_ref).any()):
                continue
        bad.append(key)
    return bad
