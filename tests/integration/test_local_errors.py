"""Bad input with real worker processes: every case ends in a clear error or a counted skip."""

import threading

import pytest

import stoker
import stoker.io
from stoker.sample_data import make_jpeg_folder
from tests.common.pipelines import crash_on_7, fail_on_13


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("jpegs")
    paths = make_jpeg_folder(root, 12, sizes=(64,))
    with open(paths[3], "rb") as f:
        data = f.read()
    with open(paths[3], "wb") as f:  # truncated JPEG
        f.write(data[: len(data) // 3])
    with open(paths[5], "wb") as f:  # not an image at all
        f.write(b"\x00garbage" * 10)
    return paths


def _decode(path: str):
    return stoker.io.to_uint8_tensor(stoker.io.read_image(path))


def test_corrupt_and_truncated_jpegs_name_the_file(jpegs) -> None:
    with stoker.Loader(stoker.from_files(jpegs).map(_decode).batch(2), workers=2) as loader:
        with pytest.raises(stoker.SampleError) as info:
            list(loader)
    assert info.value.file == jpegs[3] and "sample 3" in str(info.value)
    assert "Traceback" in info.value.remote_traceback


def test_skip_mode_drops_bad_files_and_lists_them(jpegs) -> None:
    with stoker.Loader(stoker.from_files(jpegs).map(_decode), workers=2, on_error="skip") as loader:
        got = list(loader)
        stats = loader.stats()
    assert len(got) == 10 and stats["skipped"] == 2
    assert sorted(s["file"] for s in stats["skipped_samples"]) == sorted([jpegs[3], jpegs[5]])


def test_a_file_removed_after_listing_is_named(tmp_path) -> None:
    paths = make_jpeg_folder(tmp_path, 4, sizes=(32,))
    pipe = stoker.from_files(str(tmp_path / "*.jpg")).map(_decode)
    (tmp_path / paths[2].rsplit("/", 1)[1]).unlink()
    with stoker.Loader(pipe, workers=1) as loader, pytest.raises(stoker.SampleError, match="FileNotFoundError") as info:
        list(loader)
    assert info.value.file == paths[2]


def test_a_raising_function_reaches_the_trainer_with_its_traceback() -> None:
    pipe = stoker.from_items(list(range(40))).map(fail_on_13).batch(4)
    with stoker.Loader(pipe, workers=2) as loader:
        got = []
        with pytest.raises(stoker.SampleError, match="sample 13") as info:
            for batch in loader:
                got.extend(batch.tolist())
    assert got == list(range(12))  # everything before the bad batch arrived, in order
    assert "fail_on_13" in info.value.remote_traceback


def test_an_uncollatable_batch_names_its_samples() -> None:
    import torch

    pipe = stoker.from_items([torch.zeros(2)] * 3 + [torch.zeros(3)]).batch(4)
    with stoker.Loader(pipe, workers=1) as loader, pytest.raises(stoker.SampleError, match="collate") as info:
        list(loader)
    assert info.value.indices == (0, 1, 2, 3)


def test_an_unpicklable_function_is_refused_at_construction_where_it_must_be_pickled() -> None:
    lock = threading.Lock()

    def guarded(x):
        with lock:
            return x

    with pytest.raises(stoker.PipelineSerializationError, match="guarded"):
        stoker.Loader(stoker.from_items([1, 2]).map(guarded), workers=1, mp_context="forkserver")
    # Workers forked from the template inherit the pipeline unpickled, as torch's forked workers do.
    with stoker.Loader(stoker.from_items([1, 2]).map(guarded), workers=1) as loader:
        assert sorted(loader) == [1, 2]


def test_a_sample_that_crashes_its_worker_is_reported_not_retried_forever() -> None:
    pipe = stoker.from_items(list(range(16))).map(crash_on_7).batch(4)
    with (
        stoker.Loader(pipe, workers=2, max_attempts=2) as loader,
        pytest.raises(stoker.WorkerLostError, match="split 1"),
    ):
        list(loader)


def segfault_on_5_and_9(i: int) -> int:
    if i in (5, 9):
        import ctypes

        ctypes.string_at(0)  # a real SIGSEGV: reads address 0
    return i


@pytest.mark.parametrize("batch", [4, None])
def test_skip_mode_survives_samples_that_segfault_their_worker(batch: int | None) -> None:
    pipe = stoker.from_items(list(range(16))).map(segfault_on_5_and_9)
    pipe = pipe.batch(batch) if batch else pipe
    with stoker.Loader(pipe, workers=1, on_error="skip", split_size=4) as loader:
        got = [int(v) for item in loader for v in (item.tolist() if batch else [item])]
        stats = loader.stats()
    assert got == [i for i in range(16) if i not in (5, 9)]
    assert stats["skipped"] == 2 and stats["workers_lost"] >= 2
    records = sorted(stats["skipped_samples"], key=lambda r: r["index"])
    assert [r["index"] for r in records] == [5, 9] and all(r["op"] == "worker" for r in records)
    assert "SIGSEGV" in records[0]["error"] or "-11" in records[0]["error"], records[0]["error"]


def test_a_hanging_function_times_out_with_the_reason() -> None:
    def hang(x):
        threading.Event().wait()
        return x

    with stoker.Loader(stoker.from_items([1, 2]).map(hang), workers=1, timeout=1.5) as loader:
        # Each stuck worker is replaced and the split re-issued; after max_attempts the error
        # names the split, its samples and the last worker.
        with pytest.raises(stoker.WorkerLostError, match=r"split 0 .*samples \[0, 1\].*worker 2.*no progress"):
            list(loader)
        assert loader.stats()["workers_stuck"] == 3
