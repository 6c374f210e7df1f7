"""EMA codebook: k-means init, EMA updates, straight-through gradients, dead-code restarts."""

from __future__ import annotations

import pytest
import torch

from specinpaint.quantizers.codebook import EMACodebook, kmeans

pytestmark = pytest.mark.usefixtures("one_thread")


def clustered(n: int, centres: torch.Tensor, noise: float = 0.01, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    pick = torch.randint(0, centres.shape[0], (n,), generator=gen)
    return centres[pick] + noise * torch.randn(n, centres.shape[1], generator=gen)


def test_kmeans_finds_separated_clusters():
    torch.manual_seed(0)
    centres = torch.eye(4) * 10
    x = clustered(400, centres)
    found, counts = kmeans(x, 4, iters=10)
    # every true centre has a found centre within the noise level
    distance = torch.cdist(centres, found).min(1).values
    assert float(distance.max()) < 0.5
    assert int(counts.sum()) == 400


def test_kmeans_init_runs_once_from_the_first_training_batch():
    torch.manual_seed(1)
    centres = torch.randn(8, 4) * 5
    codebook = EMACodebook(8, 4, kmeans_init=True)
    assert not bool(codebook.initialized)
    x = clustered(512, centres)
    codebook.train()
    _, codes, _, stats = codebook(x)
    assert bool(codebook.initialized)
    assert stats.usage > 0.7  # k-means codes cover the data, random normal ones would not
    first = codebook.embed.clone()
    codebook(x + 100)  # a far-away batch must not re-run k-means: only its nearest code moves
    moved = (codebook.embed - first).abs().amax(1) > 1e-3
    assert int(moved.sum()) == 1


def test_ema_moves_codes_to_the_mean_of_their_assignments():
    codebook = EMACodebook(2, 2, decay=0.5, kmeans_init=False, dead_code_steps=0)
    codebook.embed.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0]]))
    codebook.embed_avg.copy_(codebook.embed)
    x = torch.tensor([[1.0, 1.0], [1.0, 1.0], [9.0, 9.0]])
    codebook.train()
    for _ in range(30):
        codebook(x)
    torch.testing.assert_close(codebook.embed, torch.tensor([[1.0, 1.0], [9.0, 9.0]]), atol=1e-3, rtol=0)


def test_straight_through_gradient_and_commitment_loss():
    codebook = EMACodebook(4, 3, kmeans_init=False)
    codebook.eval()
    z = torch.randn(5, 3, requires_grad=True)
    out, codes, commitment, _ = codebook(z)
    torch.testing.assert_close(out.detach(), codebook.embed[codes])
    torch.testing.assert_close(commitment, (z.detach() - codebook.embed[codes]).pow(2).mean())
    (out * torch.arange(3.0)).sum().backward()
    torch.testing.assert_close(z.grad, torch.arange(3.0).expand(5, 3))


def test_eval_mode_is_a_pure_lookup():
    codebook = EMACodebook(8, 4)
    codebook.eval()
    state = {k: v.clone() for k, v in codebook.state_dict().items()}
    codebook(torch.randn(32, 4))
    for key, value in codebook.state_dict().items():
        assert torch.equal(value, state[key]), key


def _starved_usage(restart: bool) -> tuple[float, float, int]:
    """A codebook whose codes all start far from the data: only the nearest few get used."""
    torch.manual_seed(2)
    codebook = EMACodebook(32, 2, kmeans_init=False, dead_code_steps=5, restart_dead_codes=restart)
    far = torch.randn(32, 2) * 0.1 + torch.tensor([50.0, 50.0])
    far[0] = torch.tensor([0.0, 0.0])  # one code near the data: it captures everything
    codebook.embed.copy_(far)
    codebook.embed_avg.copy_(far)
    data_centres = torch.randn(16, 2) * 3
    codebook.train()
    restarted = 0
    for step in range(40):
        _, _, _, stats = codebook(clustered(256, data_centres, noise=0.2, seed=step))
        restarted += stats.restarted
    codebook.eval()
    _, _, _, final = codebook(clustered(2048, data_centres, noise=0.2, seed=999))
    return final.usage, final.perplexity, restarted


def test_restarts_revive_a_starved_codebook():
    usage_off, perplexity_off, restarted_off = _starved_usage(restart=False)
    usage_on, perplexity_on, restarted_on = _starved_usage(restart=True)
    assert restarted_off == 0 and usage_off <= 2 / 32  # collapsed: one (maybe two) codes in use
    assert restarted_on >= 20
    assert usage_on >= 0.5
    assert perplexity_on > 4 * perplexity_off


def test_dead_fraction_counts_codes_unused_for_dead_code_steps():
    codebook = EMACodebook(4, 2, kmeans_init=False, dead_code_steps=3, restart_dead_codes=False)
    codebook.embed.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0], [50.0, 50.0], [60.0, 60.0]]))
    codebook.embed_avg.copy_(codebook.embed)
    codebook.train()
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    fractions = [codebook(x)[3].dead_fraction for _ in range(4)]
    assert fractions == [0.0, 0.0, 0.5, 0.5]
