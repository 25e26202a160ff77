"""Streams and shard files on backend="ray": a real local Ray, actors killed and rescaled mid-epoch."""

from __future__ import annotations

import random
import sys

import cloudpickle
import pytest
import torch

ray = pytest.importorskip("ray")

import stoker  # noqa: E402
import tests.common.pipelines  # noqa: E402
import tests.common.shards  # noqa: E402
import tests.common.streams  # noqa: E402
from tests.common.chaos import run_epochs  # noqa: E402
from tests.common.pipelines import indices_of  # noqa: E402
from tests.common.streams import stream_pipelines  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]

# Ray workers cannot import the tests package; send its functions and classes by value.
for module in (sys.modules[__name__], tests.common.pipelines, tests.common.shards, tests.common.streams):
    cloudpickle.register_pickle_by_value(module)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(address="local", num_cpus=4, include_dashboard=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("streams-ray"))
    stream_pipelines(path)
    return path


def _chaos(rng: random.Random, kills: list[int]):
    def act(loader: stoker.Loader, step: int) -> None:
        running = sorted(w for w in loader.pool.workers() if loader.pool.ready(w))
        if running and (step == 6 or rng.random() < 0.04):
            wid = rng.choice(running)
            ray.kill(loader.pool.actor(wid), no_restart=True)
            kills.append(wid)
        if step % 7 == 0:
            loader.scale([1, 3][(step // 7) % 2])

    return act


def _check(folder: str, name: str, trial: int) -> None:
    pipe, n = stream_pipelines(folder)[name]
    with stoker.Loader(pipe, workers=1, seed=0) as local:
        reference = run_epochs(local, 2)
    kills: list[int] = []
    with stoker.Loader(pipe, workers=3, backend="ray", seed=0, max_attempts=8) as loader:
        got = run_epochs(loader, 2, _chaos(random.Random(trial), kills))
        lost = loader.stats()["workers_lost"]
    assert kills and lost >= 1, (kills, lost)
    for epoch in got:
        assert sorted(indices_of(epoch)) == list(range(n))
    assert all(torch.equal(g, w) for e, f in zip(got, reference, strict=True) for g, w in zip(e, f, strict=True))


def test_an_iterable_data_set_on_ray_is_exactly_once_and_the_local_stream(local_ray, folder) -> None:
    _check(folder, "iterable", 0)


@pytest.mark.parametrize("name", ["tar", "parquet"])
def test_shard_files_on_ray_are_exactly_once_and_the_local_stream(local_ray, folder, name) -> None:
    _check(folder, name, 1)
