"""Top, bottom and bottom-masked priors: masked-only loss, causality, k(i) alignment, KV cache,
inpainting invariants, guidance, seeds, eval semantics, errors."""

import pytest
import torch
from pydantic import ValidationError

from fakes.priors import (
    BOTTOM,
    CODES,
    TOP,
    VARIANTS,
    build,
    conditioning,
    random_codes,
    random_mask,
)
from specinpaint.core import Codemaps, Conditioning, PluginError, SamplingOptions, SpecinpaintError, registry
from specinpaint.priors.autoregressive import shifted_inputs

pytestmark = pytest.mark.usefixtures("one_thread")

PRIORS = ["top-transformer", "bottom-transformer", "bottom-masked"]
SHAPE = {"top-transformer": TOP, "bottom-transformer": BOTTOM, "bottom-masked": BOTTOM}


def top_logits(prior, seq, hidden, cond):
    """Decoder logits [B, N, V] of the top prior for a sequence and hidden mask (eval mode)."""
    classes = prior.classes(cond)
    memory = prior.encode(seq.masked_fill(hidden, prior.mask_id), classes)
    return prior.head(prior.decode(shifted_inputs(seq, prior.bos_id), memory, classes))


def bottom_logits(prior, top_seq, seq, cond):
    classes = prior.classes(cond)
    memory = prior.context(top_seq, classes)
    return prior.head(prior.decode(shifted_inputs(seq, prior.bos_id), memory, classes))


# -- loss -------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", VARIANTS)
def test_top_loss_counts_only_masked_positions(variant):
    prior = build("top-transformer", **variant).eval()
    codes, cond = random_codes(), conditioning()
    mask = random_mask(TOP, p=0.3)
    seq, hidden = prior.lin.to_sequence(codes["top"]), prior.lin.to_sequence(mask)
    scored = []
    handle = prior.head.register_forward_hook(lambda m, args, out: scored.append(args[0].shape[0]))
    out = prior.loss(codes, cond, mask)
    handle.remove()
    assert scored == [int(mask.sum())]  # the output head only scores hidden positions
    with torch.no_grad():
        logits = top_logits(prior, seq, hidden, cond)
        per_token = torch.nn.functional.cross_entropy(logits.transpose(1, 2), seq, reduction="none")
        memory = prior.encode(seq.masked_fill(hidden, prior.mask_id), prior.classes(cond))
        mlm = torch.nn.functional.cross_entropy(prior.mlm_head(memory).transpose(1, 2), seq, reduction="none")
    assert float(out.metrics["ar_loss"]) == pytest.approx(per_token[hidden].mean().item(), rel=1e-5)
    assert float(out.metrics["mlm_loss"]) == pytest.approx(mlm[hidden].mean().item(), rel=1e-5)
    assert out.loss.item() == pytest.approx(float(out.metrics["ar_loss"]) + float(out.metrics["mlm_loss"]), rel=1e-5)
    assert float(out.metrics["mask_fraction"]) == pytest.approx(mask.float().mean().item())


def test_top_loss_ignores_the_values_of_hidden_tokens_after_each_prediction():
    """The prediction at hidden slot p must not see token p or later hidden tokens (no copying)."""
    prior = build("top-transformer").eval()
    codes, cond = random_codes(), conditioning()
    mask = random_mask(TOP, p=0.5, seed=3)
    seq, hidden = prior.lin.to_sequence(codes["top"]), prior.lin.to_sequence(mask)
    p = int(hidden[0].nonzero()[len(hidden[0].nonzero()) // 2])
    changed = seq.clone()
    later_hidden = hidden.clone()
    later_hidden[:, :p] = False
    changed[later_hidden] = (changed[later_hidden] + 1) % CODES
    with torch.no_grad():
        a, b = top_logits(prior, seq, hidden, cond), top_logits(prior, changed, hidden, cond)
    torch.testing.assert_close(a[0, : p + 1], b[0, : p + 1], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(a[0, p + 1 :], b[0, p + 1 :])


def test_bottom_loss_default_is_all_tokens_and_mask_restricts_it():
    prior = build("bottom-transformer").eval()
    codes, cond = random_codes(), conditioning()
    lin, top_lin = prior.lin, prior.top_lin
    seq = lin.to_sequence(codes["bottom"])
    with torch.no_grad():
        logits = bottom_logits(prior, top_lin.to_sequence(codes["top"]), seq, cond)
        per_token = torch.nn.functional.cross_entropy(logits.transpose(1, 2), seq, reduction="none")
    assert prior.loss(codes, cond).loss.item() == pytest.approx(per_token.mean().item(), rel=1e-5)
    mask = random_mask(BOTTOM, p=0.2)
    expected = per_token[lin.to_sequence(mask)].mean().item()
    assert prior.loss(codes, cond, mask).loss.item() == pytest.approx(expected, rel=1e-5)


def test_bottom_masked_loss_counts_only_masked_and_ignores_hidden_values():
    prior = build("bottom-masked").eval()
    codes, cond = random_codes(), conditioning()
    mask = random_mask(BOTTOM, p=0.4)
    base = prior.loss(codes, cond, mask)
    seq, hidden = prior.lin.to_sequence(codes["bottom"]), prior.lin.to_sequence(mask)
    with torch.no_grad():
        memory = prior.context(prior.top_lin.to_sequence(codes["top"]), prior.classes(cond))
        logits = prior.logits(seq.masked_fill(hidden, prior.mask_id), memory, prior.classes(cond))
        per_token = torch.nn.functional.cross_entropy(logits.transpose(1, 2), seq, reduction="none")
    assert base.loss.item() == pytest.approx(per_token[hidden].mean().item(), rel=1e-5)
    # the hidden tokens' values never reach the logits; the visible ones do
    def all_logits(bottom):
        seq = prior.lin.to_sequence(bottom)
        with torch.no_grad():
            return prior.logits(seq.masked_fill(hidden, prior.mask_id), memory, prior.classes(cond))

    hidden_changed, visible_changed = codes["bottom"].clone(), codes["bottom"].clone()
    hidden_changed[mask] = (hidden_changed[mask] + 1) % CODES
    visible_changed[~mask] = (visible_changed[~mask] + 1) % CODES
    assert torch.equal(all_logits(hidden_changed), logits)
    assert not torch.allclose(all_logits(visible_changed), logits)


@pytest.mark.parametrize("name", PRIORS)
def test_training_loss_draws_its_own_masks_and_backpropagates(name):
    prior = build(name, class_dropout=0.5, dropout=0.1).train()
    out = prior.loss(random_codes(), conditioning())
    out.loss.backward()
    assert torch.isfinite(out.loss)
    assert float(out.metrics["loss"]) == pytest.approx(out.loss.item())
    unused = [n for n, p in prior.named_parameters() if p.grad is None]
    assert not unused, f"parameters without gradient (DDP would fail): {unused}"
    if name != "bottom-transformer":
        assert 0 < float(out.metrics["mask_fraction"]) <= 1


# -- causality and alignment ------------------------------------------------------------------
@pytest.mark.parametrize("variant", VARIANTS)
def test_bottom_decoder_does_not_leak_the_future(variant):
    prior = build("bottom-transformer", **variant).eval()
    codes, cond = random_codes(), conditioning()
    top_seq, seq = prior.top_lin.to_sequence(codes["top"]), prior.lin.to_sequence(codes["bottom"])
    j = 37
    changed = seq.clone()
    changed[:, j] = (changed[:, j] + 5) % CODES
    with torch.no_grad():
        a, b = bottom_logits(prior, top_seq, seq, cond), bottom_logits(prior, top_seq, changed, cond)
    torch.testing.assert_close(a[:, : j + 1], b[:, : j + 1], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(a[:, j + 1], b[:, j + 1])


def test_bottom_token_is_aligned_with_its_own_top_token_including_the_first_of_each_patch():
    prior = build("bottom-transformer").eval()
    n_top, n = prior.top_lin.length, prior.lin.length
    assert torch.equal(prior.context.parent_index, torch.arange(n) // 4)
    memory = torch.randn(2, n_top, 32)
    k = 5
    bumped = memory.clone()
    bumped[:, k] += 1.0
    with torch.no_grad():
        diff = (prior.context.aligned(bumped, 0, n) - prior.context.aligned(memory, 0, n)).abs().sum(dim=(0, 2))
    assert (diff > 0).nonzero().flatten().tolist() == [4 * k, 4 * k + 1, 4 * k + 2, 4 * k + 3]
    # chunked access (KV-cache decoding) picks the same parents
    torch.testing.assert_close(prior.context.aligned(memory, 20, 21), prior.context.aligned(memory, 0, n)[:, 20:21])


# -- sampling ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["top-transformer", "bottom-transformer"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_kv_cache_sampling_equals_full_recompute(name, variant):
    prior = build(name, **variant)
    codes, cond = random_codes(), conditioning()
    mask = random_mask(SHAPE[name], p=0.6, seed=1)  # different masks per example
    level = prior.level
    for options in (dict(seed=7), dict(seed=8, top_k=4, top_p=0.9, temperature=0.8, guidance_scale=2.5)):
        cached = prior.inpaint(codes, mask, cond, SamplingOptions(use_kv_cache=True, **options))
        full = prior.inpaint(codes, mask, cond, SamplingOptions(use_kv_cache=False, **options))
        assert torch.equal(cached, full)
        assert (cached[mask] != codes[level][mask]).any()


SAMPLERS = [("top-transformer", "autoregressive"), ("top-transformer", "parallel"),
            ("bottom-transformer", "autoregressive"), ("bottom-masked", "parallel"),
            ("bottom-masked", "autoregressive")]


@pytest.mark.parametrize("name, sampler", SAMPLERS)
def test_inpaint_never_changes_unmasked_tokens(name, sampler):
    prior = build(name)
    codes, cond = random_codes(), conditioning()
    mask = random_mask(SHAPE[name], p=0.5, seed=2)
    out = prior.inpaint(codes, mask, cond, SamplingOptions(sampler=sampler, seed=0, num_steps=4, guidance_scale=2.0))
    level = prior.level
    assert out.shape == codes[level].shape and out.dtype == torch.long
    assert torch.equal(out[~mask], codes[level][~mask])
    assert out.min() >= 0 and out.max() < CODES
    assert (out[mask] != codes[level][mask]).float().mean() > 0.5  # random model: most hidden tokens change


@pytest.mark.parametrize("name, sampler", SAMPLERS)
def test_seeds_are_per_call_and_reproducible(name, sampler):
    prior = build(name)
    codes, cond = random_codes(2), conditioning(2)
    mask = torch.ones(2, *SHAPE[name], dtype=torch.bool)
    run = lambda seed: prior.inpaint(codes, mask, cond, SamplingOptions(sampler=sampler, seed=seed, num_steps=3))  # noqa: E731
    torch.manual_seed(123)
    a = run(1)
    torch.manual_seed(456)
    assert torch.equal(a, run(1))
    assert not torch.equal(a, run(2))


def test_inpaint_uses_eval_and_no_grad_and_restores_the_train_flag():
    prior = build("top-transformer", dropout=0.5).train()
    codes, cond, mask = random_codes(), conditioning(), random_mask(TOP)
    a = prior.inpaint(codes, mask, cond, SamplingOptions(seed=3))
    b = prior.inpaint(codes, mask, cond, SamplingOptions(seed=3))
    assert torch.equal(a, b)  # dropout (global RNG) would make them differ
    assert not a.requires_grad
    assert prior.training and all(m.training for m in prior.modules())
    prior.eval()
    prior.inpaint(codes, mask, cond, SamplingOptions(seed=3))
    assert not any(m.training for m in prior.modules())


def test_guidance_scale_zero_is_the_unconditional_model():
    prior = build("bottom-transformer")
    codes, cond = random_codes(), conditioning()
    mask = torch.ones(3, *BOTTOM, dtype=torch.bool)
    guided_zero = prior.inpaint(codes, mask, cond, SamplingOptions(seed=5, guidance_scale=0.0))
    unconditional = prior.inpaint(codes, mask, Conditioning.null(3), SamplingOptions(seed=5))
    conditional = prior.inpaint(codes, mask, cond, SamplingOptions(seed=5))
    assert torch.equal(guided_zero, unconditional)
    assert not torch.equal(conditional, unconditional)


@pytest.mark.parametrize("name", ["top-transformer", "bottom-transformer"])
def test_family_only_guidance_strengthens_the_family_alone(name):
    """``guidance_drop='family'``: scale 0 is the model given the pitch without the family; any
    scale is the plain conditional model when no family is asked for (both halves agree)."""
    prior = build(name)
    codes, cond = random_codes(), conditioning()
    mask = torch.ones(3, *SHAPE[name], dtype=torch.bool)
    pitch_only = Conditioning(cond.pitch, torch.full_like(cond.family, -1))

    def sample(c, **options):
        return prior.inpaint(codes, mask, c, SamplingOptions(seed=5, **options))

    assert torch.equal(sample(cond, guidance_scale=0.0, guidance_drop="family"), sample(pitch_only))
    assert torch.equal(sample(pitch_only, guidance_scale=4.0, guidance_drop="family"), sample(pitch_only))
    assert not torch.equal(sample(pitch_only, guidance_scale=4.0), sample(pitch_only))  # classic: pitch pushed
    per_level = SamplingOptions(guidance_scale=2.0, levels={prior.level: {"guidance_drop": "family"}})
    assert per_level.for_level(prior.level).guidance_drop == "family"
    with pytest.raises(ValidationError):
        SamplingOptions(guidance_drop="pitch")


@pytest.mark.parametrize("name", ["top-transformer", "bottom-transformer"])
def test_a_pitch_scale_adds_a_third_pass_between_the_two_guidances(name):
    """``pitch_guidance_scale``: equal to the family's scale it draws what classic guidance draws, at 1
    what family-only guidance draws, otherwise neither, whatever ``guidance_drop`` says."""
    prior = build(name)
    codes, cond = random_codes(), conditioning()
    mask = torch.ones(3, *SHAPE[name], dtype=torch.bool)

    def sample(**options):
        return prior.inpaint(codes, mask, cond, SamplingOptions(seed=5, **options))

    family_only = sample(guidance_scale=3.0, guidance_drop="family")
    classic = sample(guidance_scale=3.0)
    assert torch.equal(sample(guidance_scale=3.0, guidance_drop="family", pitch_guidance_scale=3.0), classic)
    assert torch.equal(sample(guidance_scale=3.0, guidance_drop="family", pitch_guidance_scale=1.0), family_only)
    both = sample(guidance_scale=3.0, guidance_drop="family", pitch_guidance_scale=6.0)
    assert not torch.equal(both, classic) and not torch.equal(both, family_only)
    assert torch.equal(sample(guidance_scale=3.0, pitch_guidance_scale=6.0), both)  # the drop does not matter
    assert torch.equal(sample(guidance_scale=1.0, pitch_guidance_scale=1.0), sample())  # unguided
    per_level = SamplingOptions(levels={prior.level: {"pitch_guidance_scale": 2.0}})
    assert per_level.for_level(prior.level).pitch_guidance_scale == 2.0


def test_variations_are_sampled_as_one_batch():
    prior = build("top-transformer")
    codes, cond, mask = random_codes(2), conditioning(2), random_mask(TOP, batch=2, p=0.7)
    out = prior.variations(codes, mask, cond, SamplingOptions(seed=0), n=3)
    assert out.shape == (6, *TOP)
    for b in range(2):
        rows = out[3 * b : 3 * b + 3]
        assert torch.equal(rows[:, ~mask[b]], codes["top"][b][~mask[b]].expand(3, -1))
        assert not torch.equal(rows[0], rows[1])


def test_sample_draws_whole_maps():
    top, bottom = build("top-transformer"), build("bottom-masked")
    cond = conditioning(2)
    new_top = top.sample(cond, SamplingOptions(seed=1))
    new_bottom = bottom.sample(cond, SamplingOptions(seed=1, sampler="parallel"), Codemaps({"top": new_top}))
    assert new_top.shape == (2, *TOP) and new_bottom.shape == (2, *BOTTOM)


# -- configuration and errors ---------------------------------------------------------------------
def test_params_defaults_are_the_paper_sizes_and_forbid_unknown_keys():
    for name, shape in (("top-transformer", (32, 4)), ("bottom-transformer", (64, 8)), ("bottom-masked", (64, 8))):
        params = registry("priors").params_model(name)()
        assert (params.d_model, params.num_heads, params.num_encoder_layers, params.num_decoder_layers) == (512, 16, 6, 8)
        assert (params.ffn_dim, params.dropout, params.num_codes, tuple(params.codemap_shape)) == (2048, 0.1, 512, shape)
        assert params.attention_backend == "auto"
    with pytest.raises(PluginError, match="params.d_modell"):
        registry("priors").validate("top-transformer", {"d_modell": 3})
    with pytest.raises(ValidationError, match="divisible"):
        registry("priors").params_model("top-transformer")(d_model=40, num_heads=4)  # head dim 10: no 2-D rope
    with pytest.raises(ValidationError, match="integer upsampling"):
        registry("priors").params_model("bottom-transformer")(codemap_shape=[48, 8])


def test_top_prior_without_encoder_head():
    prior = build("top-transformer", mlm_loss_weight=0.0)
    assert prior.mlm_head is None
    out = prior.loss(random_codes(), conditioning())
    assert "mlm_loss" not in out.metrics and out.loss.item() == pytest.approx(float(out.metrics["ar_loss"]))
    with pytest.raises(SpecinpaintError, match="parallel sampling needs the encoder head"):
        prior.inpaint(random_codes(), random_mask(TOP), conditioning(), SamplingOptions(sampler="parallel"))


def test_bad_inputs_get_one_line_errors():
    top, bottom = build("top-transformer"), build("bottom-transformer")
    codes, cond = random_codes(), conditioning()
    opts = SamplingOptions()
    with pytest.raises(SpecinpaintError, match="expected"):
        top.inpaint(Codemaps({"top": torch.zeros(3, 4, 4, dtype=torch.long)}), torch.ones(3, 4, 4, dtype=torch.bool), cond, opts)
    with pytest.raises(SpecinpaintError, match="bool"):
        top.inpaint(codes, torch.ones(3, *TOP), cond, opts)
    with pytest.raises(SpecinpaintError, match="batch"):
        top.inpaint(codes, torch.ones(3, *TOP, dtype=torch.bool), conditioning(2), opts)
    with pytest.raises(SpecinpaintError, match="outside"):
        top.loss(codes.replace(top=codes["top"] + CODES), cond)
    with pytest.raises(SpecinpaintError, match="needs codemap level 'top'"):
        bottom.loss(Codemaps({"bottom": codes["bottom"]}), cond)
    with pytest.raises(SpecinpaintError, match="bottom-masked"):
        bottom.inpaint(codes, torch.ones(3, *BOTTOM, dtype=torch.bool), cond, SamplingOptions(sampler="parallel"))
    with pytest.raises(SpecinpaintError, match="hides no token"):
        top.loss(codes, cond, torch.zeros(3, *TOP, dtype=torch.bool))


def test_attention_backend_choice_reaches_every_layer(monkeypatch):
    """The same weights give the same loss through math and sdpa, chosen by config or environment."""
    calls = []
    from specinpaint.priors import attention

    original = dict(attention._IMPLS)
    for name in ("math", "sdpa"):
        monkeypatch.setitem(attention._IMPLS, name, lambda *a, _n=name, **k: calls.append(_n) or original[_n](*a, **k))
    codes, cond, mask = random_codes(), conditioning(), random_mask(BOTTOM)
    losses = {}
    for backend in ("math", "sdpa"):
        prior = build("bottom-masked", attention_backend=backend).eval()
        calls.clear()
        losses[backend] = prior.loss(codes, cond, mask).loss.item()
        assert set(calls) == {backend} and len(calls) == 1 + 2 * 2  # encoder self + body self/cross
    assert losses["math"] == pytest.approx(losses["sdpa"], rel=1e-5)
    monkeypatch.setenv(attention.ENV_VAR, "math")
    calls.clear()
    build("bottom-masked").eval().loss(codes, cond, mask)
    assert set(calls) == {"math"}
