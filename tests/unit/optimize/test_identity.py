"""A kept ``cache_dir`` never serves an entry whose input changed: files, items, data sets, code."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import numpy as np
import torch

import stoker
from stoker.data.pipeline import Source
from stoker.optimize.identity import ops_identity, source_identity
from tests.common import optimize as fns
from tests.unit.optimize.conftest import identical


def through(pipe: stoker.Pipeline, cache_dir: str, **opts: Any) -> tuple[list[list[Any]], dict[str, int]]:
    """Two epochs of ``pipe`` optimised with a kept ``cache_dir``, and its cache stats."""
    new, report = stoker.optimize(pipe, strategies=["autocache"], cache_dir=cache_dir, **opts)
    with stoker.Loader(new, workers=0, seed=1) as loader:
        out = [list(loader) for _ in range(2)]
    stats = report.stats()
    report.close()
    return out, stats


def plain(pipe: stoker.Pipeline) -> list[list[Any]]:
    with stoker.Loader(pipe, workers=0, seed=1) as loader:
        return [list(loader) for _ in range(2)]


def read_and_work(path: str) -> dict[str, Any]:
    with open(path, "rb") as f:
        seed = int.from_bytes(f.read()[:4], "little")
    return fns.heavy(seed)


def write(folder: Any, values: list[int], mtime_ns: int) -> list[str]:
    paths = []
    for i, v in enumerate(values):
        p = os.path.join(folder, f"{i}.bin")
        with open(p, "wb") as f:
            f.write(int(v).to_bytes(4, "little"))
        os.utime(p, ns=(mtime_ns, mtime_ns))
        paths.append(p)
    return paths


def test_rewritten_files_under_a_kept_cache_dir_are_read_afresh(tmp_path) -> None:
    paths = write(tmp_path, list(range(12)), 1_000_000_000)
    pipe = stoker.from_files(paths).map(read_and_work).map(fns.jitter).batch(4)
    first, _ = through(pipe, str(tmp_path / "c"))
    assert identical(first, plain(pipe))
    again, stats = through(pipe, str(tmp_path / "c"))
    assert identical(again, first) and stats["computed"] == 0  # unchanged files: all read from the cache
    write(tmp_path, [v + 100 for v in range(12)], 2_000_000_000)  # same names, same sizes, new content
    changed, _ = through(pipe, str(tmp_path / "c"))
    assert identical(changed, plain(pipe)) and not identical(changed, first)


def test_other_items_of_the_same_length_get_their_own_cache(tmp_path) -> None:
    train = stoker.from_items(list(range(12))).map(fns.heavy).map(fns.jitter).batch(4)
    val = stoker.from_items(list(range(100, 112))).map(fns.heavy).map(fns.jitter).batch(4)
    through(train, str(tmp_path / "c"))
    got, _ = through(val, str(tmp_path / "c"))
    assert identical(got, plain(val))


def test_a_dataset_without_identity_is_reused_only_under_a_named_version(tmp_path) -> None:
    a, b = fns.AugmentingDataset(12, "torch", rare=True), fns.AugmentingDataset(12, "torch", rare=True)
    assert source_identity(Source("dataset", a, "a")) is None
    assert source_identity(Source("dataset", a, "a"), version="v1") == source_identity(
        Source("dataset", b, "b"), version="v1"
    )
    data = torch.utils.data.TensorDataset(torch.arange(12))
    pipe = stoker.from_dataset(data).map(lambda t: fns.heavy(int(t[0]))).map(fns.jitter).batch(4)
    # A TensorDataset is hashed: another instance with other values has another identity.
    other = torch.utils.data.TensorDataset(torch.arange(12) + 1)
    assert source_identity(Source("dataset", data, "d")) != source_identity(Source("dataset", other, "d"))
    _, first = through(pipe, str(tmp_path / "c"))
    _, second = through(pipe, str(tmp_path / "c"))
    assert first["computed"] > 0 and second["computed"] == 0


def test_an_edited_function_or_closure_value_is_another_cache(tmp_path, monkeypatch) -> None:
    module = tmp_path / "user_ops_for_identity.py"
    module.write_text("def work(i):\n    return i * 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("user_ops_for_identity")
    try:
        before = ops_identity(stoker.from_items([1]).map(mod.work).ops)
        module.write_text("def work(i):\n    return i * 3\n")
        importlib.reload(mod)
        after = ops_identity(stoker.from_items([1]).map(mod.work).ops)
    finally:
        sys.modules.pop("user_ops_for_identity", None)
    assert before != after

    def scaled(k: float) -> Any:
        def work(i: int) -> np.ndarray:
            return fns.heavy(i)["x"].numpy() * k

        return work

    ids = {ops_identity(stoker.from_items([1]).map(scaled(k)).ops) for k in (1.0, 2.0)}
    assert len(ids) == 2
    pipe1 = stoker.from_items(list(range(8))).map(scaled(1.0)).batch(4)
    pipe2 = stoker.from_items(list(range(8))).map(scaled(2.0)).batch(4)
    through(pipe1, str(tmp_path / "c"))
    got, _ = through(pipe2, str(tmp_path / "c"))
    assert identical(got, plain(pipe2))


def test_an_op_holding_an_unpicklable_value_gets_a_private_cache(tmp_path) -> None:
    import threading

    lock = threading.Lock()

    def locked_heavy(i: int) -> Any:
        with lock:
            return fns.heavy(i)

    assert ops_identity(stoker.from_items([1]).map(locked_heavy).ops) is None
    pipe = stoker.from_items(list(range(8))).map(locked_heavy).map(fns.jitter).batch(4)
    _, report = stoker.optimize(pipe, strategies=["autocache"], cache_dir=str(tmp_path / "c"))
    assert "private to this process" in report.rewrites[0].what
    report.close()
    assert os.listdir(tmp_path / "c") == []  # removed with the report: nothing left to serve a later run
