"""IterableDatasets that manage their own workers and state, through stoker.DataLoader at 0 and 2 workers.

Each data set is written locally with its library's own writer (tar files in WebDataset layout with
``tarfile``), read by stoker.DataLoader, and must give every sample exactly once per epoch, as torch's
DataLoader does over the same data set; a data set whose ``state_dict`` raises must raise that error.
"""

from __future__ import annotations

import io
import random
import tarfile
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

import stoker
from stoker.data.errors import WorkerLostError
from stoker.errors import InputError
from tests.common.chaos import kill_random_worker, run_epochs
from tests.common.streams import BrokenState, CountingNumbers, RankLevelState

LITDATA_SKIP = (
    "litdata 0.2.76 is not in the dev environment: it requires boto3, whose botocore needs python-dateutil<3 "
    "(constraints.txt pins 4.0.0), and torchvision, which the registry here serves only as a CUDA build; "
    "install litdata (--no-deps, with lightning-utilities, obstore, tifffile, boto3) to run this test"
)
MOSAIC_SKIP = (
    "mosaicml-streaming 0.13.0 is not in the dev environment: it requires numpy<2.2 (constraints.txt pins 2.4.6), "
    "transformers<5, and torchvision, which the registry here serves only as a CUDA build whose ops do not load "
    "beside torch 2.13.0 CPU, so `import streaming` fails"
)


def _ids(loader: object, key: str | None = None) -> list[int]:
    out: list[int] = []
    for batch in loader:  # type: ignore[attr-defined]
        values = batch[key] if key is not None else batch
        out += [int(v) for v in torch.as_tensor(values).reshape(-1)]
    return out


# -- webdataset -------------------------------------------------------------------------------------


def _write_tar_shards(folder: Path, shards: int, per_shard: int) -> list[str]:
    """Tar files in WebDataset layout: members ``<key>.cls`` (the sample number) and ``<key>.txt``."""
    paths = []
    for s in range(shards):
        path = folder / f"train-{s:04d}.tar"
        with tarfile.open(path, "w") as tar:
            for r in range(per_shard):
                i = s * per_shard + r
                for ext, data in (("cls", str(i).encode()), ("txt", f"sample {i}".encode())):
                    info = tarfile.TarInfo(f"s{i:06d}.{ext}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("workers", [0, 2])
def test_webdataset_shards_give_every_sample_once(tmp_path: Path, workers: int) -> None:
    wds = pytest.importorskip("webdataset")
    urls = _write_tar_shards(tmp_path, shards=4, per_shard=9)

    def dataset() -> object:
        return wds.WebDataset(urls, shardshuffle=False).decode().to_tuple("cls", "txt").map_tuple(int, str)

    ours = [(int(i), t) for b in stoker.DataLoader(dataset(), batch_size=5, num_workers=workers) for i, t in zip(*b)]
    theirs = [(int(i), t) for b in DataLoader(dataset(), batch_size=5, num_workers=workers) for i, t in zip(*b)]
    assert sorted(ours) == [(i, f"sample {i}") for i in range(36)]
    assert ours == theirs  # the same batches in the same order: worker k of K reads shards k, k + K, ...


# -- torchdata's Stateful convention and other state_dict signatures ----------------------------------


@pytest.mark.parametrize("dataset", [CountingNumbers, RankLevelState])
def test_state_dict_conventions_give_every_sample_once_in_workers(dataset: type) -> None:
    loader = stoker.DataLoader(dataset(41), batch_size=4, num_workers=2)
    first = _ids(batch[:, 0] for batch in loader)
    second = _ids(batch[:, 0] for batch in loader)
    assert sorted(first) == sorted(second) == list(range(41))


def test_an_error_in_state_dict_in_a_worker_is_that_error_not_a_lost_worker() -> None:
    loader = stoker.DataLoader(BrokenState(40, after=10), batch_size=4, num_workers=2)
    with pytest.raises(KeyError, match="no state past record 10") as info:
        list(loader)
    assert not isinstance(info.value, WorkerLostError)
    assert info.value.op.startswith("state_dict:BrokenState")  # type: ignore[attr-defined]
    assert "in state_dict\n" in info.value.remote_traceback  # type: ignore[attr-defined]


# -- litdata ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [0, 2])
def test_litdata_streaming_dataset_gives_every_sample_once(tmp_path: Path, workers: int) -> None:
    try:
        from litdata import StreamingDataset
        from litdata.streaming.writer import BinaryWriter
    except ImportError:
        pytest.skip(LITDATA_SKIP)
    writer = BinaryWriter(str(tmp_path), chunk_size=7)  # 8 chunks: litdata deals chunks to workers
    for i in range(53):
        writer[i] = {"i": i, "x": torch.full((3,), float(i))}
    writer.done()
    writer.merge()
    for shuffle in (False, True):
        ours = _ids(
            b["i"]
            for b in stoker.DataLoader(
                StreamingDataset(str(tmp_path), shuffle=shuffle), batch_size=4, num_workers=workers
            )
        )
        theirs = _ids(
            b["i"]
            for b in DataLoader(StreamingDataset(str(tmp_path), shuffle=shuffle), batch_size=4, num_workers=workers)
        )
        assert sorted(ours) == list(range(53))
        assert ours == theirs


def test_litdata_shards_moved_by_a_killed_worker_are_replayed_once(tmp_path: Path) -> None:
    try:
        from litdata import StreamingDataset
        from litdata.streaming.writer import BinaryWriter
    except ImportError:
        pytest.skip(LITDATA_SKIP)
    writer = BinaryWriter(str(tmp_path), chunk_size=5)
    for i in range(60):
        writer[i] = {"i": i}
    writer.done()
    writer.merge()
    pipe = stoker.from_iterable(StreamingDataset(str(tmp_path)), num_shards=3).batch(2)
    with stoker.Loader(pipe, workers=2, seed=0, max_attempts=8) as loader:

        def kill_at_step_5(ld: object, step: int) -> None:
            if step == 5:  # mid-epoch: the dead worker's shards continue elsewhere by replay
                assert kill_random_worker(ld, random.Random(0)) is not None

        epochs = run_epochs(loader, 2, kill_at_step_5)
        lost = loader.stats()["workers_lost"]
    assert [sorted(_ids(b["i"] for b in epoch)) for epoch in epochs] == [list(range(60))] * 2
    assert lost == 1


def _tokens(i: int) -> object:
    yield torch.arange(i * 40, (i + 1) * 40, dtype=torch.int64)


def test_litdata_optimized_token_blocks_give_every_token_once(tmp_path: Path) -> None:
    try:
        from litdata import StreamingDataset, TokensLoader, optimize
    except ImportError:
        pytest.skip(LITDATA_SKIP)
    out = str(tmp_path / "tokens")
    optimize(
        fn=_tokens, inputs=list(range(6)), output_dir=out, chunk_size=80, item_loader=TokensLoader(), num_workers=1
    )
    for workers in (0, 2):
        ours = _ids(
            stoker.DataLoader(
                StreamingDataset(out, item_loader=TokensLoader(block_size=10)), batch_size=3, num_workers=workers
            )
        )
        theirs = _ids(
            DataLoader(
                StreamingDataset(out, item_loader=TokensLoader(block_size=10)), batch_size=3, num_workers=workers
            )
        )
        assert sorted(ours) == list(range(240))
        assert ours == theirs


# -- mosaicml-streaming -----------------------------------------------------------------------------------


def test_mosaic_streaming_dataset_once_in_process_and_refused_in_shards(tmp_path: Path) -> None:
    try:
        from streaming import MDSWriter, StreamingDataset
    except Exception:  # its import pulls torchvision and transformers, which may fail in many ways
        pytest.skip(MOSAIC_SKIP)
    with MDSWriter(out=str(tmp_path), columns={"i": "int"}, size_limit=1 << 10) as writer:
        for i in range(37):
            writer.write({"i": i})
    dataset = StreamingDataset(local=str(tmp_path), batch_size=4, shuffle=False)
    assert sorted(_ids(b["i"] for b in stoker.DataLoader(dataset, batch_size=4, num_workers=0))) == list(range(37))
    with pytest.raises(InputError, match=r"mosaicml-streaming's StreamingDataset cannot be read as num_shards=2"):
        iter(stoker.DataLoader(dataset, batch_size=4, num_workers=2))
