"""Pitch and instrument-family embeddings with a null class, for classifier-free guidance.

Why a null class and class dropout: with labels randomly replaced by "null" during training, the
same network also models the unconditional distribution, so sampling can mix the two
(guidance scale s: logits = null + s · (cond − null)).
"""

from __future__ import annotations

import torch
from torch import nn

from specinpaint.core.conditioning import NSYNTH_FAMILIES, NULL_LABEL, PITCH_MAX, PITCH_MIN, Conditioning

NUM_PITCHES = PITCH_MAX - PITCH_MIN + 1  # 61 (MIDI 24..84)
NUM_FAMILIES = len(NSYNTH_FAMILIES)  # 11


class ClassEmbedding(nn.Module):
    """``Conditioning`` → one vector ``[B, d]`` (pitch embedding + family embedding); the last row of
    each table is the null class (label -1)."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.pitch = nn.Embedding(NUM_PITCHES + 1, d_model)
        self.family = nn.Embedding(NUM_FAMILIES + 1, d_model)

    @staticmethod
    def indices(conditioning: Conditioning) -> tuple[torch.Tensor, torch.Tensor]:
        pitch, family = conditioning.pitch.long(), conditioning.family.long()
        pitch = torch.where(pitch == NULL_LABEL, torch.full_like(pitch, NUM_PITCHES), pitch - PITCH_MIN)
        family = torch.where(family == NULL_LABEL, torch.full_like(family, NUM_FAMILIES), family)
        return pitch, family

    def forward(self, conditioning: Conditioning, drop_prob: float = 0.0) -> torch.Tensor:
        """``drop_prob`` (training): both labels become null with that probability, and otherwise
        each label alone with half of it (so pitch-only and family-only prompts are modelled too)."""
        device = self.pitch.weight.device
        pitch, family = (t.to(device) for t in self.indices(conditioning))
        if drop_prob > 0:
            both = torch.rand(pitch.shape, device=device) < drop_prob
            pitch = torch.where(both | (torch.rand(pitch.shape, device=device) < drop_prob / 2), NUM_PITCHES, pitch)
            family = torch.where(both | (torch.rand(family.shape, device=device) < drop_prob / 2), NUM_FAMILIES, family)
        return self.pitch(pitch) + self.family(family)

    def null(self, batch: int) -> torch.Tensor:
        return self.forward(Conditioning.null(batch))
