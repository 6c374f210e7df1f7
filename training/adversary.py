"""`Adversary`: a patch discriminator on the quantizer's level channel, trained beside it, whose
judgement gives the quantizer an adversarial loss (``quantizer.params.adversarial_loss_weight``).

Why: a squared error (and every distance tried before) makes the decoder output the *mean* of what
it cannot place. In the quiet bins of a note (the valleys between harmonics, the tail after the
release) that mean is a smooth floor, and the instrument family lives in the texture of those bins
(docs/results/quality-cpu.md, section 11). A discriminator that tells real level maps from decoded
ones rewards the texture itself, as image and audio codecs do. It is conditioned on the family
(a projection head), so a decoded note must look like its own family's notes, not any note.

The discriminator sees patches (its output is a map of logits, not one score), trains with the
hinge loss, and the quantizer gets the hinge generator term plus a feature-matching term (the
distance between the discriminator's activations on the decoded and on the real map). Both start
after ``start_step`` quantizer steps, once the decoder outputs something note-like (a logging
window that spans the start averages their values over all its steps). The discriminator is
always told the note's true family, also when the decoder's label dropout hid it: the decoded
note should still sound like its family. Across
processes the discriminator's gradients are averaged, so every rank holds the same one. It is a
training aid: saved with the checkpoint (weights, optimiser state and its step count), never part
of the bundle.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from specinpaint.core.conditioning import NULL_LABEL

#: Adam settings usual for GAN discriminators (a low first moment keeps it responsive).
BETAS = (0.5, 0.9)
#: Seed of the discriminator's initial weights (the global random streams are left untouched).
SEED = 1


class PatchDiscriminator(nn.Module):
    """Level map ``[B, 1, F, T]`` (+ family ``[B]``) → logits ``[B, 1, F/8, T/8]`` and the
    activations of each block."""

    def __init__(self, num_families: int, width: int = 16) -> None:
        super().__init__()
        blocks, channels = [], 1
        for out, stride in ((width, 2), (2 * width, 2), (4 * width, 2), (4 * width, 1)):
            blocks.append(nn.Sequential(nn.Conv2d(channels, out, 3, stride=stride, padding=1), nn.LeakyReLU(0.2)))
            channels = out
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(channels, 1, 3, padding=1)
        # the last row is "no family": it stays zero, so an unlabelled note is judged by the head alone
        self.family = nn.Embedding(num_families + 1, channels, padding_idx=num_families)
        nn.init.zeros_(self.family.weight)

    def forward(self, level: torch.Tensor, family: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h, features = level, []
        for block in self.blocks:
            h = block(h)
            features.append(h)
        null = torch.full_like(family, self.family.num_embeddings - 1)
        embedded = self.family(torch.where(family == NULL_LABEL, null, family))
        return self.head(h) + (embedded[:, :, None, None] * h).sum(1, keepdim=True), features


def discriminator_hinge(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's hinge loss: real patches above +1, decoded ones below −1."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def feature_matching(fake: list[torch.Tensor], real: list[torch.Tensor]) -> torch.Tensor:
    """Mean over blocks of the L1 distance between activations (the real ones are constants)."""
    return torch.stack([(f - r.detach()).abs().mean() for f, r in zip(fake, real, strict=True)]).mean()


class Adversary:
    """The discriminator, its optimiser and its step count; `terms` is called once per training
    step of the quantizer."""

    def __init__(self, num_families: int, *, width: int, lr: float, start_step: int) -> None:
        with torch.random.fork_rng(devices=[]):  # the same initial discriminator on every run and rank
            torch.default_generator.manual_seed(SEED)
            self.net = PatchDiscriminator(num_families, width)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr, betas=BETAS)
        self.start_step = start_step
        self.step = 0
        #: Whether the quantizer trains in several processes (set from the engine's context): the
        #: discriminator's gradients are then averaged over them.
        self.distributed = False

    def to(self, device: torch.device) -> None:
        """The discriminator to ``device`` (a restored optimiser state follows its parameters)."""
        self.net.to(device)

    @torch.compiler.disable  # an optimiser step inside the loss: keep it out of a compiled graph
    def terms(self, fake: torch.Tensor, real: torch.Tensor, family: torch.Tensor) -> dict[str, torch.Tensor]:
        """One discriminator step on (real, decoded) level maps ``[B, 1, F, T]``, then the
        quantizer's terms on the decoded map, ``adversarial`` (hinge) and ``feature_matching`` (L1),
        with gradients to ``fake`` only, plus the ``discriminator``'s own loss (detached); ``{}``
        before ``start_step``."""
        self.step += 1
        if self.step <= self.start_step:
            return {}
        self.net.train().requires_grad_(True)
        real_logits, _ = self.net(real, family)
        fake_logits, _ = self.net(fake.detach(), family)
        d_loss = discriminator_hinge(real_logits, fake_logits)
        self.optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        self._average_gradients()
        self.optimizer.step()
        self.net.requires_grad_(False)  # the quantizer's terms: gradients reach the decoded map only
        with torch.no_grad():  # both sides of the feature matching through the updated discriminator
            _, real_features = self.net(real, family)
        logits, features = self.net(fake, family)
        return {"adversarial": -logits.mean(), "feature_matching": feature_matching(features, real_features),
                "discriminator": d_loss.detach()}

    def _average_gradients(self) -> None:
        if not self.distributed:
            return
        world_size = dist.get_world_size()
        for parameter in self.net.parameters():
            if parameter.grad is not None:
                dist.all_reduce(parameter.grad)
                parameter.grad /= world_size

    # -- checkpoint state ------------------------------------------------------------------------
    def state(self) -> dict[str, torch.Tensor]:
        """Flat tensors: weights, the optimiser's moments and the step count."""
        out = {f"net.{k}": v for k, v in self.net.state_dict().items()}
        for index, state in self.optimizer.state_dict()["state"].items():
            for key, value in state.items():
                out[f"optimizer.{index}.{key}"] = torch.as_tensor(value)
        out["step"] = torch.tensor(self.step)
        return out

    def load_state(self, state: Mapping[str, torch.Tensor]) -> None:
        self.net.load_state_dict({k[len("net."):]: v for k, v in state.items() if k.startswith("net.")})
        moments: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in state.items():
            if key.startswith("optimizer."):
                _, index, name = key.split(".", 2)
                moments.setdefault(int(index), {})[name] = value
        saved = self.optimizer.state_dict()
        self.optimizer.load_state_dict({"state": moments, "param_groups": saved["param_groups"]})
        self.step = int(state["step"])
