"""Tiny prior configurations shared by the prior tests (top 8×4, bottom 16×8, 16 codes)."""

import torch

from specinpaint.core import Codemaps, Conditioning, registry

TOP, BOTTOM, CODES = (8, 4), (16, 8), 16
TINY = dict(d_model=32, num_heads=2, num_encoder_layers=1, num_decoder_layers=2, ffn_dim=64, dropout=0.0,
            class_dropout=0.0)
VARIANTS = [dict(positions="rope", mlp="gelu"), dict(positions="learned2d", mlp="swiglu")]


def build(name, **overrides):
    params = dict(TINY, num_codes=CODES, **overrides)
    if name == "top-transformer":
        params.setdefault("codemap_shape", list(TOP))
    else:
        params.setdefault("codemap_shape", list(BOTTOM))
        params.setdefault("top_shape", list(TOP))
        params.setdefault("top_num_codes", CODES)
    torch.manual_seed(0)
    return registry("priors").build(name, params)


def random_codes(batch=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Codemaps({
        "top": torch.randint(0, CODES, (batch, *TOP), generator=g),
        "bottom": torch.randint(0, CODES, (batch, *BOTTOM), generator=g),
    })


def conditioning(batch=3):
    pitches = [24 + 7 * i for i in range(batch)]
    families = [i % 11 for i in range(batch)]
    return Conditioning.make(pitches, families, batch)


def random_mask(shape, batch=3, p=0.5, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(batch, *shape, generator=g) < p
    mask[:, 0, 0] = True
    return mask
