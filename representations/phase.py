"""Phase helpers: wrapping, instantaneous frequency (IF) and back, polar → complex.

Conventions (magenta's ``spectral_ops``): time is the LAST axis here ([..., F, T]); IF is the
principal-value phase difference between consecutive frames divided by π, so it lies in [-1, 1]; the
first frame carries the raw phase (also / π). ``diff(unwrap(p))`` equals ``wrap(diff(p))``, which is
what is computed (no cumulative sums, so no float32 drift over long notes).
"""

from __future__ import annotations

import math

import torch

PI = math.pi


def wrap(x: torch.Tensor) -> torch.Tensor:
    """Map angles to [-π, π); like magenta, an exact -π that came from a positive angle maps to +π."""
    out = torch.remainder(x + PI, 2 * PI) - PI
    return torch.where((out == -PI) & (x > 0), torch.full_like(out, PI), out)


def safe_angle(z: torch.Tensor) -> torch.Tensor:
    """``angle(z)`` with angle 0 and a finite (zero) gradient where ``z == 0`` (silence)."""
    real, imag = z.real, z.imag
    zero = (real == 0) & (imag == 0)
    return torch.atan2(imag, torch.where(zero, torch.ones_like(real), real))


def phase_increments_to_if(increments: torch.Tensor) -> torch.Tensor:
    """Raw per-frame phase increments (frame 0: the initial phase) → IF in [-1, 1] (frame 0 raw)."""
    return torch.cat([increments[..., :1], wrap(increments[..., 1:])], dim=-1) / PI


def instantaneous_frequency(phase: torch.Tensor) -> torch.Tensor:
    """Phase [..., T] → IF [..., T] (magenta's ``instantaneous_frequency`` on the last axis)."""
    increments = torch.cat([phase[..., :1], phase[..., 1:] - phase[..., :-1]], dim=-1)
    return phase_increments_to_if(increments)


def if_to_phase(inst_freq: torch.Tensor) -> torch.Tensor:
    """IF [..., T] → phase in [-π, π) (``cumsum(IF·π)``, accumulated in float64 where possible so that
    the round trip stays exact to ~1e-7 rad over any number of frames)."""
    high = torch.float64 if inst_freq.device.type != "mps" else torch.float32
    phase = torch.cumsum(inst_freq.to(high) * PI, dim=-1)
    return wrap(phase).to(inst_freq.dtype)


def polar(magnitude: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    """Magnitude and phase → complex tensor (differentiable in both)."""
    return torch.polar(magnitude, phase)
