"""The parameter server with real shard and worker processes (local backend)."""

from __future__ import annotations

import functools
import os
import signal
import threading
import time

import pytest
import torch

from stoker.train import digits
from stoker.train.ps.feed import TensorFeed
from stoker.train.ps.optim import OptimSpec
from stoker.train.ps.server import ParameterServer
from stoker.train.ps.worker import LRPlan, TrainSpec
from tests.common.state import run_test_save_load_state

SGD = OptimSpec("sgd", {"momentum": 0.9})


def _data(n: int = 96) -> tuple[torch.Tensor, torch.Tensor]:
    xtr, ytr, _, _ = digits.load()
    return xtr[:n], ytr[:n]


def _small_model(seed: int = 0) -> torch.nn.Module:
    return digits.make_model(seed, width=32, depth=2)


def test_bsp_with_workers_equals_one_process_on_the_concatenated_batch() -> None:
    x, y = _data()
    workers, per, epochs, lr = 3, 8, 2, 0.05
    spec = TrainSpec(
        model_fn=_small_model,
        feed=TensorFeed(x, y, per, seed=5),
        epochs=epochs,
        lr=LRPlan("linear", lr, 1, 1),
    )
    with ParameterServer(_small_model(), num_shards=2, optimizer=SGD, num_workers=workers) as ps:
        stats = ps.train(spec)
        got = ps.flat_params()
    assert [s["steps"] for s in stats] == [epochs * len(x) // (workers * per)] * workers

    ref = _small_model()
    opt = torch.optim.SGD(ref.parameters(), lr=lr, momentum=0.9, foreach=False)
    feeds = [TensorFeed(x, y, per, seed=5) for _ in range(workers)]
    for epoch in range(epochs):
        # One process, each round on the workers' minibatches concatenated.
        for parts in zip(*(feeds[r](r, workers, epoch) for r in range(workers))):
            opt.zero_grad()
            xb, yb = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
            torch.nn.functional.cross_entropy(ref(xb), yb).backward()
            opt.step()
    torch.testing.assert_close(got, torch.cat([p.detach().reshape(-1) for p in ref.parameters()]))


def _staleness(consistency: str) -> list[dict]:
    x, y = _data()
    spec = TrainSpec(
        model_fn=_small_model,
        feed=TensorFeed(x, y, 4, seed=0),
        epochs=2,
        step_delay_s={1: 0.03},  # worker 1 is deliberately slow
    )
    with ParameterServer(_small_model(), num_shards=2, consistency=consistency, num_workers=2) as ps:
        return ps.train(spec)


def test_ssp_bounds_how_far_a_fast_worker_runs_ahead_of_a_slow_one() -> None:
    fast, slow = _staleness("ssp:2")
    assert fast["steps"] == slow["steps"] == 24
    # The fast worker reached the bound and was held there, never beyond it.
    assert fast["max_staleness"] == 2
    assert fast["pull_wait_s"] > 0.2


def test_asp_lets_the_fast_worker_run_past_that_bound() -> None:
    fast, _ = _staleness("asp")
    assert fast["max_staleness"] > 2


def test_killed_shard_is_restored_from_its_checkpoint_and_training_continues(tmp_path) -> None:
    xtr, ytr, xte, yte = digits.load()
    model = digits.make_model(0)
    spec = TrainSpec(
        model_fn=functools.partial(digits.make_model, 0),
        feed=TensorFeed(xtr, ytr, 32, seed=0),
        epochs=8,
        lr=LRPlan("linear", 0.05, 64, 64),
        step_delay_s={0: 0.01, 1: 0.01},  # long enough to kill a shard mid-run
    )
    ps = ParameterServer(model, 2, SGD, "bsp", 2, checkpoint_dir=tmp_path, checkpoint_every=5).start()
    try:
        result: dict = {}
        runner = threading.Thread(target=lambda: result.update(stats=ps.train(spec)))
        runner.start()
        path = ps.checkpoint_path(0)
        first = os.stat(path).st_mtime_ns
        deadline = time.monotonic() + 60
        while os.stat(path).st_mtime_ns == first and time.monotonic() < deadline:
            time.sleep(0.02)  # wait for a periodic checkpoint taken during training
        time.sleep(0.1)
        assert runner.is_alive(), "training ended before the kill; slow the workers down"
        victim = ps.shard_pids()[0]
        os.kill(victim, signal.SIGKILL)
        runner.join(timeout=120)
        assert not runner.is_alive(), "training did not continue after the shard was killed"
        assert ps.restarts == 1 and ps.shard_pids()[0] != victim
        assert [s["steps"] for s in result["stats"]] == [8 * (len(xtr) // 64)] * 2
        model.load_state_dict(ps.model_state(), strict=False)
    finally:
        ps.close()
    assert digits.accuracy(model, xte, yte) > 90.0


def _ps_factory(optim: OptimSpec, consistency: str) -> ParameterServer:
    return ParameterServer(_small_model(), 3, optim, consistency, num_workers=2).start()


def _round(ps: ParameterServer) -> torch.Tensor:
    # The test process plays both workers: each pushes a gradient derived from the clock, then pulls.
    clock = min(ps.state_dict()["shards"][0]["clocks"])
    total = ps.layout.total
    for w in range(2):
        g = torch.sin(torch.arange(total, dtype=torch.float32) * (clock + 1) + w)
        ps.client(w).push(g, clock + 1, 0.1)
    flat, _ = ps.client(0).pull(clock + 1)
    return flat.clone()


@pytest.mark.parametrize(("optim", "consistency"), [(SGD, "bsp"), (OptimSpec("adam"), "ssp:1")])
def test_shard_processes_round_trip_parameters_and_optimizer_state(optim: OptimSpec, consistency: str) -> None:
    run_test_save_load_state(
        functools.partial(_ps_factory, optim, consistency), _round, steps=5, close=ParameterServer.close
    )


def _two_rounds(ps: ParameterServer, restart_between_pushes: bool) -> torch.Tensor:
    clients = [ps.client(w) for w in range(2)]
    for c in clients:
        c.timeout_s = 20.0
    total = ps.layout.total
    for clock in (1, 2):
        if clock == 2:
            ps.checkpoint()
        for w, c in enumerate(clients):
            c.push(torch.cos(torch.arange(total, dtype=torch.float32) * clock + w), clock, 0.1)
            if clock == 2 and w == 0 and restart_between_pushes:
                # Shard 0 restarts after acknowledging worker 0's push: the push is lost with it.
                ps.restart_shard(0)
        flats = [c.pull(clock)[0].clone() for c in clients]
        torch.testing.assert_close(flats[0], flats[1])
    return flats[0]


def test_a_push_acknowledged_just_before_a_restart_is_pushed_again(tmp_path) -> None:
    def run(restart: bool, where) -> torch.Tensor:
        with ParameterServer(_small_model(), 2, SGD, "bsp", 2, checkpoint_dir=where) as ps:
            return _two_rounds(ps, restart)

    torch.testing.assert_close(run(True, tmp_path / "a"), run(False, tmp_path / "b"))


SCRIPT = """
import torch
from stoker.train import ParameterServer
from stoker.train.ps.feed import TensorFeed
from stoker.train.ps.worker import TrainSpec

def make():  # defined in the unguarded script: travels to workers by value
    torch.manual_seed(0)
    return torch.nn.Linear(4, 3)

x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
with ParameterServer(make(), num_shards=2, num_workers=2) as ps:
    stats = ps.train(TrainSpec(model_fn=make, feed=TensorFeed(x, y, 8)))
print("STEPS", [s["steps"] for s in stats])
"""


def test_an_unguarded_script_trains_once(tmp_path) -> None:
    import subprocess
    import sys

    path = tmp_path / "train.py"
    path.write_text(SCRIPT)
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("STEPS") == 1 and "STEPS [4, 4]" in out.stdout
