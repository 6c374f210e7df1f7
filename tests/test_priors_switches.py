"""The prior switches that reproduce the original's layers (issue 14), on tiny models: post-norm
blocks, ReLU MLPs, concatenated embeddings, Bernoulli training masks, the loss on all top
positions, and the bottom decoder without cross-attention."""

import pytest
import torch

from fakes.priors import (
    BOTTOM,
    CODES,
    TOP,
    build,
    conditioning,
    random_codes,
    random_mask,
)
from specinpaint.core import SamplingOptions, SpecinpaintError
from specinpaint.priors.autoregressive import shifted_inputs
from specinpaint.priors.class_embedding import ClassEmbedding
from specinpaint.priors.layers import MLP, Block
from specinpaint.priors.masking import draw_bernoulli_masks, draw_masks

pytestmark = pytest.mark.usefixtures("one_thread")

PAPER_STYLE = dict(positions="learned2d", norm="post", mlp="relu", embedding="concat", token_dim=8,
                   position_dim=8, class_dim=4)


def _block(norm: str) -> Block:
    torch.manual_seed(0)
    return Block(32, 2, 64, 0.0, "gelu", "math", causal=True, cross=False, norm=norm)


# -- blocks ---------------------------------------------------------------------------------
def test_post_norm_block_normalises_its_output_and_differs_from_pre_norm():
    pre, post = _block("pre"), _block("post")
    post.load_state_dict(pre.state_dict())  # same parameters: only the placement of the norms differs
    x = 3.0 * torch.randn(2, 5, 32) + 1.0
    a, b = pre(x), post(x)
    assert not torch.allclose(a, b, atol=1e-3)
    # post-norm ends in a LayerNorm (unit weight, zero bias at init): every position is standardised
    torch.testing.assert_close(b.mean(-1), torch.zeros(2, 5), atol=1e-5, rtol=0)
    torch.testing.assert_close(b.var(-1, unbiased=False), torch.ones(2, 5), atol=1e-3, rtol=0)
    assert (a.mean(-1).abs() > 0.1).any()  # pre-norm keeps the residual stream as it is


def test_relu_mlp_is_linear_relu_linear():
    torch.manual_seed(0)
    mlp = MLP(16, 32, "relu", 0.0)
    x = torch.randn(4, 16)
    torch.testing.assert_close(mlp(x), mlp.outer(torch.relu(mlp.inner(x))))
    assert mlp.inner.out_features == 32  # not gated (swiglu doubles it)


# -- embeddings -------------------------------------------------------------------------------
def test_concat_class_embedding_puts_pitch_and_family_side_by_side():
    torch.manual_seed(0)
    embed = ClassEmbedding(4, combine="concat")
    a = embed(conditioning(3))
    assert a.shape == (3, 8) and embed.width == 8
    from specinpaint.core import Conditioning

    same_pitch = embed(Conditioning.make([24, 31, 38], [5, 5, 5], 3))
    torch.testing.assert_close(same_pitch[:, :4], a[:, :4])  # pitch part depends on the pitch only
    assert not torch.allclose(same_pitch[:, 4:], a[:, 4:])


def test_concat_token_input_lays_out_token_position_and_class_parts():
    prior = build("top-transformer", **PAPER_STYLE)
    p, inputs = prior.params, prior.source
    assert p.token_width == 32 - 8 - 2 * 4
    tokens = torch.randint(0, CODES, (2, TOP[0] * TOP[1]))
    classes = prior.classes(conditioning(2))
    out = inputs(tokens, classes)
    assert out.shape == (2, TOP[0] * TOP[1], 32)
    width, coords = p.token_width, prior.lin.coords
    torch.testing.assert_close(out[..., :width], inputs.project(inputs.tokens(tokens)))
    torch.testing.assert_close(out[0, :, width:width + 4], inputs.freq(coords[:, 0]))
    torch.testing.assert_close(out[0, :, width + 4:width + 8], inputs.time(coords[:, 1]))
    torch.testing.assert_close(out[:, :, width + 8:], classes[:, None].expand(2, out.shape[1], 8))
    # the projected token part starts as large as the 0.02-std embeddings beside it
    ratio = out[..., :width].detach().std() / out[..., width:width + 8].detach().std()
    assert 0.3 < float(ratio) < 3.0


@pytest.mark.parametrize("name", ["top-transformer", "bottom-transformer", "bottom-masked"])
def test_every_prior_trains_and_samples_with_the_paper_style_layers(name):
    prior = build(name, **PAPER_STYLE)
    codes, cond = random_codes(), conditioning()
    out = prior.loss(codes, cond)
    out.loss.backward()
    assert torch.isfinite(out.loss)
    assert all(p.grad is not None for p in prior.parameters() if p.requires_grad)
    level = "top" if name == "top-transformer" else "bottom"
    mask = random_mask(TOP if level == "top" else BOTTOM)
    result = prior.inpaint(codes, mask, cond, SamplingOptions(seed=0))
    assert torch.equal(result[~mask], codes[level][~mask])


# -- training masks ---------------------------------------------------------------------------
def test_bernoulli_masks_have_per_example_ratios_spread_over_zero_to_one():
    g = torch.Generator().manual_seed(0)
    ratios = draw_bernoulli_masks(400, (32, 4), generator=g).float().mean(dim=(1, 2))
    assert float(ratios.min()) < 0.05 and float(ratios.max()) > 0.95
    assert abs(float(ratios.mean()) - 0.5) < 0.05 and abs(float(ratios.std()) - 12**-0.5) < 0.05  # U[0, 1]
    hist = torch.histc(ratios, bins=4, min=0, max=1)
    assert (hist > 60).all()  # every quarter of [0, 1] is well represented


def test_per_batch_bernoulli_masks_share_one_ratio_within_a_batch():
    g = torch.Generator().manual_seed(1)
    batch_ratios = []
    for _ in range(40):
        ratios = draw_masks("bernoulli_batch", 32, (32, 4), generator=g, at_least_one=False).float().mean(dim=(1, 2))
        assert float(ratios.std()) < 0.1  # binomial spread around one p only
        batch_ratios.append(float(ratios.mean()))
    spread = torch.tensor(batch_ratios)
    assert float(spread.min()) < 0.2 and float(spread.max()) > 0.8


def test_bernoulli_masks_may_hide_nothing_only_when_asked():
    g = torch.Generator().manual_seed(0)
    free = draw_bernoulli_masks(2000, (2, 2), generator=g, at_least_one=False)
    assert (~free.flatten(1).any(1)).any()  # p near 0 on 4 tokens: some examples hide nothing
    forced = draw_bernoulli_masks(2000, (2, 2), generator=torch.Generator().manual_seed(0))
    assert forced.flatten(1).any(1).all()


# -- loss on all top positions ----------------------------------------------------------------
def _per_token_ce(prior, codes, cond, mask):
    seq, hidden = prior.lin.to_sequence(codes["top"]), prior.lin.to_sequence(mask)
    with torch.no_grad():
        classes = prior.classes(cond)
        memory = prior.encode(seq.masked_fill(hidden, prior.mask_id), classes)
        logits = prior.head(prior.decode(shifted_inputs(seq, prior.bos_id), memory, classes))
    return torch.nn.functional.cross_entropy(logits.transpose(1, 2), seq, reduction="none"), hidden


def test_top_loss_on_all_positions_counts_the_visible_ones_too():
    prior = build("top-transformer", loss_positions="all", mlm_loss_weight=0.0).eval()
    codes, cond = random_codes(), conditioning()
    mask = random_mask(TOP, p=0.3)
    per_token, hidden = _per_token_ce(prior, codes, cond, mask)
    out = prior.loss(codes, cond, mask)
    assert out.loss.item() == pytest.approx(per_token.mean().item(), rel=1e-5)
    assert out.loss.item() != pytest.approx(per_token[hidden].mean().item(), rel=1e-3)
    hidden_only = build("top-transformer", mlm_loss_weight=0.0).eval()
    hidden_only.load_state_dict(prior.state_dict())
    assert hidden_only.loss(codes, cond, mask).loss.item() == pytest.approx(per_token[hidden].mean().item(), rel=1e-5)
    assert 0.0 <= float(out.metrics["hidden_accuracy"]) <= 1.0


def test_top_loss_on_all_positions_accepts_a_mask_that_hides_nothing():
    all_positions = build("top-transformer", loss_positions="all", mlm_loss_weight=0.0).eval()
    nothing = torch.zeros(3, *TOP, dtype=torch.bool)
    out = all_positions.loss(random_codes(), conditioning(), nothing)
    assert torch.isfinite(out.loss)
    with pytest.raises(SpecinpaintError, match="hides no token"):
        build("top-transformer").loss(random_codes(), conditioning(), nothing)


def test_top_prior_draws_its_masks_with_the_configured_sampler():
    prior = build("top-transformer", mask_sampler="bernoulli", loss_positions="all", mlm_loss_weight=0.0)
    torch.manual_seed(0)
    fractions = [prior.loss(random_codes(batch=1), conditioning(1)).metrics["mask_fraction"].item() for _ in range(30)]
    assert min(fractions) < 0.15 and max(fractions) > 0.85  # U[0, 1] ratios, no box shapes needed


# -- bottom decoder without cross-attention -------------------------------------------------------
def test_bottom_prior_without_cross_attention_has_no_cross_parameters_and_trains():
    with_cross = build("bottom-transformer")
    without = build("bottom-transformer", cross_attention=False)
    assert [n for n, _ in with_cross.named_parameters() if "cross" in n]
    assert not [n for n, _ in without.named_parameters() if "cross" in n]
    assert sum(p.numel() for p in without.parameters()) < sum(p.numel() for p in with_cross.parameters())
    codes, cond = random_codes(), conditioning()
    optimizer = torch.optim.Adam(without.parameters(), lr=3e-3)
    before = without.loss(codes, cond)
    before.loss.backward()
    assert all(p.grad is not None for p in without.context.parameters())  # the top map still matters
    optimizer.step()
    after = without.loss(codes, cond)
    assert after.loss.item() < before.loss.item()


def _moved_slots(prior, codes, cond, cell: int) -> torch.Tensor:
    """Decoder slots whose logits change when the memory vector of top ``cell`` changes."""
    top_seq, seq = prior.top_lin.to_sequence(codes["top"]), prior.lin.to_sequence(codes["bottom"])
    with torch.no_grad():
        classes = prior.classes(cond)
        memory = prior.context(top_seq, classes)
        bumped = memory.clone()
        bumped[:, cell] += 1.0
        inputs = shifted_inputs(seq, prior.bos_id)
        a, b = (prior.head(prior.decode(inputs, m, classes)) for m in (memory, bumped))
    return (a - b).abs().amax(dim=(0, 2)) > 1e-6


def test_bottom_prior_without_cross_attention_sees_the_top_memory_only_through_k_of_i():
    codes, cond = random_codes(batch=1), conditioning(1)
    prior = build("bottom-transformer", cross_attention=False).eval()
    moved = _moved_slots(prior, codes, cond, 5)
    below = (prior.context.parent_index == 5).nonzero().flatten()
    # causal decoder: slots before the first token under top cell 5 cannot see its vector
    assert not moved[: int(below.min())].any() and moved[below].all()
    assert _moved_slots(build("bottom-transformer").eval(), codes, cond, 5)[0]  # cross-attention: everywhere
    options = SamplingOptions(seed=2)
    mask = torch.ones(1, *BOTTOM, dtype=torch.bool)
    cached = prior.inpaint(codes, mask, cond, options)
    full = prior.inpaint(codes, mask, cond, options.model_copy(update={"use_kv_cache": False}))
    assert torch.equal(cached, full)
