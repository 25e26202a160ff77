"""The Ray backend on a real multi-node Ray cluster on this machine (``ray.cluster_utils.Cluster``).

One cluster per module (it takes ~7 s to start): a head node with 1 CPU, where the trainer (this
test process) runs, and two worker nodes with 2 CPUs each. Tests that remove nodes add their own
nodes first, so the shape the other tests see stays the same. Token authentication is on, with a
token made for this module.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import cloudpickle
import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray")

import stoker  # noqa: E402
import tests.common.pipelines  # noqa: E402
from stoker.data.errors import SampleError, StokerError, WorkerLostError  # noqa: E402
from tests.common.chaos import run_epochs  # noqa: E402
from tests.common.pipelines import indices_of, numbers, slow_tag  # noqa: E402
from tests.common.soak import soak_trials  # noqa: E402
from tests.common.state import run_test_save_load_state  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.timeout(240)]

# Ray workers cannot import this test module; send its functions by value, as cloudpickle does
# for a user's __main__ script.
cloudpickle.register_pickle_by_value(sys.modules[__name__])
cloudpickle.register_pickle_by_value(tests.common.pipelines)

NODE = {"num_cpus": 2, "include_dashboard": False}


@pytest.fixture(scope="module")
def cluster():
    from ray._raylet import AuthenticationMode, AuthenticationTokenLoader, Config, get_authentication_mode
    from ray.cluster_utils import Cluster

    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    # Ray caches its config and token per process; refresh both, as ray.init does when it turns
    # token authentication on.
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()
    if get_authentication_mode() != AuthenticationMode.TOKEN:
        raise RuntimeError("token authentication did not turn on for the test cluster")
    c = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "include_dashboard": False,
            # Notice a removed node within ~2 s instead of Ray's default ~30 s.
            "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 4},
        },
    )
    for _ in range(2):
        c.add_node(**NODE)
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
        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()


# -- pipelines (module-level so they pickle; sent by value) ----------------------------------


def tagged(i: int) -> dict:
    time.sleep(0.004)  # enough work that kills land mid-epoch
    return {"x": torch.full((3, 16, 16), i % 251, dtype=torch.uint8), "i": i}


def slower_tagged(i: int) -> dict:
    time.sleep(0.04)  # slow enough that a node removed mid-epoch always holds splits the trainer needs
    return {"x": torch.full((3, 16, 16), i % 251, dtype=torch.uint8), "i": i}


def augmented(img: np.ndarray) -> dict:
    g = stoker.sample_generator()
    top, left = (int(v) for v in torch.randint(0, 9, (2,), generator=g))
    crop = torch.from_numpy(img[top : top + 24, left : left + 24]).permute(2, 0, 1)
    if torch.rand((), generator=g) < 0.5:
        crop = crop.flip(-1)
    noise = torch.randn(4, generator=g).to(torch.bfloat16)
    return {"x": crop.contiguous(), "noise": noise, "key": stoker.sample_key()[2]}


def fails_on_seven(i: int) -> int:
    if i == 7:
        raise ValueError("sample seven is corrupt")
    return i


def ids(loader_or_iter, limit: int | None = None, out: list[int] | None = None) -> list[int]:
    """Sample ids of the next ``limit`` batches (all, by default), appended to ``out`` as they come."""
    out = [] if out is None else out
    for n, batch in enumerate(loader_or_iter):
        out.extend(batch["i"].tolist())
        if limit is not None and n + 1 >= limit:
            break
    return out


def node_of(loader: stoker.Loader) -> dict[int, str]:
    return dict(loader.pool.describe()["nodes"])


def placed(loader: stoker.Loader, n: int) -> dict[int, str]:
    """Waits until ``n`` workers run on nodes (actors take seconds to start); worker -> node."""
    assert loader.pool.wait_ready(n, timeout=90) == n, loader.pool.describe()
    return node_of(loader)


def exactly_once(got: list[int], n: int) -> None:
    repeated = [k for k, c in Counter(got).items() if c > 1]
    missing = sorted(set(range(n)) - set(got))
    assert not repeated and not missing, f"repeated {repeated[:10]}, missing {missing[:10]}"


# -- tests -------------------------------------------------------------------------------------


def test_token_auth_is_on_and_a_wrong_token_is_refused(cluster):
    code = (
        "import ray, sys\n"
        "try:\n    ray.init(address=sys.argv[1])\n"
        "except Exception as e:\n    print(repr(e.__cause__))\n    sys.exit(3)\n"
    )
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        "RAY_gcs_server_port_wait_time_s": "2",  # give up after 2 connection attempts, not 20
    }
    out = subprocess.run(
        [sys.executable, "-c", code, cluster.address], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 3, out.stdout + out.stderr[-2000:]
    assert "token" in out.stdout and "incorrect" in out.stdout, out.stdout


def test_workers_spread_over_nodes_and_stay_off_the_busy_trainer_node(cluster):
    n = 256
    with stoker.Loader(stoker.from_items(list(range(n))).map(tagged).batch(8), workers=4, backend="ray") as loader:
        where = placed(loader, 4)
        got = ids(loader)
        trainer = loader.pool.describe()["trainer_node"]
    exactly_once(got, n)
    # The head (trainer's) node has 1 CPU, all reserved for the trainer: 2 workers on each of
    # the two 2-CPU nodes.
    assert trainer not in where.values()
    assert sorted(Counter(where.values()).values()) == [2, 2]


def test_killed_actors_and_a_removed_node_lose_and_repeat_no_sample(cluster):
    cluster.add_node(**NODE)  # one node is removed below: the next tests see the same shape
    cluster.wait_for_nodes()
    n = 320
    pipe = stoker.from_items(list(range(n))).shuffle(seed=3).map(slower_tagged).batch(8)
    with stoker.Loader(pipe, workers=4, backend="ray", seed=5) as loader:
        it = iter(loader)
        where = placed(loader, 4)
        got = ids(it, limit=6)
        for wid in sorted(where)[:2]:
            ray.kill(loader.pool.actor(wid), no_restart=True)
        ids(it, limit=6, out=got)
        # Remove the node (not the trainer's) that now hosts the most workers.
        hosts = Counter(v for v in node_of(loader).values() if v != cluster.head_node.node_id)
        victim = next(nd for nd in cluster.worker_nodes if nd.node_id == hosts.most_common(1)[0][0])
        cluster.remove_node(victim, allow_graceful=False)
        ids(it, out=got)
        stats = loader.stats()
    exactly_once(got, n)
    assert stats["workers_lost"] >= 3, stats
    assert stats["splits_reissued"] >= 3, stats


def test_a_sigstopped_actor_is_replaced_and_the_epoch_completes_exactly_once(cluster):
    n = 240
    pipe = stoker.from_items(list(range(n))).shuffle(seed=4).map(slower_tagged).batch(8)
    with stoker.Loader(pipe, workers=2, backend="ray", seed=5, timeout=4.0) as loader:
        it = iter(loader)
        placed(loader, 2)
        got = ids(it, limit=3)
        pid = sorted(loader.pool.describe()["pids"].values())[0]
        os.kill(pid, signal.SIGSTOP)  # frozen: Ray still sees a live actor holding calls
        try:
            ids(it, out=got)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        stats = loader.stats()
    exactly_once(got, n)
    assert stats["workers_stuck"] >= 1 and stats["splits_reissued"] >= 1, stats


def test_trainer_waits_when_all_workers_are_gone_then_times_out_or_recovers(cluster, caplog, monkeypatch):
    import stoker.backends.ray as ray_backend
    import stoker.data.loader_receive as loader_mod

    monkeypatch.setattr(ray_backend, "PENDING_LOG_S", 1.0)
    monkeypatch.setattr(loader_mod, "WAIT_LOG_S", 1.0)
    caplog.set_level(logging.WARNING, logger="stoker")
    label = {"stoker-test": "only-here"}
    only = cluster.add_node(labels=label, **NODE)
    cluster.wait_for_nodes()
    n = 160
    pipe = stoker.from_items(list(range(n))).map(slower_tagged).batch(8)
    with stoker.Loader(pipe, workers=2, backend="ray", label_selector=label) as loader:
        it = iter(loader)
        got = ids(it, limit=2)
        loader.timeout = 3.0
        cluster.remove_node(only, allow_graceful=False)
        # Every worker is gone and no other node matches: the trainer waits, then times out.
        with pytest.raises(WorkerLostError, match=r"no data for 3 s: .* 2 Ray data workers wait for a node"):
            ids(it, out=got)
        state = loader.state_dict()
        loader.timeout = None
        loader.load_state_dict(state)
        # The trainer waits (in a thread here, because Ray adds nodes only from the main
        # thread); a matching node comes back later and the trainer picks up where it stopped.
        errors: list[BaseException] = []

        def train() -> None:
            try:
                ids(iter(loader), out=got)
            except BaseException as exc:
                errors.append(exc)

        trainer = threading.Thread(target=train)
        trainer.start()
        time.sleep(3.0)
        assert trainer.is_alive(), errors
        cluster.add_node(labels=label, **NODE)
        trainer.join(timeout=120)
        assert not trainer.is_alive() and not errors, errors
        lost = loader.stats()["workers_lost"]
    exactly_once(got, n)
    assert lost >= 2
    text = caplog.text
    assert "Ray data workers wait for a node with 1 free CPUs" in text and "The trainer waits" in text, text[-2000:]
    assert "trainer has waited" in text


def test_two_ranks_get_equal_shares_that_cover_the_epoch(cluster):
    n = 200
    pipe = stoker.from_items(list(range(n))).shuffle().map(tagged).batch(8)
    loaders = [stoker.Loader(pipe, workers=1, backend="ray", seed=11, rank=r, world_size=2) for r in range(2)]
    try:
        shares = [ids(ld) for ld in loaders]
        assert [len(x) for x in shares] == [13 * 8, 13 * 8]
        shares = [set(x) for x in shares]
    finally:
        for ld in loaders:
            ld.close()
    # 25 batches over 2 ranks: the epoch is padded to 26 with one batch of repeated samples, so
    # both ranks get 13 batches (DDP would hang on 13/12).
    assert len(shares[0] & shares[1]) <= 8
    assert shares[0] | shares[1] == set(range(n))


def _images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(96)]


def test_deterministic_mode_gives_the_local_backends_batches(cluster):
    pipe = stoker.from_items(_images()).shuffle().map(augmented).batch(8)
    with stoker.Loader(pipe, workers=2, seed=21) as local:
        want = list(local)
    with stoker.Loader(pipe, workers=3, backend="ray", seed=21) as remote:
        got = list(remote)
    assert len(got) == len(want) == 12
    for g, w in zip(got, want, strict=True):
        assert g["noise"].dtype == torch.bfloat16
        assert torch.equal(g["x"], w["x"]) and torch.equal(g["noise"], w["noise"]) and torch.equal(g["key"], w["key"])


def test_a_failing_sample_raises_sample_error_in_the_trainer(cluster):
    with (
        stoker.Loader(stoker.from_items(list(range(32))).map(fails_on_seven), workers=1, backend="ray") as loader,
        pytest.raises(SampleError, match="sample seven is corrupt") as info,
    ):
        list(loader)
    assert info.value.indices == (7,)
    assert "fails_on_seven" in info.value.remote_traceback


def test_a_pipeline_the_workers_cannot_load_is_reported_with_their_traceback(cluster, tmp_path, monkeypatch):
    (tmp_path / "only_on_the_trainer.py").write_text("def double(x):\n    return 2 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import only_on_the_trainer  # type: ignore[import-not-found]

    pipe = stoker.from_items(list(range(8))).map(only_on_the_trainer.double)
    with (
        stoker.Loader(pipe, workers=1, backend="ray") as loader,
        pytest.raises(StokerError, match="could not load the pipeline") as info,
    ):
        list(loader)
    assert "only_on_the_trainer" in str(info.value)


class _Resumable:
    """A Ray-backed Loader seen as one stream of batches across ``iter()`` calls."""

    def __init__(self, pipe: stoker.Pipeline) -> None:
        self.loader = stoker.Loader(pipe, workers=1, backend="ray", seed=2)
        self.it = None

    def next_ids(self) -> list[int]:
        if self.it is None:
            self.it = iter(self.loader)
        return next(self.it)["i"].tolist()

    def state_dict(self) -> dict:
        return self.loader.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.loader.load_state_dict(state)


def test_resuming_from_state_dict_continues_the_stream(cluster):
    pipe = stoker.from_items(list(range(64))).shuffle().map(tagged).batch(8)
    run_test_save_load_state(
        factory=lambda: _Resumable(pipe),
        advance=_Resumable.next_ids,
        steps=8,
        checkpoints=(3,),
        close=lambda r: r.loader.close(),
    )


def kill_random_actor(loader: stoker.Loader, rng: random.Random) -> int | None:
    """``ray.kill``s one running worker actor; returns its worker id (None when none runs)."""
    running = sorted(node_of(loader))
    if not running:
        return None
    wid = rng.choice(running)
    ray.kill(loader.pool.actor(wid), no_restart=True)
    return wid


@pytest.fixture(scope="module")
def reference() -> list[list[torch.Tensor]]:
    with stoker.Loader(numbers(240, 8, fn=slow_tag), workers=1, seed=0) as loader:
        return run_epochs(loader, 2)


@pytest.mark.soak
@pytest.mark.parametrize("trial", range(soak_trials(3)))
def test_random_kills_and_rescaling_keep_every_epoch_exact_and_identical(cluster, reference, trial):
    rng = random.Random(trial)
    kills = []

    def act(loader: stoker.Loader, step: int) -> None:
        if step == 10 or rng.random() < 0.03:
            kills.append(kill_random_actor(loader, rng))
        if rng.random() < 0.05:
            loader.scale(rng.choice((1, 2, 3)))  # scaling down drains actors: nothing may be lost

    with stoker.Loader(numbers(240, 8, fn=slow_tag), workers=3, backend="ray", seed=0) as loader:
        got = run_epochs(loader, 2, act)
        lost = loader.stats()["workers_lost"]
    assert kills[0] is not None and lost >= 1, (kills, lost)
    for epoch in got:
        assert sorted(indices_of(epoch)) == list(range(240))
    assert all(torch.equal(g, w) for e, f in zip(got, reference, strict=True) for g, w in zip(e, f, strict=True))


def _freeze_count(_: int) -> int:
    import gc

    return gc.get_freeze_count()


def test_actors_keep_the_collector_off_their_imports_and_pipeline(cluster):
    # stoker.data.heap: Ray's, torch's and numpy's modules and the unpickled pipeline are frozen
    # once the actor has loaded it (tens of thousands of objects), so no full collection walks them.
    with stoker.Loader(
        stoker.from_items(list(range(8))).map(_freeze_count).batch(4), workers=1, backend="ray"
    ) as loader:
        counts = [int(c) for batch in loader for c in batch]
    assert len(counts) == 8 and min(counts) > 20_000, counts
