"""Costs are measured after warm-up, and a side binds only when the gap exceeds the noise."""

from __future__ import annotations

import torch

import stoker
from stoker.graph import measure
from stoker.graph.cut.base import Candidate


class FakeClock:
    """A clock that only the data set moves: 1.2 s on its first call (one-off set-up), 0.1 ms after."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class LazyDataset(torch.utils.data.Dataset):
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.loaded = False

    def __len__(self) -> int:
        return 16

    def __getitem__(self, i: int) -> torch.Tensor:
        self.clock.now += 0.1e-3 if self.loaded else 1.2
        self.loaded = True
        return torch.full((4,), float(i))


def test_the_first_batch_one_off_set_up_is_kept_out_of_the_data_side_cost(monkeypatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(measure, "clock", clock)
    pipe = stoker.from_dataset(LazyDataset(clock)).batch(4)
    # the fake clock is state the probe sees; the pin vouches for it
    plan = stoker.partition(pipe, torch.nn.Linear(4, 2), workers=1, pin={"p0:dataset": "data"})
    src = next(n for n in plan.graph.nodes if plan.graph[n].kind == "dataset")
    assert abs(plan.costs.first_seconds[src] - (1.2 + 3 * 0.1e-3) / 4) < 1e-9
    assert abs(plan.costs.seconds[src] - 0.1e-3) < 1e-9  # median of the batches after the first
    assert plan.costs.spread[src] < 1e-9


def test_a_side_binds_only_beyond_the_noise() -> None:
    close = Candidate(frozenset(), (), 0.0, data_s=2.0e-3, train_s=1.1e-3, data_noise_s=0.4e-3, train_noise_s=0.1e-3)
    assert close.binding(workers=2) == "neither (within noise)"
    clear = Candidate(frozenset(), (), 0.0, data_s=4.0e-3, train_s=1.0e-3, data_noise_s=0.4e-3, train_noise_s=0.1e-3)
    assert clear.binding(workers=2) == "data"
    assert Candidate(frozenset(), (), 0.0, 1.0e-3, 5.0e-3).binding(workers=1) == "training"
