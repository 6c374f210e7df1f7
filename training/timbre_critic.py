"""`TimbreCritic`: a small instrument-family classifier on the quantizer's level channel, whose
features give the quantizer a timbre loss (``quantizer.params.timbre_loss_weight``).

Why: a squared error on log levels averages whatever the codes cannot place, so the harmonics'
relative heights and the spectral envelope blur towards a common shape, and that is where the
instrument family lives (the CPU configs' reconstructions keep the pitch and the level but lose
the family). A distance between the features of a network trained to tell the families apart
rewards exactly what tells them apart, the way perceptual losses do for images. The critic is
trained first on training notes (`train_critic`), then frozen for the whole quantizer stage; it
is a training aid only and never part of the bundle. It sees the normalised level channel, each
note relative to its own peak, so it judges timbre and leaves the level to the other terms.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

#: Features are compared block by block, each block's distance divided by its target's mean size,
#: so every scale counts alike whatever its activations' magnitude.
FEATURE_EPS = 1e-6


class TimbreCritic(nn.Module):
    """Normalised level ``[B, 1, F, T]`` → family logits ``[B, K]``; `features` gives the
    activations of its four conv blocks (frequency and time halved by each)."""

    def __init__(self, num_families: int, width: int = 16) -> None:
        super().__init__()
        self.pool_time = nn.AvgPool2d((1, 4))  # frames of a quarter of the input's: timbre, not fine timing
        blocks, channels = [], 1
        for out in (width, 2 * width, 4 * width, 4 * width):
            blocks.append(nn.Sequential(nn.Conv2d(channels, out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True)))
            channels = out
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(2 * channels, num_families)

    def features(self, level: torch.Tensor) -> list[torch.Tensor]:
        """Each block's activations, for the note relative to its own peak."""
        h = self.pool_time(level - level.amax(dim=(1, 2, 3), keepdim=True))
        out = []
        for block in self.blocks:
            h = block(h)
            out.append(h)
        return out

    def forward(self, level: torch.Tensor) -> torch.Tensor:
        h = self.features(level)[-1]
        return self.head(torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1))


def timbre_loss(critic: TimbreCritic, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over the critic's blocks of ``mean|f(ŷ) − f(y)| / mean|f(y)|`` (level channels
    ``[B, 1, F, T]``): 0 when the prediction has the target's features, gradients only to the
    prediction (the critic is frozen and the target's features are constants)."""
    with torch.no_grad():
        wanted = critic.features(target)
    got = critic.features(prediction)
    terms = [(g - w).abs().mean() / (w.abs().mean() + FEATURE_EPS) for g, w in zip(got, wanted, strict=True)]
    return torch.stack(terms).mean()


def train_critic(critic: TimbreCritic, batches: Iterator[tuple[torch.Tensor, torch.Tensor]], steps: int,
                 lr: float = 2e-3) -> float:
    """``steps`` Adam steps of cross-entropy on (normalised level ``[B, 1, F, T]``, family ``[B]``)
    batches; then the critic is frozen (eval mode, no gradients). Returns the accuracy on the last
    quarter of the batches it saw (a rough check that it learned; it is not a held-out score)."""
    critic.train()
    optimizer = torch.optim.Adam(critic.parameters(), lr=lr)
    correct = seen = 0
    for step in range(steps):
        level, family = next(batches)
        logits = critic(level)
        loss = F.cross_entropy(logits, family)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step >= steps - max(1, steps // 4):
            correct += int((logits.argmax(1) == family).sum())
            seen += family.numel()
    critic.eval().requires_grad_(False)
    return correct / max(seen, 1)
