"""Heterogeneous data parallel: share-weighted gradients equal the full-batch gradient."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from stoker.train.hetero import SimulatedDevice
from stoker.train.hetero.runtime import HeteroDataParallel, host_batches, split_sizes
from tests.common.state import run_test_save_load_state

SHARES = [("cpu", 3), (SimulatedDevice("sim-half", 0.5, 2**30), 11), ("cpu", 18)]  # uneven on purpose


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 4)).double()


def _batch(n: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=g, dtype=torch.float64), torch.randint(0, 4, (n,), generator=g)


def _full_batch_grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    ref = copy.deepcopy(model)
    nn.functional.cross_entropy(ref(x), y).backward()
    return [p.grad for p in ref.parameters()]


@pytest.mark.parametrize("n", [32, 7, 1])  # the allocated batch, a short last batch, one sample
def test_weighted_gradient_equals_full_batch_gradient(n: int) -> None:
    model = _model()
    x, y = _batch(n)
    want = _full_batch_grads(model, x, y)
    dp = HeteroDataParallel(model, torch.optim.SGD(model.parameters(), lr=0.1), SHARES)
    loss = dp.backward(x, y)
    for got, ref in zip((p.grad for p in model.parameters()), want):
        torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)
    assert loss == pytest.approx(float(nn.functional.cross_entropy(model(x), y).detach()), rel=1e-12)


def test_steps_follow_full_batch_sgd() -> None:
    model, ref = _model(), _model()
    dp = HeteroDataParallel(model, torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9), SHARES)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.5, momentum=0.9)
    for step in range(4):
        x, y = _batch(32, seed=step)
        dp.step(x, y)
        ref_opt.zero_grad()
        nn.functional.cross_entropy(ref(x), y).backward()
        ref_opt.step()
    for a, b in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    for rep in dp.replicas:  # every replica holds the master's weights for the next step
        for a, b in zip(rep.parameters(), model.parameters()):
            assert torch.equal(a, b)


def test_per_device_time_is_recorded_and_scaled_for_simulated_devices() -> None:
    model = _model()
    dp = HeteroDataParallel(model, torch.optim.SGD(model.parameters(), lr=0.1), SHARES)
    dp.train([_batch(32)], steps=1)
    assert all(t > 0 for t in dp.last_device_s) and dp.steps == 1


def test_split_sizes_keep_the_ratio_and_the_total() -> None:
    assert split_sizes(32, [3, 11, 18]) == [3, 11, 18]
    assert sum(split_sizes(7, [3, 11, 18])) == 7
    assert split_sizes(10, [0, 5, 5]) == [0, 5, 5]
    with pytest.raises(ValueError, match="shares"):
        split_sizes(3, [0, 0])


def test_bad_inputs_are_named() -> None:
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="shares="):
        HeteroDataParallel(model, opt, [])
    dp = HeteroDataParallel(model, opt, SHARES)
    with pytest.raises(ValueError, match="4 inputs and 3 targets"):
        dp.step(torch.zeros(4, 6, dtype=torch.float64), torch.zeros(3, dtype=torch.long))
    with pytest.raises(TypeError, match="expected \\(inputs, targets\\)"):
        list(host_batches([torch.zeros(3)]))
    with pytest.raises(ValueError, match=r"devices \['cuda:7'\] of the allocation"):
        HeteroDataParallel.from_allocation(model, opt, {"cuda:7": 4}, {"cpu": "cpu"})


def test_from_allocation_maps_device_names() -> None:
    model = _model()
    sim = SimulatedDevice("sim-fast", 2.0, 2**30)
    dp = HeteroDataParallel.from_allocation(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        {"cpu": 5, "sim-fast": 9},
        {"cpu": "cpu", "sim-fast": sim},
    )
    assert dp.shares == [5, 9] and dp.devices == ["cpu", sim]


def test_batchnorm_running_stats_are_averaged_by_share() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8)).double()
    dp = HeteroDataParallel(
        model,
        torch.optim.SGD(model.parameters(), lr=0.0),
        [("cpu", 8), ("cpu", 24)],
        loss_fn=lambda out, _y: out.pow(2).mean(),
    )
    x, _ = _batch(32)
    dp.step(x, torch.zeros(32, dtype=torch.float64))
    means = [nn.functional.linear(c, model[0].weight, model[0].bias).mean(0) for c in x.split([8, 24])]
    want = 0.1 * (means[0] * 8 / 32 + means[1] * 24 / 32)  # momentum 0.1 from zero
    torch.testing.assert_close(model[1].running_mean, want)


def test_state_round_trip() -> None:
    def factory() -> HeteroDataParallel:
        model = _model()
        return HeteroDataParallel(model, torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9), SHARES)

    def advance(dp: HeteroDataParallel) -> float:
        return dp.step(*_batch(32, seed=dp.steps))

    run_test_save_load_state(factory, advance, steps=5)


def test_trains_from_the_loaders_host_batches_like_full_batch_sgd() -> None:
    import stoker

    x, y = _batch(70, seed=5)
    loader = stoker.Loader(stoker.from_items(list(zip(x, y.tolist()))).batch(32), workers=0, seed=0)
    model, ref = _model(), _model()
    dp = HeteroDataParallel(model, torch.optim.SGD(model.parameters(), lr=0.5), SHARES)
    try:
        losses = dp.train(loader)  # batches of 32, 32 and a short last one of 6
    finally:
        loader.close()
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.5)
    for xb, yb in zip(x.split(32), y.split(32)):
        ref_opt.zero_grad()
        nn.functional.cross_entropy(ref(xb), yb).backward()
        ref_opt.step()
    assert len(losses) == 3
    for a, b in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
