import pytest
import torch

from stoker.train.batch_search import find_max_batch, measure
from stoker.train.digits import make_model


def _deep(depth: int, width: int = 64) -> torch.nn.Module:
    torch.manual_seed(0)
    layers: list[torch.nn.Module] = []
    for _ in range(depth):
        layers += [torch.nn.Linear(width, width), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers)


def test_measure_finds_per_sample_and_largest_activation_bytes() -> None:
    saved, largest, intercept = measure(_deep(3), torch.randn(1, 64))
    assert saved == 4 * 64 * 4  # input + three ReLU outputs, float32
    assert largest == 64 * 4
    assert intercept == 0


def test_swap_raises_the_batch_at_least_fourfold_when_activations_dominate() -> None:
    model = _deep(16)
    params = sum(p.numel() * 4 for p in model.parameters())
    budget = 2 * params + 2_000_000  # activations get far more room than the model needs
    fit = find_max_batch(model, torch.randn(4, 64), budget, swap=True)
    assert fit.swap_batch_ratio >= 4
    assert fit.batch == fit.max_batch_swap
    # The no-swap batch really fits the model's own arithmetic and one more does not.
    per = fit.saved_per_sample + fit.largest_per_sample
    assert fit.fixed_bytes + fit.max_batch_no_swap * per <= budget < fit.fixed_bytes + (fit.max_batch_no_swap + 1) * per


def test_the_bench_model_gains_at_least_fourfold() -> None:
    model = make_model(0)
    fit = find_max_batch(model, torch.randn(1, 64), 4 * 2**20, swap=False)
    assert fit.batch == fit.max_batch_no_swap
    assert fit.swap_batch_ratio >= 4


def test_a_budget_below_the_model_names_the_way_out() -> None:
    with pytest.raises(ValueError, match="raise the budget"):
        find_max_batch(_deep(2), torch.randn(1, 64), 1000)


def test_host_memory_caps_the_swapped_batch() -> None:
    fit = find_max_batch(_deep(16), torch.randn(1, 64), 10**8, host_budget_bytes=17 * 64 * 4 * 100)
    assert fit.max_batch_swap == max(100, fit.max_batch_no_swap)
