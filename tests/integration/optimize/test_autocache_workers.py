"""Autocache with real worker processes: identical batches, worker kills, resumes from state_dict."""

from __future__ import annotations

import random
from typing import Any

import stoker
from stoker.optimize.values import same
from tests.common import optimize as fns
from tests.common.chaos import kill_random_worker, run_epochs
from tests.common.state import LoaderStream, run_test_save_load_state

N, BATCH = 96, 8


def pipeline(log: str) -> stoker.Pipeline:
    pipe = stoker.from_items(list(range(N))).shuffle(seed=4).map(fns.Counted(fns.heavy, log), name="heavy")
    return pipe.map(fns.jitter).map(fns.scale).batch(BATCH)


def indices(epoch: list[Any]) -> list[int]:
    return sorted(int(i) for b in epoch for i in b["i"])


def identical(a: list[list[Any]], b: list[list[Any]]) -> bool:
    return len(a) == len(b) and all(len(x) == len(y) and all(map(same, x, y)) for x, y in zip(a, b))


def test_the_cache_survives_worker_kills_and_serves_every_later_epoch(tmp_path) -> None:
    log = str(tmp_path / "calls")
    with stoker.Loader(pipeline(str(tmp_path / "ref")), workers=2, seed=0) as plain:
        want = run_epochs(plain, 3)
    rng = random.Random(0)
    kills: list[int] = []

    def kill_twice(loader: Any, step: int) -> None:
        # Mid-epoch 1 (while the cache fills) and mid-epoch 2 (while it serves).
        if step in (5, N // BATCH + 6) and kill_random_worker(loader, rng) is not None:
            kills.append(step)

    with stoker.Loader(pipeline(log), workers=2, seed=0, optimize=True) as loader:
        report = loader.optimize_report
        assert [r.strategy for r in report.applied][:1] == ["autocache"], report.explain()
        probed = fns.calls(log)
        got = run_epochs(loader, 1, kill_twice)
        after_first = fns.calls(log)
        got += run_epochs(loader, 2, lambda ld, s: kill_twice(ld, s + N // BATCH + 1))
        lost = loader.stats()["workers_lost"]
        report.close()
    assert kills and lost >= 1
    assert all(indices(epoch) == list(range(N)) for epoch in got), "exactly once under kills"
    assert identical(got, want), "bit-identical to the unoptimised pipeline"
    assert after_first - probed >= N - 8  # epoch 1 computed (a killed worker's split maybe twice)
    assert fns.calls(log) == after_first, "epochs 2-3 read every sample from the cache, kills or not"


def test_a_resumed_loader_continues_exactly_and_reuses_the_cache(tmp_path) -> None:
    log = str(tmp_path / "calls")
    cache = str(tmp_path / "cache")

    def factory() -> LoaderStream:
        pipe, _ = stoker.optimize(pipeline(log), cache_dir=cache)
        return LoaderStream(stoker.Loader(pipe, workers=2, seed=0))

    steps = 2 * N // BATCH
    run_test_save_load_state(
        factory,
        lambda s: s.next(),
        steps,
        checkpoints=(0, N // BATCH - 3, N // BATCH + 4),
        equal=same,
        close=lambda s: s.loader.close(),
    )
    before = fns.calls(log)
    stream = factory()
    after_probe = fns.calls(log)
    for _ in range(steps):
        stream.next()
    stream.loader.close()
    assert after_probe >= before and fns.calls(log) == after_probe, "a fresh Loader computed no sample"
