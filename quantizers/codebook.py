"""One-level vector quantizer: EMA codebook, k-means initialisation, synchronised dead-code restarts.

Why these pieces: the paper's EMA codebook (decay 0.99, Laplace smoothing,
straight-through gradients, commitment loss only) collapses easily; k-means initialisation from the
first batch and restarts of codes unused for ``dead_code_steps`` training steps keep the codebook
alive. Under DistributedDataParallel the counts and sums are all-reduced, and every random choice
(k-means seeds, restart vectors) is made on rank 0 and broadcast, so all ranks hold the same codebook
and take the same restart decision.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    if _distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def _broadcast_from_rank0(tensor: torch.Tensor) -> torch.Tensor:
    if _distributed():
        dist.broadcast(tensor, src=0)
    return tensor


def _is_rank0() -> bool:
    return not _distributed() or dist.get_rank() == 0


def squared_distances(x: torch.Tensor, embed: torch.Tensor) -> torch.Tensor:
    """[N, D] × [K, D] → [N, K] squared L2 distances (expanded form, no [N, K, D] tensor)."""
    return x.pow(2).sum(1, keepdim=True) - 2 * x @ embed.t() + embed.pow(2).sum(1)[None, :]


def sample_rows(x: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` rows of ``x`` drawn without replacement when possible (global torch RNG)."""
    n = x.shape[0]
    if n >= count:
        index = torch.randperm(n, device=x.device)[:count]
    else:
        index = torch.randint(0, n, (count,), device=x.device)
    return x[index]


def kmeans(x: torch.Tensor, num_codes: int, iters: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means on [N, D] → (centres [K, D], cluster sizes [K]). Empty clusters keep their
    previous centre. Centres start from random data rows."""
    centres = sample_rows(x, num_codes).clone()
    counts = torch.zeros(num_codes, device=x.device, dtype=x.dtype)
    for _ in range(max(iters, 1)):
        assign = squared_distances(x, centres).argmin(1)
        counts = torch.bincount(assign, minlength=num_codes).to(x.dtype)
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None]
    return centres, counts


@dataclass
class CodebookStats:
    """Per-step code usage: ``perplexity`` = exp(entropy of the batch's code histogram);
    ``dead_fraction`` = share of codes unused for at least ``dead_code_steps`` training steps
    (measured before this step's restarts); ``usage`` = share of codes used in this batch;
    ``restarted`` = codes restarted this step. The three shares are detached 0-d tensors on the
    codebook's device (no sync per step; ``float()`` reads one)."""

    perplexity: float | torch.Tensor
    usage: float | torch.Tensor
    dead_fraction: float | torch.Tensor
    restarted: int

    def as_metrics(self, prefix: str) -> dict[str, float | torch.Tensor]:
        return {
            f"{prefix}/perplexity": self.perplexity,
            f"{prefix}/usage": self.usage,
            f"{prefix}/dead_fraction": self.dead_fraction,
            f"{prefix}/restarted": float(self.restarted),
        }


class EMACodebook(nn.Module):
    """``num_codes`` vectors of ``dim`` updated by exponential moving averages (not by gradients).

    ``forward(z)`` takes ``[N, dim]`` encoder outputs and returns the straight-through quantized
    vectors, the code indices, the (unweighted) commitment loss mean((z - sg(q))²) and usage stats.
    In training mode it also updates the codebook; in eval mode it is a pure, deterministic lookup.
    All state lives in buffers, so it is saved with the model and restored on resume.
    """

    def __init__(
        self,
        num_codes: int,
        dim: int,
        *,
        decay: float = 0.99,
        epsilon: float = 1e-5,
        kmeans_init: bool = True,
        kmeans_iters: int = 10,
        dead_code_steps: int = 50,
        restart_dead_codes: bool = True,
    ) -> None:
        super().__init__()
        self.num_codes, self.dim = num_codes, dim
        self.decay, self.epsilon = decay, epsilon
        self.kmeans_iters = kmeans_iters
        self.dead_code_steps = dead_code_steps
        self.restart_dead_codes = restart_dead_codes
        embed = torch.randn(num_codes, dim)
        self.register_buffer("embed", embed)
        self.register_buffer("embed_avg", embed.clone())
        self.register_buffer("cluster_size", torch.ones(num_codes))
        self.register_buffer("unused_steps", torch.zeros(num_codes, dtype=torch.long))
        self.register_buffer("initialized", torch.tensor(not kmeans_init))

    # -- lookups -----------------------------------------------------------------------------
    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """[N, dim] → code indices [N] (deterministic: argmin, ties to the lowest index)."""
        return squared_distances(z.float(), self.embed).argmin(1)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Integer codes of any shape → vectors [..., dim]."""
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.num_codes):
            raise ValueError(f"codes outside [0, {self.num_codes})")
        return nn.functional.embedding(codes, self.embed)

    # -- training ------------------------------------------------------------------------------
    @torch.no_grad()
    def _kmeans_init(self, z: torch.Tensor) -> None:
        if _is_rank0():
            centres, counts = kmeans(z, self.num_codes, self.kmeans_iters)
        else:
            centres = torch.empty_like(self.embed)
            counts = torch.empty_like(self.cluster_size)
        _broadcast_from_rank0(centres)
        _broadcast_from_rank0(counts)
        self.embed.copy_(centres)
        self.cluster_size.copy_(counts.clamp(min=1.0))
        self.embed_avg.copy_(centres * self.cluster_size[:, None])
        self.unused_steps.zero_()
        self.initialized.fill_(True)

    @torch.no_grad()
    def _ema_update(self, z: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        counts = torch.bincount(codes, minlength=self.num_codes).to(z.dtype)
        sums = torch.zeros_like(self.embed).index_add_(0, codes, z)
        _all_reduce_sum(counts)
        _all_reduce_sum(sums)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_avg.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.epsilon) / (total + self.num_codes * self.epsilon) * total
        self.embed.copy_(self.embed_avg / smoothed[:, None])
        self.unused_steps.add_(1).masked_fill_(counts > 0, 0)
        return counts

    @torch.no_grad()
    def _restart(self, z: torch.Tensor, dead: torch.Tensor) -> int:
        """Replace dead codes by recent encoder outputs chosen on rank 0 (same on every rank)."""
        count = int(dead.sum())
        if count == 0:
            return 0
        vectors = sample_rows(z, count) if _is_rank0() else torch.empty(count, self.dim, device=z.device)
        _broadcast_from_rank0(vectors)
        self.embed[dead] = vectors
        self.embed_avg[dead] = vectors
        self.cluster_size[dead] = 1.0
        self.unused_steps[dead] = 0
        return count

    @torch.compiler.disable  # data-dependent control flow and statistics: always eager
    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, CodebookStats]:
        """[N, dim] → (straight-through quantized [N, dim], codes [N], commitment loss, stats)."""
        dtype = z.dtype
        with torch.autocast(device_type=z.device.type, enabled=False):
            flat = z.float()
            if self.training and not bool(self.initialized):
                self._kmeans_init(flat.detach())
            codes = self.nearest(flat.detach())
            quantized = nn.functional.embedding(codes, self.embed)
            commitment = (flat - quantized.detach()).pow(2).mean()
            restarted = 0
            if self.training:
                counts = self._ema_update(flat.detach(), codes)
                dead = (
                    self.unused_steps >= self.dead_code_steps
                    if self.dead_code_steps > 0
                    else torch.zeros_like(self.unused_steps, dtype=torch.bool)
                )
                dead_fraction = dead.float().mean()
                if self.restart_dead_codes:
                    restarted = self._restart(flat.detach(), dead)
            else:
                counts = torch.bincount(codes, minlength=self.num_codes).float()
                dead_fraction = (self.unused_steps >= max(self.dead_code_steps, 1)).float().mean()
            probs = counts / counts.sum().clamp(min=1.0)
            perplexity = torch.exp(-(probs * torch.log(probs + 1e-10)).sum())
            usage = (counts > 0).float().mean()
            out = flat + (quantized - flat).detach()
        stats = CodebookStats(perplexity, usage, dead_fraction, restarted)
        return out.to(dtype), codes, commitment, stats
