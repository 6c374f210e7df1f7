"""Transformer blocks (self-attention, optional cross-attention, GELU/SwiGLU/ReLU MLP), pre-norm by
default or post-norm (the original's layout), with 2-D rotary positions and an optional KV cache;
attention goes through `attention.attend`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attention import CAUSAL, NO_MASK, AttnMask, attend
from .kv_cache import KVCache, LayerCache
from .rotary import apply_rotary

Table = tuple[torch.Tensor, torch.Tensor]


class MLP(nn.Module):
    """``gelu``/``relu``: Linear → GELU/ReLU → Linear. ``swiglu``: SiLU(xW₁) ⊙ xW₂ → Linear."""

    def __init__(self, d_model: int, ffn_dim: int, kind: str, dropout: float) -> None:
        super().__init__()
        self.kind = kind
        self.inner = nn.Linear(d_model, ffn_dim * (2 if kind == "swiglu" else 1))
        self.outer = nn.Linear(ffn_dim, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inner(x)
        if self.kind == "swiglu":
            a, b = h.chunk(2, dim=-1)
            h = F.silu(a) * b
        elif self.kind == "relu":
            h = F.relu(h)
        else:
            h = F.gelu(h)
        return self.outer(self.dropout(h))


class Attention(nn.Module):
    """Multi-head attention; ``cross=True`` takes keys/values from a ``context`` sequence."""

    def __init__(self, d_model: int, num_heads: int, dropout: float, backend: str, cross: bool) -> None:
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model {d_model} is not divisible by num_heads {num_heads}")
        self.heads, self.head_dim = num_heads, d_model // num_heads
        self.cross, self.dropout, self.backend = cross, dropout, backend
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(d_model, 2 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.heads, self.head_dim).transpose(1, 2)

    def _keys_values(self, source: torch.Tensor, rope_k: Table | None) -> tuple[torch.Tensor, torch.Tensor]:
        k, v = (self._split(t) for t in self.kv(source).chunk(2, dim=-1))
        if rope_k is not None:
            k = apply_rotary(k, rope_k)
        return k, v

    def forward(
        self,
        x: torch.Tensor,
        mask: AttnMask = NO_MASK,
        rope_q: Table | None = None,
        rope_k: Table | None = None,
        context: torch.Tensor | None = None,
        cache: LayerCache | None = None,
    ) -> torch.Tensor:
        q = self._split(self.q(x))
        if rope_q is not None:
            q = apply_rotary(q, rope_q)
        if self.cross:
            if cache is not None and cache.cross is not None:
                k, v = cache.cross
            else:
                assert context is not None, "cross-attention needs a context"
                k, v = self._keys_values(context, rope_k)
                if cache is not None:
                    cache.cross = (k, v)
        else:
            k, v = self._keys_values(x, rope_k)
            if cache is not None:
                k, v = cache.append(k, v)
        out = attend(q, k, v, mask, backend=self.backend, dropout_p=self.dropout if self.training else 0.0)
        b, _, n, _ = out.shape
        return self.out(out.transpose(1, 2).reshape(b, n, -1))


class Block(nn.Module):
    """``pre``: x + SelfAttn(LN x) [+ CrossAttn(LN x, memory)] + MLP(LN x).
    ``post``: x = LN(x + SelfAttn x) [x = LN(x + CrossAttn(x, memory))], LN(x + MLP x), the layout of
    torch's ``nn.Transformer`` layers that the original used. Both use the same LayerNorm modules."""

    def __init__(
        self, d_model: int, num_heads: int, ffn_dim: int, dropout: float, mlp: str, backend: str,
        causal: bool, cross: bool, norm: str = "pre",
    ) -> None:
        super().__init__()
        self.causal = causal
        self.post_norm = norm == "post"
        self.norm_self = nn.LayerNorm(d_model)
        self.self_attn = Attention(d_model, num_heads, dropout, backend, cross=False)
        self.norm_cross = nn.LayerNorm(d_model) if cross else None
        self.cross_attn = Attention(d_model, num_heads, dropout, backend, cross=True) if cross else None
        self.norm_mlp = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model, ffn_dim, mlp, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        rope_self: Table | None = None,
        memory: torch.Tensor | None = None,
        rope_cross: tuple[Table, Table] | None = None,
        cache: LayerCache | None = None,
    ) -> torch.Tensor:
        mask = CAUSAL if self.causal else NO_MASK
        if self.post_norm:
            return self._post(x, mask, rope_self, memory, rope_cross, cache)
        x = x + self.drop(self.self_attn(self.norm_self(x), mask, rope_self, rope_self, cache=cache))
        if self.cross_attn is not None and self.norm_cross is not None:
            rq, rk = rope_cross if rope_cross is not None else (None, None)
            x = x + self.drop(self.cross_attn(self.norm_cross(x), NO_MASK, rq, rk, context=memory, cache=cache))
        return x + self.drop(self.mlp(self.norm_mlp(x)))

    def _post(
        self, x: torch.Tensor, mask: AttnMask, rope_self: Table | None, memory: torch.Tensor | None,
        rope_cross: tuple[Table, Table] | None, cache: LayerCache | None,
    ) -> torch.Tensor:
        x = self.norm_self(x + self.drop(self.self_attn(x, mask, rope_self, rope_self, cache=cache)))
        if self.cross_attn is not None and self.norm_cross is not None:
            rq, rk = rope_cross if rope_cross is not None else (None, None)
            x = self.norm_cross(x + self.drop(self.cross_attn(x, NO_MASK, rq, rk, context=memory, cache=cache)))
        return self.norm_mlp(x + self.drop(self.mlp(x)))


class Stack(nn.Module):
    """``num_layers`` blocks and a final LayerNorm (kept with post-norm blocks too, as torch's
    ``nn.Transformer`` does). Causal stacks can decode with a `KVCache`."""

    def __init__(
        self, num_layers: int, d_model: int, num_heads: int, ffn_dim: int, dropout: float, mlp: str,
        backend: str, causal: bool, cross: bool, norm: str = "pre",
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            Block(d_model, num_heads, ffn_dim, dropout, mlp, backend, causal, cross, norm) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)

    def new_cache(self, max_len: int) -> KVCache:
        return KVCache(len(self.blocks), max_len)

    def forward(
        self,
        x: torch.Tensor,
        rope_self: Table | None = None,
        memory: torch.Tensor | None = None,
        rope_cross: tuple[Table, Table] | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        for i, block in enumerate(self.blocks):
            x = block(x, rope_self, memory, rope_cross, cache.layers[i] if cache is not None else None)
        return self.norm(x)
