import torch

from stoker.train.ps.backends import BACKENDS, ShardBackend, ShardConfig, shard_backend
from stoker.train.ps.consistency import Consistency
from stoker.train.ps.optim import OptimSpec
from stoker.train.ps.server import ParameterServer
from stoker.train.ps.sharding import plan_layout


def test_every_backend_implements_the_one_interface() -> None:
    assert sorted(BACKENDS) == ["local", "ray"]
    for name in BACKENDS:
        cls = shard_backend(name)
        assert issubclass(cls, ShardBackend) and not cls.__abstractmethods__
    # Only Ray brings dead shards back by itself; the server supervises the rest.
    assert shard_backend("ray").restarts_itself and not shard_backend("local").restarts_itself


def test_config_record_gives_each_shard_its_range_and_checkpoint(tmp_path) -> None:
    layout = plan_layout([("w", (10,)), ("b", (4,))], 2)
    init = torch.arange(14, dtype=torch.float32)
    c = ShardConfig(layout, init, OptimSpec("sgd"), Consistency.parse("bsp"), 3, str(tmp_path), 5)
    lo, hi = layout.shard_range(1)
    assert torch.equal(c.shard_init(1), init[lo:hi])
    c.shard_init(1).add_(1)  # a copy: the config's initial values stay as given
    assert torch.equal(c.init, torch.arange(14, dtype=torch.float32))
    assert c.checkpoint_paths() == [str(tmp_path / "shard-0.pt"), str(tmp_path / "shard-1.pt")]
    assert ShardConfig(layout, init, OptimSpec("sgd"), Consistency.parse("bsp"), 1).checkpoint_path(0) is None


def test_server_builds_the_config_it_hands_to_the_backend(tmp_path) -> None:
    model = torch.nn.Linear(3, 2)
    ps = ParameterServer(model, num_shards=2, num_workers=4, consistency="ssp:1", checkpoint_dir=tmp_path)
    c = ps.config
    assert (c.num_shards, c.num_workers, c.consistency.staleness) == (2, 4, 1)
    assert ps.layout is c.layout and ps.checkpoint_path(1) == c.checkpoint_path(1)
    assert torch.equal(c.init, torch.cat([model.weight.detach().reshape(-1), model.bias.detach()]))
