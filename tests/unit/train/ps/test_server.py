import pytest
import torch

from stoker.train.ps.server import ParameterServer


def _model() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(10, 300), torch.nn.Linear(300, 2))


def test_layout_is_balanced_by_bytes_without_starting_anything() -> None:
    ps = ParameterServer(_model(), num_shards=3, consistency="ssp(staleness=2)", num_workers=4)
    sizes = ps.layout.shard_bytes()
    assert max(sizes) <= 1.1 * min(sizes)
    assert ps.consistency.staleness == 2
    assert ps.init.numel() == sum(p.numel() for p in _model().parameters())


def test_using_it_before_start_names_the_way_out() -> None:
    ps = ParameterServer(_model(), num_workers=2)
    with pytest.raises(RuntimeError, match="call start"):
        ps.client(0)
    with pytest.raises(ValueError, match="num_workers"):
        ps.client(2)


def test_checkpoint_without_a_directory_is_refused() -> None:
    with pytest.raises(RuntimeError, match="checkpoint_dir"):
        ParameterServer(_model()).checkpoint()


def test_other_dtypes_and_backends_are_refused() -> None:
    with pytest.raises(ValueError, match="float32"):
        ParameterServer({"w": torch.zeros(3, dtype=torch.float64)})
    with pytest.raises(ValueError, match="backend"):
        ParameterServer(_model(), backend="mpi")


def test_state_from_another_layout_is_refused() -> None:
    ps = ParameterServer(_model(), num_shards=2)
    ps._impl = object()  # stands in for started shards: the check happens before they are asked
    with pytest.raises(ValueError, match="num_shards"):
        ps.load_state_dict({"bounds": (0, 1), "shards": []})
