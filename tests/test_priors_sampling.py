"""Sampling pieces: logit filters, seeded draws, MaskGIT schedule, training masks."""

import math

import pytest
import torch

from specinpaint.core import SamplingOptions
from specinpaint.priors.masking import draw_training_masks
from specinpaint.priors.parallel import decode_parallel, decode_sequential_masked
from specinpaint.priors.sampling import draw, filter_logits, guide, make_generator, probabilities


def test_top_k_and_top_p_filters():
    logits = torch.tensor([[4.0, 3.0, 2.0, 1.0, 0.0]])
    assert torch.isfinite(filter_logits(logits, top_k=2)).tolist() == [[True, True, False, False, False]]
    probs = logits.softmax(-1)[0]  # ≈ 0.64, 0.24, 0.09, ...
    kept = torch.isfinite(filter_logits(logits, top_p=0.8))[0]
    assert kept.tolist() == [True, True, False, False, False]
    assert probs[:2].sum() >= 0.8 > probs[:1].sum()
    assert torch.isfinite(filter_logits(logits, top_p=0.5)).sum() == 1  # the most likely token survives
    assert torch.isfinite(filter_logits(logits)).all()  # 0 disables both


def test_draw_follows_the_distribution_and_never_picks_filtered_tokens():
    probs = torch.tensor([0.5, 0.0, 0.3, 0.2, 0.0]).expand(40000, 5)
    samples = draw(probs, make_generator(0, torch.device("cpu")))
    counts = torch.bincount(samples, minlength=5).float() / samples.numel()
    assert counts[1] == 0 and counts[4] == 0
    torch.testing.assert_close(counts, probs[0], atol=0.01, rtol=0)


def test_temperature_sharpens_and_guidance_extrapolates():
    logits = torch.tensor([[2.0, 1.0, 0.0]])
    cold = probabilities(logits, SamplingOptions(temperature=0.1))
    assert cold[0, 0] > 0.99
    cond, null = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 0.0]])
    assert guide(torch.cat([cond, null]), 3.0).tolist() == [[3.0, 0.0]]


def test_two_scale_guidance_gives_each_label_its_own_strength():
    """[cond; pitch only; none] with (family, pitch) scales: equal scales are classic guidance, a
    pitch scale of 1 is the family-only guidance, and each scale moves only its own direction."""
    cond, pitch_only, none = torch.randn(3, 4, 9).unbind(0)
    stacked = torch.cat([cond, pitch_only, none])
    torch.testing.assert_close(guide(stacked, (3.0, 3.0)), guide(torch.cat([cond, none]), 3.0))
    torch.testing.assert_close(guide(stacked, (4.0, 1.0)), guide(torch.cat([cond, pitch_only]), 4.0))
    torch.testing.assert_close(guide(stacked, (4.0, 2.0)) - guide(stacked, (4.0, 1.0)), pitch_only - none)
    torch.testing.assert_close(guide(stacked, (4.0, 2.0)) - guide(stacked, (3.0, 2.0)), cond - pitch_only)


def test_parallel_decoding_follows_the_cosine_schedule_in_num_steps_passes():
    n, steps, vocab = 40, 5, 7
    hidden_counts = []

    def logits_fn(tokens, hidden):
        hidden_counts.append(int(hidden.sum()))
        return torch.randn(tokens.shape[0], tokens.shape[1], vocab)

    seq = torch.full((1, n), 3)
    mask = torch.ones(1, n, dtype=torch.bool)
    mask[0, :4] = False
    options = SamplingOptions(num_steps=steps, seed=0)
    out = decode_parallel(seq, mask, logits_fn, options, make_generator(0, torch.device("cpu")))
    total = 36
    expected = [total] + [math.floor(total * math.cos(math.pi / 2 * (t + 1) / steps)) for t in range(steps - 1)]
    assert hidden_counts == expected
    assert torch.equal(out[0, :4], seq[0, :4])
    assert (out[0, 4:] < vocab).all()


def test_parallel_decoding_keeps_the_most_confident_tokens():
    """Without choice noise, the positions revealed first are those the model is surest about."""
    n, vocab = 6, 4
    certainty = torch.tensor([0.0, 9.0, 1.0, 8.0, 2.0, 7.0])  # logit margin per position
    revealed = []

    def logits_fn(tokens, hidden):
        revealed.append((~hidden[0]).nonzero().flatten().tolist())
        logits = torch.zeros(1, n, vocab)
        logits[0, :, 0] = certainty
        return logits

    options = SamplingOptions(num_steps=3, choice_temperature=0.0, seed=0)
    decode_parallel(torch.zeros(1, n, dtype=torch.long), torch.ones(1, n, dtype=torch.bool), logits_fn, options,
                    make_generator(0, torch.device("cpu")))
    # after pass 1, floor(6·cos(π/6)) = 5 stay hidden: the surest (position 1) is revealed
    assert revealed[1] == [1]
    assert revealed[2] == [1, 3, 5]


def test_sequential_masked_decoding_fills_one_token_per_pass_in_order():
    seen = []

    def logits_fn(tokens, hidden):
        seen.append(hidden[0].nonzero().flatten().tolist())
        return torch.zeros(1, tokens.shape[1], 5)

    mask = torch.tensor([[False, True, False, True, True]])
    out = decode_sequential_masked(torch.zeros(1, 5, dtype=torch.long) + 9, mask, logits_fn, SamplingOptions(), None)
    assert seen == [[1, 3, 4], [3, 4], [4]]
    assert out[0, 0] == 9 and out[0, 2] == 9 and (out[0, [1, 3, 4]] < 5).all()


def test_training_masks_mix_random_ratios_and_boxes():
    g = torch.Generator().manual_seed(0)
    masks = draw_training_masks(400, (32, 4), box_prob=0.5, generator=g)
    assert masks.shape == (400, 32, 4) and masks.dtype == torch.bool
    assert masks.flatten(1).any(dim=1).all()
    ratios = masks.float().mean(dim=(1, 2))
    assert ratios.min() < 0.15 and ratios.max() == 1.0 and 0.3 < ratios.mean() < 0.8
    partial = ~masks.all(dim=(1, 2))
    time_boxes = (masks.all(dim=1).any(dim=1) & partial).sum()  # full columns: a time span
    band_boxes = (masks.all(dim=2).any(dim=1) & partial).sum()  # full rows: a frequency band
    assert time_boxes > 20 and band_boxes > 20
    for m in draw_training_masks(50, (32, 4), box_prob=1.0, generator=g):  # single rectangles
        rows, cols = m.any(dim=1).nonzero(), m.any(dim=0).nonzero()
        assert m[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()
        assert m.sum() == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)


@pytest.mark.parametrize("seed", [0, 1])
def test_generators_are_per_call(seed):
    a = torch.rand(3, generator=make_generator(seed, torch.device("cpu")))
    b = torch.rand(3, generator=make_generator(seed, torch.device("cpu")))
    assert torch.equal(a, b)
    assert make_generator(None, torch.device("cpu")) is None
