"""The parameter server with shards as Ray actors on a two-node local Ray cluster."""

from __future__ import annotations

import functools
import os
import signal
import threading
import time

import pytest
import torch

from stoker.train import digits
from stoker.train.ps.feed import TensorFeed
from stoker.train.ps.optim import OptimSpec
from stoker.train.ps.server import ParameterServer
from stoker.train.ps.worker import LRPlan, TrainSpec

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray

SGD = OptimSpec("sgd", {"momentum": 0.9})


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    c.add_node(num_cpus=2)
    ray.init(address=c.address, include_dashboard=False)
    yield c
    ray.shutdown()
    c.shutdown()


def _spec(delay: float = 0.0, epochs: int = 2) -> TrainSpec:
    xtr, ytr, _, _ = digits.load()
    return TrainSpec(
        model_fn=functools.partial(digits.make_model, 0, 32, 2),
        feed=TensorFeed(xtr[:192], ytr[:192], 16, seed=1),
        epochs=epochs,
        lr=LRPlan("linear", 0.05, 1, 1),
        step_delay_s={0: delay, 1: delay} if delay else {},
    )


def test_ray_shards_train_exactly_like_local_shards(cluster) -> None:
    model = digits.make_model(0, 32, 2)
    results = []
    for backend in ("local", "ray"):
        with ParameterServer(model, 2, SGD, "bsp", 2, backend=backend) as ps:
            if backend == "ray":  # one shard per node
                assert len(set(ps.shard_nodes())) == 2
            stats = ps.train(_spec())
            results.append(ps.flat_params())
        assert [s["steps"] for s in stats] == [12, 12]
    torch.testing.assert_close(results[1], results[0])


def test_killed_shard_actor_is_restored_from_its_checkpoint(cluster, tmp_path) -> None:
    ps = ParameterServer(
        digits.make_model(0, 32, 2), 2, SGD, "bsp", 2, backend="ray", checkpoint_dir=tmp_path, checkpoint_every=3
    ).start()
    try:
        result: dict = {}
        runner = threading.Thread(target=lambda: result.update(stats=ps.train(_spec(delay=0.05, epochs=4))))
        runner.start()
        path = ps.checkpoint_path(1)
        first = os.stat(path).st_mtime_ns
        deadline = time.monotonic() + 60
        while os.stat(path).st_mtime_ns == first and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runner.is_alive(), "training ended before the kill; slow the workers down"
        victim = ps.shard_pids()[1]
        os.kill(victim, signal.SIGKILL)
        runner.join(timeout=180)
        assert not runner.is_alive(), "training did not continue after the shard actor was killed"
        assert [s["steps"] for s in result["stats"]] == [24, 24]
        assert ps.shard_pids()[1] != victim
    finally:
        ps.close()
