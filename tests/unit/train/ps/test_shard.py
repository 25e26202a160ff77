import functools

import pytest
import torch

from stoker.train.ps.consistency import Consistency
from stoker.train.ps.optim import OptimSpec
from stoker.train.ps.shard import ShardCore
from stoker.train.ps.sharding import plan_layout
from tests.common.state import run_test_save_load_state


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))


def _flat(ts) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in ts])


def _set(model: torch.nn.Module, flat: torch.Tensor) -> None:
    torch.nn.utils.vector_to_parameters(flat.clone(), model.parameters())


def _grad(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    model.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    return _flat(p.grad for p in model.parameters())


@pytest.mark.parametrize("optim", [OptimSpec("sgd", {"momentum": 0.9}), OptimSpec("adam")])
def test_bsp_with_n_workers_equals_one_process_on_the_concatenated_batch(optim: OptimSpec) -> None:
    gen = torch.Generator().manual_seed(1)
    n, per, shards, steps, lr = 3, 8, 2, 6, 0.05
    model = _model()
    layout = plan_layout([(k, tuple(p.shape)) for k, p in model.named_parameters()], shards)
    init = _flat(model.parameters()).detach()
    cores = [ShardCore(s, init[slice(*layout.shard_range(s))], optim, Consistency("bsp"), n) for s in range(shards)]
    ref = _model()
    ref_opt = (
        torch.optim.SGD(ref.parameters(), lr=lr, momentum=0.9, foreach=False)
        if optim.name == "sgd"
        else torch.optim.Adam(ref.parameters(), lr=lr, foreach=False)
    )
    for step in range(steps):
        x, y = torch.randn(n * per, 6, generator=gen), torch.randint(0, 3, (n * per,), generator=gen)
        params = torch.cat([c.params for c in cores])
        for w in range(n):  # each worker: gradient of its slice at the pulled parameters
            _set(model, params)
            g = _grad(model, x[w * per : (w + 1) * per], y[w * per : (w + 1) * per])
            for s, core in enumerate(cores):
                assert not core.readable(step + 1)
                core.push(w, step + 1, g[slice(*layout.shard_range(s))], lr)
        assert all(c.readable(step + 1) for c in cores)
        ref_opt.zero_grad()
        torch.nn.functional.cross_entropy(ref(x), y).backward()
        ref_opt.step()
    torch.testing.assert_close(torch.cat([c.params for c in cores]), _flat(ref.parameters()).detach())


def test_a_bsp_round_reports_its_gradient_square_norms() -> None:
    core = ShardCore(0, torch.zeros(3), OptimSpec("sgd"), Consistency("bsp"), 2)
    assert core.sqnorms is None
    core.push(0, 1, torch.tensor([1.0, 2.0, 2.0]), 0.1)
    core.push(1, 1, torch.tensor([3.0, 0.0, 0.0]), 0.1)
    per_worker, of_mean = core.sqnorms
    assert per_worker == pytest.approx((9.0, 9.0))
    assert of_mean == pytest.approx(4.0 + 1.0 + 1.0)


def test_a_resent_push_is_applied_once() -> None:
    core = ShardCore(0, torch.zeros(4), OptimSpec("sgd", {"momentum": 0.0}), Consistency("asp"), 2)
    assert core.push(0, 1, torch.ones(4), lr=1.0)
    assert not core.push(0, 1, torch.ones(4), lr=1.0)
    torch.testing.assert_close(core.params, torch.full((4,), -0.5))  # 1/num_workers weight


def test_ssp_reader_waits_when_more_than_s_ahead() -> None:
    core = ShardCore(0, torch.zeros(2), OptimSpec("sgd"), Consistency("ssp", 1), 2)
    for c in (1, 2):
        core.push(0, c, torch.ones(2), 0.1)
    assert not core.readable(2)  # worker 1 is still at clock 0
    core.push(1, 1, torch.ones(2), 0.1)
    assert core.readable(2) and not core.readable(3)


def _factory(optim: OptimSpec, consistency: Consistency) -> ShardCore:
    return ShardCore(0, torch.linspace(-1, 1, 10), optim, consistency, num_workers=2)


def _advance(core: ShardCore) -> torch.Tensor:
    # Deterministic pushes from the (pickled) step count so every replay sees the same stream.
    step = sum(core.clocks) + sum(len(r) for r in core.rounds.values())
    w, clock = step % 2, step // 2 + 1
    g = torch.sin(torch.arange(10.0) * (step + 1))
    core.push(w, clock, g, lr=0.1)
    return core.params.clone()


@pytest.mark.parametrize("optim", [OptimSpec("sgd", {"momentum": 0.9}), OptimSpec("adam")])
@pytest.mark.parametrize("consistency", [Consistency("bsp"), Consistency("ssp", 2)])
def test_shard_state_round_trips(optim: OptimSpec, consistency: Consistency) -> None:
    run_test_save_load_state(
        functools.partial(_factory, optim, consistency),
        _advance,
        steps=9,
        checkpoints=(0, 3, 4, 8),
    )


def test_a_round_a_restore_lost_a_gradient_of_is_completed_when_that_worker_moves_on() -> None:
    # Restored from a checkpoint at clock 10: worker 0's push 11 (applied before the kill) is gone, and
    # worker 0 has moved on to push 12 (its slot no longer holds gradient 11); worker 1 resends 11.
    core = ShardCore(0, torch.zeros(2), OptimSpec("sgd", {"momentum": 0.0}), Consistency("bsp"), 2)
    core.load_state_dict({**core.state_dict(), "clocks": [10, 10], "pushed": [10, 10], "updates": 10})
    core.push(1, 11, torch.ones(2), lr=1.0)
    assert not core.readable(11)  # worker 0 may still push 11
    core.push(0, 12, torch.full((2,), 3.0), lr=1.0)
    assert core.readable(11) and not core.readable(12)  # round 11 done with worker 1's gradient alone
    torch.testing.assert_close(core.params, torch.full((2,), -1.0))
    assert core.sqnorms is None  # a round that lost a gradient gives no AdaScale statistics
    assert not core.push(0, 11, torch.ones(2), lr=1.0)  # a late resend of 11 is a duplicate now
    core.push(1, 12, torch.ones(2), lr=1.0)
    assert core.readable(12)
    torch.testing.assert_close(core.params, torch.full((2,), -3.0))
    assert core.sqnorms is not None
