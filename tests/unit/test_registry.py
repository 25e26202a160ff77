"""Every name-to-strategy table has one shape and refuses an unknown name with one message format."""

from collections.abc import Callable

import pytest

from stoker.backends import make_pool
from stoker.backends.placement import worker_placement
from stoker.cluster.policies import cpu_policy, placement_policy
from stoker.data.autoscale import autoscale_policy
from stoker.errors import InputError
from stoker.registry import Lazy, Registry
from stoker.train.hetero.policies import allocation_policy
from stoker.train.lr import lr_rule
from stoker.train.ps.backends import shard_backend

# (lookup, what the user asked for, the message it must give)
CASES: list[tuple[Callable[[str], object], str]] = [
    (autoscale_policy, "unknown autoscaler policy 'pid'; choose one of ['throughput']"),
    (worker_placement, "unknown worker placement policy 'pid'; choose one of ['free_cpus', 'spread']"),
    (cpu_policy, "unknown CPU policy 'pid'; choose one of ['elastic', 'proportional', 'static', 'synergy']"),
    (placement_policy, "unknown GPU placement policy 'pid'; choose one of ['fifo', 'gavel']"),
    (allocation_policy, "unknown allocation policy 'pid'; choose one of ['balanced', 'equal', 'optimal', 'per-type']"),
    (lr_rule, "unknown LR rule 'pid'; choose one of ['adascale', 'linear', 'sqrt']"),
    (make_pool, "unknown worker backend 'pid'; choose one of ['local', 'ray']"),
    (shard_backend, "unknown parameter-server backend 'pid'; choose one of ['local', 'ray']"),
]


@pytest.mark.parametrize(("lookup", "message"), CASES, ids=[c[0].__name__ for c in CASES])
def test_each_registry_names_the_unknown_value_and_the_choices(lookup: Callable[[str], object], message: str) -> None:
    with pytest.raises(InputError) as info:
        lookup("pid")
    assert str(info.value) == message


def test_a_registry_is_a_read_only_mapping_that_imports_lazy_entries_on_lookup() -> None:
    entries = {"one": 1, "path": Lazy("os.path", "join")}
    reg: Registry[object] = Registry("thing", entries)
    entries["two"] = 2  # the registry copied the literal: later edits do not leak in
    assert sorted(reg) == ["one", "path"] and len(reg) == 2
    assert "one" in reg and "two" not in reg and ["x"] not in reg
    import os.path

    assert reg.lookup("path") is os.path.join and reg["one"] == 1
    with pytest.raises(KeyError):
        reg["two"]
    assert reg.get("two") is None  # Mapping semantics for code that probes
    with pytest.raises(InputError, match=r"unknown thing \['x'\]; choose one of \['one', 'path'\]"):
        reg.lookup(["x"])  # type: ignore[arg-type]
    assert not hasattr(reg, "__setitem__")


def test_an_unknown_name_is_also_a_value_error_for_callers_that_catch_that() -> None:
    with pytest.raises(ValueError, match="choose one of"):
        lr_rule("lineer")
