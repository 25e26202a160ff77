import pytest
import torch
from torch.utils.data import IterableDataset

import stoker


def test_ops_are_recorded_in_order_and_pipelines_are_immutable() -> None:
    base = stoker.from_items([1, 2, 3])
    pipe = base.shuffle(1).map(str).filter(bool).batch(2)
    assert [op.kind for op in pipe.ops] == ["shuffle", "map", "filter", "batch"]
    assert base.ops == ()
    assert [op.kind for op in pipe.sample_ops()] == ["map", "filter"]
    assert pipe.batch_op is not None and pipe.batch_op.args == {"size": 2, "drop_last": False}


def test_ops_after_batch_act_on_batches() -> None:
    pipe = stoker.from_items([1]).batch(2).map(len)
    assert [op.name for op in pipe.batch_ops()] == ["len"]
    assert pipe.sample_ops() == []


@pytest.mark.parametrize("size", [0, -1, 1.5, True])
def test_batch_size_is_validated(size: object) -> None:
    with pytest.raises(ValueError, match="batch"):
        stoker.from_items([1]).batch(size)  # type: ignore[arg-type]


def test_bad_ops_get_clear_errors() -> None:
    with pytest.raises(TypeError, match="callable"):
        stoker.from_items([1]).map(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="twice"):
        stoker.from_items([1]).shuffle(0).shuffle(1)
    with pytest.raises(ValueError, match="after batch"):
        stoker.from_items([1]).batch(1).shuffle(0)
    with pytest.raises(ValueError, match="twice"):
        stoker.from_items([1]).batch(1).batch(1)


def test_from_files_sorts_and_rejects_empty_globs(tmp_path) -> None:
    for name in ["b.jpg", "a.jpg"]:
        (tmp_path / name).write_bytes(b"x")
    pipe = stoker.from_files(str(tmp_path / "*.jpg"))
    assert [p.rsplit("/", 1)[1] for p in pipe.source.data] == ["a.jpg", "b.jpg"]
    assert pipe.source.file_of(1).endswith("b.jpg")
    with pytest.raises(FileNotFoundError, match="no files match"):
        stoker.from_files(str(tmp_path / "*.png"))


def test_from_dataset_needs_a_map_style_dataset() -> None:
    class Stream(IterableDataset):
        def __iter__(self):
            yield 1

    with pytest.raises(TypeError, match="map-style"):
        stoker.from_dataset(Stream())
    pipe = stoker.from_dataset(torch.utils.data.TensorDataset(torch.arange(4)))
    assert len(pipe) == 4
