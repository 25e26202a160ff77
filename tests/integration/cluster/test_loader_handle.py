"""The controller steering real Loaders (local backend): budgets move workers, and a job whose budget
shrinks mid-epoch still delivers every sample exactly once."""

from __future__ import annotations

import time

import stoker
from stoker.cluster.controller import Controller
from stoker.cluster.loader_handle import LoaderHandle
from stoker.cluster.records import Node
from tests.common.pipelines import indices_of, numbers, sleepy


def test_budget_changes_mid_epoch_lose_no_sample() -> None:
    n = 400
    with stoker.Loader(numbers(n, 8, fn=sleepy), workers=1, seed=0) as loader:
        handle = LoaderHandle("job", "a", 1.0, loader)
        seen = []
        for k, batch in enumerate(loader):
            seen.append(batch.clone())
            time.sleep(0.002)  # the accelerator's step
            if k == 10:
                handle.set_budget(3)
            if k == 25:
                assert loader.stats()["workers"] == 3
                report = handle.report()
                assert report.workers == 3 and report.throughput > 0 and 0 <= report.data_wait <= 1
                handle.set_budget(1)  # the controller took CPUs back
    assert sorted(indices_of(seen)) == list(range(n))


def test_controller_grows_a_data_bound_loader() -> None:
    nodes = (Node("a", 4.0, 0, 1, "sim"),)
    controller = Controller(nodes, "elastic", grid=(1, 2, 3, 4))
    with stoker.Loader(numbers(2000, 8, fn=sleepy), workers=1, seed=0) as loader:
        handle = LoaderHandle("job", "a", 1.0, loader)
        budgets = []
        t_round = time.monotonic()
        for batch in loader:
            del batch
            time.sleep(0.002)  # a fast accelerator: 8 samples x 5 ms of data per 2 ms step
            if time.monotonic() - t_round > 1.0:
                budgets.append(controller.step([handle]))
                t_round = time.monotonic()
            if len(budgets) == 4:
                break
    # Data-bound (it waits on data most of the time): the controller hands it the node's CPUs.
    assert budgets[-1]["job"] > 1, budgets
