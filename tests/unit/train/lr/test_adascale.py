import pytest
import torch

from stoker.train.lr import LRInput, lr_rule
from stoker.train.lr.adascale import adascale, gain, grad_stats


def test_gain_is_the_scale_when_noise_dominates_and_one_without_noise() -> None:
    assert gain(8.0, grad_var=1.0, grad_sqr=0.0) == pytest.approx(8.0)
    assert gain(8.0, grad_var=0.0, grad_sqr=1.0) == pytest.approx(1.0)
    assert gain(4.0, grad_var=1.0, grad_sqr=1.0) == pytest.approx(2.0 / 1.25)


def test_gain_lies_between_one_and_the_scale() -> None:
    gen = torch.Generator().manual_seed(0)
    for _ in range(100):
        s, v, q = (float(t) for t in torch.rand(3, generator=gen) * torch.tensor([31.0, 5.0, 5.0]))
        g = gain(1 + s, v, q)
        assert 1.0 - 1e-9 <= g <= 1 + s + 1e-9


def test_rule_needs_gradient_statistics() -> None:
    with pytest.raises(ValueError, match="grad_stats"):
        adascale(LRInput(0.1, 32, 256))
    assert lr_rule("adascale")(LRInput(0.1, 32, 256, grad_var=1.0, grad_sqr=0.0)) == pytest.approx(0.8)


def test_grad_stats_recovers_variance_and_signal() -> None:
    # Replicas' gradients = true gradient + noise of per-sample variance sigma2 / local_batch.
    gen = torch.Generator().manual_seed(1)
    dim, n, local, sigma2 = 20_000, 4, 16, 3.0
    true = torch.full((dim,), 0.01)
    grads = [true + torch.randn(dim, generator=gen) * (sigma2 / dim / local) ** 0.5 for _ in range(n)]
    mean = torch.stack(grads).mean(0)
    var, sqr = grad_stats([float(g.square().sum()) for g in grads], float(mean.square().sum()), local, 32)
    assert var == pytest.approx(sigma2 / 32, rel=0.05)
    assert sqr == pytest.approx(float(true.square().sum()), rel=0.1)


def test_grad_stats_needs_two_replicas() -> None:
    with pytest.raises(ValueError, match="2 replicas"):
        grad_stats([1.0], 1.0, 8, 8)
