"""Finds state by running code twice and comparing what it left behind.

A node is stateful when calling it changes something that the *next* call would see: a buffer
the forward writes (BatchNorm's running statistics), an attribute a module or function object
updates (a call counter, a running mean kept in a Python float), a mutable global or closure
variable. Lazy initialisation (a file opened on the first call) changes things only once, so we
compare the state after the first call with the state after the second. Buffers are compared
against the state before the first call too, since writing the same value again is still a write.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

# nn.Module bookkeeping that changes without being program state.
_MODULE_INTERNALS = frozenset({"_parameters", "_buffers", "_modules", "training", "_non_persistent_buffers_set"})
_MUTABLE = (list, dict, set, bytearray, np.ndarray, torch.Tensor)


def _print(value: Any) -> Any:
    """A comparable snapshot of one value."""
    if isinstance(value, torch.Tensor):
        return ("tensor", value._version, value.detach().clone())
    if isinstance(value, np.ndarray):
        return ("ndarray", value.copy())
    try:
        return ("pickle", pickle.dumps(value, protocol=4))
    except Exception:
        return ("repr", repr(value))


def _same(a: Any, b: Any) -> bool:
    if a[0] != b[0]:
        return False
    if a[0] == "tensor":
        return bool(a[1] == b[1] and a[2].shape == b[2].shape and torch.equal(a[2], b[2]))
    if a[0] == "ndarray":
        return bool(np.array_equal(a[1], b[1], equal_nan=a[1].dtype.kind == "f"))
    return bool(a[1] == b[1])


def _attrs(obj: Any) -> dict[str, Any]:
    """What a callable can carry from one call to the next: attributes, closure cells, mutable globals."""
    out: dict[str, Any] = {}
    fn = getattr(obj, "__wrapped__", obj)
    code = getattr(fn, "__code__", None)
    if code is not None:
        for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
            try:
                out[f"closure {name}"] = cell.cell_contents
            except ValueError:  # empty cell
                continue
        globs = getattr(fn, "__globals__", {})
        for name in code.co_names:
            if isinstance(globs.get(name), _MUTABLE):
                out[f"global {name}"] = globs[name]
    owner = getattr(obj, "__self__", None)
    if owner is not None and hasattr(owner, "__dict__") and not isinstance(owner, type):
        # A bound method carries its instance's attributes from call to call.
        for k, v in vars(owner).items():
            if not k.startswith("__"):
                out[f"self.{k}"] = v
    attrs = getattr(obj, "__dict__", None)
    if isinstance(attrs, dict):
        for k, v in attrs.items():
            if k in _MODULE_INTERNALS or "hook" in k or k.startswith("__"):
                continue
            out[k] = v
    return out


def snapshot(obj: Any) -> dict[str, Any]:
    return {k: _print(v) for k, v in _attrs(obj).items()}


def changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Names whose snapshot differs (appeared, vanished or changed)."""
    keys = sorted(set(before) | set(after))
    return [k for k in keys if k not in before or k not in after or not _same(before[k], after[k])]


def probe_callable(fn: Callable[[Any], Any], arg: Any, call: Callable[[Callable[[Any], Any], Any], Any]) -> list[str]:
    """Attributes of ``fn`` that change between its first and second call on ``arg``.

    Args:
        fn: The function or callable object.
        arg: An input it accepts.
        call: Runs ``fn(arg)`` in the right context (per-sample RNG seeding).
    """
    call(fn, copy.deepcopy(arg))
    first = snapshot(fn)
    call(fn, copy.deepcopy(arg))
    return changed(first, snapshot(fn))


def _module_state(root: nn.Module) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, mod in root.named_modules():
        prefix = f"{path}." if path else ""
        for name, buf in mod.named_buffers(recurse=False):
            out[f"{prefix}{name}"] = ("buffer", _print(buf))
        for name, value in _attrs(mod).items():
            if name in mod._buffers or name in mod._parameters or name in mod._modules:
                continue
            out[f"{prefix}{name}"] = ("attribute", _print(value))
    return out


def probe_step(program: nn.Module, args: tuple[Any, ...]) -> dict[str, str]:
    """Buffers the step writes and attributes it changes across calls, on a copy of the program.

    Args:
        program: The eager step (not modified: a deep copy runs).
        args: The batch elements.

    Returns:
        ``{"model.bn.running_mean": "buffer", "model.calls": "attribute", ...}``.
    """
    twin = copy.deepcopy(program)
    params = list(twin.parameters())
    if params:  # the pipeline's batch is on the CPU; the model may not be
        args = tuple(a.to(params[0].device) if isinstance(a, torch.Tensor) else a for a in args)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        s0 = _module_state(twin)
        twin(*copy.deepcopy(args))
        s1 = _module_state(twin)
        twin(*copy.deepcopy(args))
        s2 = _module_state(twin)
    out: dict[str, str] = {}
    for key in sorted(set(s0) | set(s1) | set(s2)):
        kinds = [s[key][0] for s in (s0, s1, s2) if key in s]
        prints = [s.get(key, (None, ("missing", None)))[1] for s in (s0, s1, s2)]
        if kinds[0] == "buffer":
            if not (_same(prints[0], prints[1]) and _same(prints[1], prints[2])):
                out[key] = "buffer"
        elif not _same(prints[1], prints[2]):
            out[key] = "attribute"
    return out
