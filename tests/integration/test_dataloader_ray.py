"""stoker.DataLoader's samplers on backend="ray": each rank's batches are torch's, on a real Ray cluster."""

from __future__ import annotations

import os
import secrets

import pytest
import torch
import torch.utils.data as tud
from torch.utils.data.distributed import DistributedSampler

ray = pytest.importorskip("ray")

import stoker  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.timeout(600)]  # actors start slowly on a loaded machine


@pytest.fixture(scope="module")
def cluster():
    from ray._raylet import AuthenticationTokenLoader, Config
    from ray.cluster_utils import Cluster

    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    Config.initialize("")  # Ray caches its config and token per process
    AuthenticationTokenLoader.instance().reset_cache()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    for _ in range(2):  # the shape tests/integration/test_ray_backend.py uses
        c.add_node(num_cpus=2, include_dashboard=False)
    c.wait_for_nodes()
    ray.init(address=c.address)
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_distributed_sampler_on_ray(cluster) -> None:
    data = tud.TensorDataset(torch.arange(30), torch.arange(30) * 3)
    seen: list[int] = []
    for rank in range(2):
        sampler = DistributedSampler(data, num_replicas=2, rank=rank, seed=5)
        with stoker.DataLoader(
            data, batch_size=4, sampler=sampler, num_workers=2, persistent_workers=True, backend="ray"
        ) as loader:
            for epoch in (1, 2):  # set_epoch reshuffles, as torch's
                sampler.set_epoch(epoch)
                want = [b[0].tolist() for b in tud.DataLoader(data, batch_size=4, sampler=sampler)]
                got = [b[0].tolist() for b in loader]
                assert got == want
                seen += [i for b in got for i in b] if epoch == 1 else []
    assert sorted(seen) == list(range(30))  # the two ranks: disjoint, together the epoch
