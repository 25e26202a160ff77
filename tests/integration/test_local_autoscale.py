"""workers="auto" with real processes: up while the trainer starves, down when it no longer does."""

import time

import stoker
from tests.common.pipelines import sleepy


def test_scales_up_under_starvation_and_back_down_when_the_trainer_slows() -> None:
    pipe = stoker.from_items(list(range(100_000))).map(sleepy).batch(4)  # ~20 ms per batch per worker
    with stoker.Loader(pipe, workers="auto", max_workers=3, interval=0.25) as loader:
        it = iter(loader)
        t0 = time.monotonic()
        while loader.workers < 3 and time.monotonic() - t0 < 20:  # a trainer that takes no time: starving
            next(it)
        up = loader.workers
        t1 = time.monotonic()
        while loader.workers > 1 and time.monotonic() - t1 < 30:  # 100 ms steps: one worker is plenty
            next(it)
            time.sleep(0.1)
        down = loader.workers
        stats = loader.stats()
    assert up == 3, stats["workers_timeline"]
    assert down == 1, stats["workers_timeline"]
    moves = [n for _, n in stats["workers_timeline"]]
    assert moves == sorted(moves[: moves.index(3) + 1]) + moves[moves.index(3) + 1 :]
    assert all(b < a for a, b in zip(moves[moves.index(3) :], moves[moves.index(3) + 1 :])), "no oscillation"
