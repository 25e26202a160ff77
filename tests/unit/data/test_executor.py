import torch

import stoker
import stoker.io
from stoker.data.executor import Executor, SplitFailure, SplitResult
from stoker.data.splits import Split
from tests.common.pipelines import fail_on_13


def _run(pipe, indices, on_error="raise"):
    return Executor(pipe, seed=0, on_error=on_error).run(Split(0, 0, tuple(indices)))


def test_a_failing_function_names_the_sample_and_the_op() -> None:
    out = _run(stoker.from_items(list(range(20))).map(fail_on_13), [12, 13])
    assert isinstance(out, SplitFailure)
    assert out.indices == (13,) and out.op == "fail_on_13"
    assert "sample 13" in out.message and "thirteen is unlucky" in out.traceback


def test_skip_drops_and_lists_the_sample() -> None:
    out = _run(stoker.from_items(list(range(20))).map(fail_on_13).batch(4), [12, 13, 14], on_error="skip")
    assert isinstance(out, SplitResult)
    assert out.items[0].tolist() == [12, 14]
    assert [(s.index, s.op) for s in out.skipped] == [(13, "fail_on_13")]


def test_files_are_named_in_errors(tmp_path) -> None:
    path = tmp_path / "bad.jpg"
    path.write_bytes(b"not a jpeg")
    out = _run(stoker.from_files([str(path)]).map(stoker.io.read_image), [0])
    assert isinstance(out, SplitFailure) and out.file == str(path) and "bad.jpg" in out.message


def test_collate_failure_names_every_sample_of_the_batch() -> None:
    pipe = stoker.from_items([torch.zeros(2), torch.zeros(3)]).batch(2)
    out = _run(pipe, [0, 1])
    assert isinstance(out, SplitFailure) and out.indices == (0, 1) and out.op == "collate"


def test_filter_shortens_the_batch_and_is_counted() -> None:
    out = _run(stoker.from_items(list(range(10))).filter(lambda i: i % 2 == 0).batch(4), [0, 1, 2, 3])
    assert isinstance(out, SplitResult) and out.items[0].tolist() == [0, 2] and out.filtered == 2
    assert set(out.stage_s) >= {"read", "<lambda>", "collate"}


def test_an_error_outside_the_operators_comes_back_as_a_record_not_raised() -> None:
    from stoker.data.streams.split import make_stream_split

    # A stream split on an index pipeline: the stream runner refuses it before any operator runs.
    out = Executor(stoker.from_items([1, 2]), seed=0, on_error="raise").run(make_stream_split(0, 0, 0, 1, 0, 2, False))
    assert isinstance(out, SplitFailure)
    assert (out.op, out.exc_type) == ("worker", "TypeError")
    assert "a stream split needs a stream source" in out.message and out.key == (0, 0)


def test_samples_that_crashed_a_worker_are_skipped_not_run() -> None:
    pipe = stoker.from_items(list(range(8))).map(fail_on_13).batch(4)
    ex = Executor(pipe, seed=0, on_error="skip")
    out = ex.run(Split(0, 0, (0, 1, 2, 3), crashed=((1, "killed by SIGSEGV"),)))
    assert isinstance(out, SplitResult) and out.items[0].tolist() == [0, 2, 3]
    assert [(r.index, r.op) for r in out.skipped] == [(1, "worker")] and "SIGSEGV" in out.skipped[0].error
    whole = ex.run(Split(0, 1, (4, 5, 6, 7), crashed=((4, "killed by SIGSEGV"),)))  # the batch stage crashed
    assert isinstance(whole, SplitResult) and whole.items == [] and len(whole.skipped) == 4


def test_a_traced_split_reports_each_sample_before_running_it() -> None:
    seen: list[int] = []
    ex = Executor(stoker.from_items(list(range(8))).batch(4), seed=0, on_error="skip")
    ex.on_sample = lambda split, pos: seen.append(pos)
    ex.run(Split(0, 0, (0, 1, 2, 3)))
    assert seen == []
    ex.run(Split(0, 0, (0, 1, 2, 3), trace=True))
    assert seen == [0, 1, 2, 3, 4]  # 4: the batch stage
