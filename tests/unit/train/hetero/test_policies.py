"""Allocation policies on Gavel's K80/P100/V100 profiles and on hand-made cases."""

from __future__ import annotations

import random

import pytest

from stoker.train.hetero import DeviceSpec, InfeasibleError, Profile, TaskSpec, allocate, evaluate
from stoker.train.hetero.gavel import gavel_devices, gavel_profiles
from stoker.train.hetero.policies import POLICIES, get_policy
from tests.common.soak import soak_trials

GIB = 2**30
MODELS = {"ResNet-18": 64, "ResNet-50": 64, "Transformer": 64, "LM": 40, "Recommendation": 2048}


def _gavel_case(gavel: dict, rng: random.Random) -> tuple[list[TaskSpec], list[DeviceSpec]]:
    models = rng.sample(sorted(MODELS), 3)
    tasks = [TaskSpec(m, MODELS[m] * rng.choice([1, 2, 4]), gavel_profiles(m, gavel)) for m in models]
    return tasks, gavel_devices({k: rng.randint(1, 3) for k in ("k80", "p100", "v100")})


def _assert_valid(alloc, tasks, devices) -> None:
    ev = evaluate(alloc, tasks, devices)  # raises if a task's shares do not sum to its batch
    for d in devices:
        assert ev.device_memory_bytes[d.name] <= d.memory_bytes, (d, alloc)
    assert all(s.batch > 0 for s in alloc.shares)


def test_balanced_within_1_1x_of_optimum_and_beats_baselines_on_gavel(gavel: dict) -> None:
    rng = random.Random(7)
    for _ in range(soak_trials(8)):
        tasks, devices = _gavel_case(gavel, rng)
        step = {}
        for name in ("balanced", "optimal"):
            alloc = allocate(tasks, devices, name)
            _assert_valid(alloc, tasks, devices)
            step[name] = evaluate(alloc, tasks, devices).round_s
        assert step["optimal"] <= step["balanced"] * (1 + 1e-6), step
        assert step["balanced"] <= 1.1 * step["optimal"], (step, [t.name for t in tasks], devices)
        try:
            equal = evaluate(allocate(tasks, devices, "equal"), tasks, devices).round_s
        except InfeasibleError:
            continue  # an even share does not fit memory: nothing to compare
        assert step["balanced"] < equal, step


def test_three_gavel_tasks_on_two_of_each_type(gavel: dict) -> None:
    tasks = [
        TaskSpec(m, b, gavel_profiles(m, gavel)) for m, b in (("ResNet-50", 256), ("Transformer", 256), ("LM", 160))
    ]
    devices = gavel_devices({"k80": 2, "p100": 2, "v100": 2})
    step = {p: evaluate(allocate(tasks, devices, p), tasks, devices).round_s for p in POLICIES}
    assert step["balanced"] <= 1.1 * step["optimal"]
    assert step["balanced"] < step["per-type"] < step["equal"]


def _linear(task: str, dtype: str, a: float, b: float, m0: int, m1: int) -> Profile:
    return Profile(task, dtype, a, b, m0, m1)


def test_single_task_shares_follow_speed() -> None:
    # A device twice as fast per sample gets twice the samples: both finish together.
    profs = {"fast": _linear("t", "fast", 0.0, 0.01, 0, 1), "slow": _linear("t", "slow", 0.0, 0.02, 0, 1)}
    devices = [DeviceSpec("f", "fast", GIB), DeviceSpec("s", "slow", GIB)]
    alloc = allocate([TaskSpec("t", 300, profs)], devices)
    assert alloc.task_shares("t") == {"f": 200, "s": 100}


def test_memory_bound_moves_samples_to_the_slow_device() -> None:
    # The fast device holds only 50 samples; the rest must go to the slow one despite its speed.
    profs = {
        "fast": _linear("t", "fast", 0.0, 0.01, 100, 10),
        "slow": _linear("t", "slow", 0.0, 0.02, 100, 10),
    }
    devices = [DeviceSpec("f", "fast", 100 + 10 * 50), DeviceSpec("s", "slow", GIB)]
    for policy in ("balanced", "optimal"):
        alloc = allocate([TaskSpec("t", 300, profs)], devices, policy)
        assert alloc.task_shares("t") == {"f": 50, "s": 250}


def test_tasks_share_a_device_when_memory_allows() -> None:
    # One big device, one small: the small task fits beside the big one on the big device.
    def profs(name: str) -> dict[str, Profile]:
        return {
            "big": _linear(name, "big", 0.0, 0.001, 10, 1),
            "small": _linear(name, "small", 0.0, 0.1, 10, 1),
        }

    tasks = [TaskSpec("a", 100, profs("a")), TaskSpec("b", 100, profs("b"))]
    devices = [DeviceSpec("big0", "big", 10_000), DeviceSpec("small0", "small", 10_000)]
    alloc = allocate(tasks, devices)
    assert set(alloc.device_shares("big0")) == {"a", "b"}


def test_memory_never_exceeded_on_random_tight_cases() -> None:
    rng = random.Random(3)
    for _ in range(soak_trials(20)):
        types = ["x", "y", "z"]
        tasks = []
        for i in range(rng.randint(1, 4)):
            profs = {
                k: _linear(
                    f"t{i}",
                    k,
                    rng.uniform(0, 0.05),
                    rng.uniform(1e-4, 1e-2),
                    rng.randint(0, 500),
                    rng.randint(1, 20),
                )
                for k in types
            }
            tasks.append(TaskSpec(f"t{i}", rng.randint(1, 200), profs))
        devices = [DeviceSpec(f"d{j}", rng.choice(types), rng.randint(300, 3000)) for j in range(rng.randint(1, 5))]
        try:
            alloc = allocate(tasks, devices)
        except InfeasibleError as err:
            assert "task" in str(err)
            continue
        _assert_valid(alloc, tasks, devices)


def test_infeasible_task_is_named_with_the_way_out() -> None:
    profs = {"g": _linear("huge", "g", 0.0, 0.01, GIB, GIB)}
    devices = [DeviceSpec("g0", "g", 4 * GIB), DeviceSpec("g1", "g", 4 * GIB)]
    with pytest.raises(
        InfeasibleError, match=r"task 'huge'.*global_batch=10.*at most 6 samples.*lower its global batch"
    ):
        allocate([TaskSpec("huge", 10, profs)], devices)
    with pytest.raises(InfeasibleError, match="no split"):
        allocate([TaskSpec("huge", 10, profs)], devices, "optimal")


def test_tasks_that_fit_alone_but_not_together_are_named() -> None:
    def profs(name: str) -> dict[str, Profile]:
        return {"g": _linear(name, "g", 0.0, 0.01, 0, GIB)}

    devices = [DeviceSpec("g0", "g", 3 * GIB)]
    with pytest.raises(InfeasibleError, match=r"\['a', 'b'\] each fit alone but not together"):
        allocate([TaskSpec("a", 2, profs("a")), TaskSpec("b", 2, profs("b"))], devices)


def test_equal_split_names_the_device_it_overfills() -> None:
    profs = {"big": _linear("t", "big", 0, 0.01, 0, 1), "small": _linear("t", "small", 0, 0.01, 0, 1)}
    devices = [DeviceSpec("big0", "big", 1000), DeviceSpec("small0", "small", 10)]
    with pytest.raises(InfeasibleError, match="device 'small0'"):
        allocate([TaskSpec("t", 100, profs)], devices, "equal")


def test_task_without_a_profile_for_any_device_type() -> None:
    task = TaskSpec("t", 8, {"v100": _linear("t", "v100", 0, 0.01, 0, 1)})
    with pytest.raises(InfeasibleError, match=r"task 't' has profiles for \['v100'\].*stoker.train.profile"):
        allocate([task], [DeviceSpec("k0", "k80", GIB)])


def test_bad_inputs_are_named() -> None:
    task = TaskSpec("t", 0, {"g": _linear("t", "g", 0, 0.01, 0, 1)})
    with pytest.raises(ValueError, match="global_batch=0"):
        allocate([task], [DeviceSpec("g0", "g", GIB)])
    with pytest.raises(ValueError, match="unknown allocation policy 'fastest'"):
        get_policy("fastest")
    with pytest.raises(ValueError, match=r"device names \['g0'\] are repeated"):
        allocate([TaskSpec("t", 1, task.profiles)], [DeviceSpec("g0", "g", GIB)] * 2)
