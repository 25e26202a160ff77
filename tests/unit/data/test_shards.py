"""Shard files in-process: tar grouping and index, Parquet/Arrow seeks, from_shards, resume."""

import os
import tarfile

import pytest

import stoker
from stoker.data.shards.parquet import ArrowFormat, ParquetFormat
from stoker.data.shards.tar import TarFormat, build_index, split_name
from tests.common.pipelines import indices_of
from tests.common.shards import row_tag, tar_tag, write_parquet_shards, write_tar_shards
from tests.common.state import LoaderStream, run_test_save_load_state


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("STOKER_CACHE_DIR", str(tmp_path / "cache"))


def test_member_names_split_like_webdataset() -> None:
    assert split_name("a/b/000123.jpg") == ("a/b/000123", "jpg")
    assert split_name("x/k.seg.png") == ("x/k", "seg.png")
    assert split_name("README") is None


def test_a_tar_shard_groups_members_by_key_and_seeks_by_its_index(tmp_path) -> None:
    [path] = write_tar_shards(str(tmp_path), 1, 9)
    fmt = TarFormat()
    all_ = [rec for rec, _ in fmt.records(path, 0)]
    assert [r["__key__"] for r in all_] == [f"s/{n:08d}" for n in range(9)]
    assert set(all_[0]) == {"__key__", "__url__", "idx", "bin"} and all_[3]["idx"] == b"3"
    assert fmt.count(path) == 9
    tail = [rec for rec, _ in fmt.records(path, 6)]
    assert tail == all_[6:]
    assert list(fmt.records(path, 9)) == []
    cached = os.listdir(tmp_path / "cache" / "tar-index")
    assert len(cached) == 1  # the index was written once, for the next process
    assert list(build_index(path)) == list(fmt.index.offsets(path))


def test_a_changed_tar_shard_gets_a_new_index(tmp_path) -> None:
    [path] = write_tar_shards(str(tmp_path), 1, 4)
    fmt = TarFormat()
    assert fmt.count(path) == 4
    write_tar_shards(str(tmp_path), 1, 6)
    os.utime(path, (1, 1))
    assert fmt.count(path) == 6


def test_parquet_and_arrow_seek_across_row_groups_and_batches(tmp_path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    [path] = write_parquet_shards(str(tmp_path), 1, 23, row_group=5)
    fmt = ParquetFormat(read_bytes=64)  # a few rows per read
    assert fmt.count(path) == 23
    assert [r["idx"] for r, _ in fmt.records(path, 0)] == list(range(23))
    assert [r["idx"] for r, _ in fmt.records(path, 12)] == list(range(12, 23))
    assert list(fmt.records(path, 23)) == []
    assert next(ParquetFormat(columns=["idx"]).records(path, 4))[0] == {"idx": 4}
    arrow = str(tmp_path / "t.arrow")
    table = pq.read_table(path)
    with pa.OSFile(arrow, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=4):
            writer.write_batch(batch)
    afmt = ArrowFormat()
    assert afmt.count(arrow) == 23
    assert [r["idx"] for r, _ in afmt.records(arrow, 9)] == list(range(9, 23))


def test_from_shards_reads_every_record_once_whatever_the_format(tmp_path) -> None:
    tars = write_tar_shards(str(tmp_path / "t"), 4, 11)
    pqs = write_parquet_shards(str(tmp_path / "p"), 3, 10)
    for pipe, n in (
        (stoker.from_shards(str(tmp_path / "t" / "*.tar"), num_shards=3).map(tar_tag).batch(4), 44),
        (stoker.from_shards(pqs, format="parquet").map(row_tag).batch(4), 30),
        (stoker.from_shards("file://" + str(tmp_path / "t" / "shard-000[01].tar")).map(tar_tag), 22),
    ):
        with stoker.Loader(pipe, workers=0) as loader:
            got = [b for b in loader]
        assert sorted(indices_of(got) if got[0].dim() == 2 else [int(x[0]) for x in got]) == list(range(n))
    assert tars


def test_shuffled_shards_change_order_per_epoch_and_stay_exactly_once(tmp_path) -> None:
    write_tar_shards(str(tmp_path), 6, 5)
    pipe = stoker.from_shards(str(tmp_path / "*.tar"), num_shards=2, shuffle=True).map(tar_tag).batch(5)
    with stoker.Loader(pipe, workers=0, seed=1) as loader:
        e0, e1 = indices_of(list(loader)), indices_of(list(loader))
    assert sorted(e0) == sorted(e1) == list(range(30)) and e0 != e1


def test_state_round_trips_mid_shard(tmp_path) -> None:
    write_tar_shards(str(tmp_path / "t"), 3, 7)
    write_parquet_shards(str(tmp_path / "p"), 3, 7, row_group=3)
    for pipe in (
        stoker.from_shards(str(tmp_path / "t" / "*.tar"), num_shards=2).map(tar_tag).batch(3),
        stoker.from_shards(str(tmp_path / "p" / "*.parquet"), num_shards=2).map(row_tag).batch(3),
    ):
        run_test_save_load_state(
            lambda p=pipe: LoaderStream(stoker.Loader(p, workers=0, seed=4)),
            LoaderStream.next,
            steps=12,
            checkpoints=[0, 1, 4, 7, 11],
        )


def test_bad_arguments_name_the_way_out(tmp_path) -> None:
    write_tar_shards(str(tmp_path), 2, 2)
    write_parquet_shards(str(tmp_path), 1, 2)
    with pytest.raises(FileNotFoundError, match="no files match"):
        stoker.from_shards(str(tmp_path / "*.nothing"))
    with pytest.raises(ValueError, match="several formats"):
        stoker.from_shards(str(tmp_path / "*"))
    with pytest.raises(ValueError, match=r"num_shards=3\) should be an int in \[1, 2\]"):
        stoker.from_shards(str(tmp_path / "*.tar"), num_shards=3)
    with pytest.raises(ValueError, match="format="):
        stoker.from_shards(str(tmp_path / "*.tar"), format="zip")
    with pytest.raises(ValueError, match="columns"):
        stoker.from_shards(str(tmp_path / "*.tar"), columns=["a"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        stoker.from_shards([str(tmp_path / "missing.tar")])
    odd = tmp_path / "data.bin"
    with tarfile.open(odd, "w"):
        pass
    with pytest.raises(ValueError, match="cannot tell the format"):
        stoker.from_shards(str(odd))
