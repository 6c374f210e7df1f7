"""Pitch and instrument-family embeddings with a null class, for classifier-free guidance.

Why a null class and class dropout: with labels randomly replaced by "null" during training, the
same network also models the unconditional distribution, so sampling can mix the two
(guidance scale s: logits = null + s · (cond − null)).

Why smooth pitch features (``pitch_embedding: table+smooth``): a lookup table gives every MIDI
note its own unrelated vector, learned only from that note's examples; neighbouring notes share
nothing. The smooth part adds a learned projection of the pitch itself (its position in the
range and sines/cosines at periods of 1–4 octaves), so what the prior learns at one pitch carries
over to its neighbours, and octaves line up.

Why ``combine: concat``: the original gave pitch and family small vectors of their own (16 dims
each) placed beside the token and position parts of every input vector, instead of adding
d_model-wide vectors; configs/paper.yaml reproduces that.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from specinpaint.core.conditioning import NSYNTH_FAMILIES, NULL_LABEL, PITCH_MAX, PITCH_MIN, Conditioning

PitchEmbedding = Literal["table", "table+smooth"]
Combine = Literal["sum", "concat"]
SMOOTH_PERIODS = (12.0, 24.0, 48.0)  # semitones


def smooth_pitch_features(pitch: torch.Tensor, pitch_min: int, pitch_max: int) -> torch.Tensor:
    """MIDI pitches ``[B]`` → ``[B, 1 + 2·len(SMOOTH_PERIODS)]``: position in the range (−1..1) and
    sines/cosines of the pitch at each period."""
    p = pitch.float()
    centre, half = (pitch_min + pitch_max) / 2, max((pitch_max - pitch_min) / 2, 1.0)
    parts = [((p - centre) / half)[:, None]]
    for period in SMOOTH_PERIODS:
        angle = 2 * math.pi * p / period
        parts += [torch.sin(angle)[:, None], torch.cos(angle)[:, None]]
    return torch.cat(parts, dim=1)


class ClassEmbedding(nn.Module):
    """``Conditioning`` → one vector per example: ``[B, d]`` pitch embedding + family embedding
    (``combine='sum'``) or ``[B, 2d]`` pitch ‖ family (``'concat'``); the last row of each table is the
    null class (label -1). Sizes come from the label vocabulary: pitches ``pitch_range`` (MIDI,
    inclusive) and ``num_families`` families."""

    def __init__(
        self, d_model: int, pitch_range: tuple[int, int] = (PITCH_MIN, PITCH_MAX),
        num_families: int = len(NSYNTH_FAMILIES), pitch_embedding: PitchEmbedding = "table",
        combine: Combine = "sum",
    ) -> None:
        super().__init__()
        self.combine = combine
        self.width = d_model if combine == "sum" else 2 * d_model
        self.pitch_min, self.pitch_max = int(pitch_range[0]), int(pitch_range[1])
        self.num_pitches = self.pitch_max - self.pitch_min + 1
        self.num_families = num_families
        self.pitch = nn.Embedding(self.num_pitches + 1, d_model)
        self.family = nn.Embedding(num_families + 1, d_model)
        self.smooth = (
            nn.Linear(1 + 2 * len(SMOOTH_PERIODS), d_model, bias=False) if pitch_embedding == "table+smooth" else None
        )

    def indices(self, conditioning: Conditioning) -> tuple[torch.Tensor, torch.Tensor]:
        pitch, family = conditioning.pitch.long(), conditioning.family.long()
        pitch = torch.where(pitch == NULL_LABEL, torch.full_like(pitch, self.num_pitches), pitch - self.pitch_min)
        family = torch.where(family == NULL_LABEL, torch.full_like(family, self.num_families), family)
        return pitch, family

    def forward(self, conditioning: Conditioning, drop_prob: float = 0.0) -> torch.Tensor:
        """``drop_prob`` (training): both labels become null with that probability, and otherwise
        each label alone with half of it (so pitch-only and family-only prompts are modelled too)."""
        device = self.pitch.weight.device
        pitch, family = (t.to(device) for t in self.indices(conditioning))
        if drop_prob > 0:
            both = torch.rand(pitch.shape, device=device) < drop_prob
            pitch = torch.where(both | (torch.rand(pitch.shape, device=device) < drop_prob / 2), self.num_pitches, pitch)
            family = torch.where(both | (torch.rand(family.shape, device=device) < drop_prob / 2), self.num_families,
                                 family)
        if self.combine == "concat":
            return torch.cat([self.pitch(pitch) + self._smooth(pitch), self.family(family)], dim=-1)
        out = self.pitch(pitch) + self.family(family)
        if self.smooth is not None:
            out = out + self._smooth(pitch)
        return out

    def _smooth(self, pitch: torch.Tensor) -> torch.Tensor | float:
        """The smooth-feature part of the pitch vector (0 without it); the null pitch keeps only its
        table row."""
        if self.smooth is None:
            return 0.0
        known = (pitch != self.num_pitches)[:, None]
        features = smooth_pitch_features(pitch + self.pitch_min, self.pitch_min, self.pitch_max)
        return self.smooth(features) * known

    def null(self, batch: int) -> torch.Tensor:
        return self.forward(Conditioning.null(batch))
