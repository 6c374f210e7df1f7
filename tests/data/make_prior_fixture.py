"""Writes prior_offset_fixture.safetensors: tiny priors' weights, inputs, losses and inpainted
codes, computed by the code *before* priors took time offsets (commit deea728). The test
`tests/test_priors_time_offset.py` loads these weights into today's priors and checks they give
the same numbers. Regenerate only on purpose, with the old sources first on PYTHONPATH:

    git archive deea728 | tar -x -C /tmp/old/src   # then lay it out as /tmp/old/specinpaint
    PYTHONPATH=/tmp/old python tests/data/make_prior_fixture.py
"""

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from specinpaint.core import Codemaps, Conditioning, SamplingOptions, registry

TOP, BOTTOM, CODES = (8, 4), (16, 8), 16
TINY = dict(d_model=32, num_heads=2, num_encoder_layers=1, num_decoder_layers=2, ffn_dim=64, dropout=0.0,
            class_dropout=0.0, num_codes=CODES)
CASES = {
    "top_rope": ("top-transformer", {}),
    "top_paper": ("top-transformer", dict(positions="learned2d", embedding="concat", mlp="relu", norm="post", class_dim=4, position_dim=8)),
    "bottom_rope": ("bottom-transformer", {}),
    "bottom_paper": ("bottom-transformer", dict(positions="learned2d", embedding="concat", mlp="relu",
                                                 norm="post", cross_attention=False, class_dim=4, position_dim=8)),
    "masked_learned": ("bottom-masked", dict(positions="learned2d")),
}


def params_of(name, extra):
    params = dict(TINY, **extra)
    if name == "top-transformer":
        params["codemap_shape"] = list(TOP)
    else:
        params.update(codemap_shape=list(BOTTOM), top_shape=list(TOP), top_num_codes=CODES)
    return params


def inputs():
    g = torch.Generator().manual_seed(0)
    codes = Codemaps({"top": torch.randint(0, CODES, (2, *TOP), generator=g),
                      "bottom": torch.randint(0, CODES, (2, *BOTTOM), generator=g)})
    masks = {"top": torch.rand(2, *TOP, generator=g) < 0.5, "bottom": torch.rand(2, *BOTTOM, generator=g) < 0.5}
    for m in masks.values():
        m[:, 0, 0] = True
    return codes, masks, Conditioning.make([40, 60], [3, 7], 2)


def main():
    torch.set_num_threads(1)
    codes, masks, cond = inputs()
    tensors, meta = {}, {}
    for case, (name, extra) in CASES.items():
        params = params_of(name, extra)
        torch.manual_seed(0)
        prior = registry("priors").build(name, params).eval()
        level = prior.level
        with torch.no_grad():
            loss = prior.loss(codes, cond, masks[level]).loss.item()
        out = prior.inpaint(codes, masks[level], cond, SamplingOptions(seed=3, guidance_scale=2.0))
        for key, value in prior.state_dict().items():
            tensors[f"{case}.state.{key}"] = value.contiguous()
        tensors[f"{case}.inpaint"] = out
        meta[case] = {"name": name, "params": params, "loss": loss}
    tensors.update({"codes.top": codes["top"], "codes.bottom": codes["bottom"],
                    "mask.top": masks["top"], "mask.bottom": masks["bottom"]})
    out = Path(__file__).with_name("prior_offset_fixture.safetensors")
    save_file(tensors, str(out), metadata={"cases": json.dumps(meta)})
    print(out, {k: v["loss"] for k, v in meta.items()})


if __name__ == "__main__":
    main()
