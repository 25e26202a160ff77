"""Traces with real values: every fx proxy carries the value it has on the example batch.

Plain ``torch.fx`` traces with shapeless proxies, so ``assert t <= block_size``, ``len(src)``,
``torch.zeros(x.size(0), ...)``, a buffer sliced by the sequence length or a loop over time steps
stop it. Here the step runs on the real example batch while it is traced (on a deep copy of the
program, so the user's parameters, buffers and random stream are untouched): shapes, lengths,
dtypes and devices are handed to Python as plain values, so that code *specialises* (the loop
unrolls, the mask is built for this length), and every such use is recorded as an
:class:`Assumption`. Module structure stays as with fx (``call_module`` nodes for library modules),
which the state rules read.

Values the program computes from the data (``if x.sum() > 0``, ``.item()``, ``int(t)``) are not
specialised: that would bake one batch's data into the graph. They stop the trace with a
:class:`TraceStop` naming the construct.
"""

from __future__ import annotations

import copy
import operator
import sys
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

import numpy as np
import torch
import torch.fx as fx
from torch import nn
from torch.overrides import TorchFunctionMode

from stoker.graph.checks import raise_only_branch
from stoker.graph.marks import mark_of

RANDOM_FUNCTIONS = frozenset(
    {
        torch.rand,
        torch.randn,
        torch.randint,
        torch.randperm,
        torch.rand_like,
        torch.randn_like,
        torch.randint_like,
        torch.bernoulli,
        torch.multinomial,
        torch.normal,
        torch.poisson,
    }
)

# Tensor attributes that do not depend on the data, only on shape and placement.
_STATIC = frozenset({"shape", "ndim", "dtype", "device", "is_cuda", "is_sparse", "layout", "is_floating_point"})
_SHAPE_METHODS = frozenset({"size", "dim", "numel", "nelement", "ndimension", "get_device", "is_contiguous"})
_MISSING = object()
LAYOUT = "stoker_layout"  # fx node meta key: (shape, stride) of the node's value on the example


class TraceStop(Exception):
    """The program did something the specialising tracer will not bake in.

    Args:
        kind: What it was (a key of :data:`stoker.graph.advice.ADVICE`).
        detail: The construct in words.
    """

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


@dataclass(frozen=True)
class Assumption:
    """One place where the trace used a concrete value of the example batch.

    Attributes:
        what: ``"x.size() = (4, 16)"``, ``"len(src) = 35"``, ``"iterate over 12 items"``.
        where: The user's line (``file:line  code``).
    """

    what: str
    where: str


def assign(tensor: torch.Tensor, key: Any, value: Any) -> torch.Tensor:
    """``tensor[key] = value`` without changing ``tensor``: a copy with the assignment (traced item assignment)."""
    out = tensor.clone()
    out[key] = value
    return out


class ValueProxy(fx.Proxy):
    """An fx proxy that knows its value on the example batch.

    Item assignment (``x[:, 1:] = y``) is recorded as a copy with the assignment (:func:`assign`) that this proxy then stands for, so later reads
    of ``x`` see the new value, as they would eagerly.
    """

    value: Any = _MISSING

    def __setitem__(self, key: Any, value: Any) -> None:
        target = self._known()
        if not isinstance(target, torch.Tensor):
            raise TraceStop("in_place", f"item assignment into {self.node.name}, a {type(target).__name__}")
        if self.node.op == "get_attr" or target._is_view():
            # A buffer written (state: it must change in place) or a view whose base would change too.
            what = "a buffer" if self.node.op == "get_attr" else "a view of another tensor"
            raise TraceStop("in_place", f"item assignment into {self.node.name}, {what}")
        new = self.tracer.create_proxy("call_function", assign, (self, key, value), {})
        self.node, self.value = new.node, new.value

    def _known(self) -> Any:
        if self.value is _MISSING:
            raise TraceStop("unknown", f"{self.node.name} has no example value")
        return self.value

    def __getattr__(self, k: str) -> Any:
        if k in _STATIC and isinstance(self.value, torch.Tensor):
            v = getattr(self.value, k)
            self.tracer.assume(f"{self.node.name}.{k} = {v}")  # type: ignore[attr-defined]
            return v
        value = self.__dict__.get("value", _MISSING)
        if isinstance(value, torch.Tensor):
            if not hasattr(value, k):  # as eagerly: hasattr(x, "jax") is False, not a proxy
                raise AttributeError(f"'Tensor' object has no attribute {k!r}")
            if not callable(getattr(value, k)):
                # A tensor property (x.T, x.mT): a value of its own, so len(x.T) and friends work.
                return self.tracer.create_proxy("call_function", getattr, (self, k), {})
        return super().__getattr__(k)

    def _shape_call(self, name: str, *args: Any) -> Any:
        v = getattr(self._known(), name)(*args)
        shown = ", ".join(map(repr, args))
        self.tracer.assume(f"{self.node.name}.{name}({shown}) = {tuple(v) if isinstance(v, torch.Size) else v}")  # type: ignore[attr-defined]
        return v

    def size(self, *args: Any) -> Any:
        return self._shape_call("size", *args)

    def dim(self) -> Any:
        return self._shape_call("dim")

    def numel(self) -> Any:
        return self._shape_call("numel")

    def nelement(self) -> Any:
        return self._shape_call("nelement")

    def ndimension(self) -> Any:
        return self._shape_call("ndimension")

    def get_device(self) -> Any:
        return self._shape_call("get_device")

    def __len__(self) -> int:
        n = len(self._known())
        self.tracer.assume(f"len({self.node.name}) = {n}")  # type: ignore[attr-defined]
        return n

    def __index__(self) -> int:
        raise TraceStop("value_to_python", f"{self.node.name} is used as a Python int (a value read from the data)")

    def __int__(self) -> int:
        raise TraceStop("value_to_python", f"int({self.node.name}) reads a value of the data into Python")

    def __float__(self) -> float:
        raise TraceStop("value_to_python", f"float({self.node.name}) reads a value of the data into Python")


def _fetch(root: Any, path: str) -> Any:
    obj = root
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


class ValueTracer(fx.Tracer):
    """fx's tracer with values: proxies carry their example value, shapes specialise.

    Args:
        example: The step's positional inputs on the example batch (the ``*args`` placeholder).
        leaf_paths: Module paths kept as single nodes.
    """

    def __init__(self, example: tuple[Any, ...], leaf_paths: Iterable[str] = ()) -> None:
        super().__init__()
        self.record_stack_traces = True
        # Buffers read as attributes become get_attr nodes, so an in-place update of one
        # (num_batches_tracked.add_(1) in a traced-through norm layer) is a node of the graph
        # instead of running once, at trace time, on the model.
        self.proxy_buffer_attributes = True
        self.leaf_paths = set(leaf_paths)
        self.example = example
        self.twin: nn.Module | None = None
        self.assumptions: list[Assumption] = []
        self._seen: set[str] = set()
        self._evaluating = 0
        self._modules: list[str] = []  # paths of the modules being traced through, innermost last
        self.break_path: str | None = None  # the innermost module the trace stopped in

    # -- what the program sees -------------------------------------------------------------
    def assume(self, what: str) -> None:
        """Records a concrete value handed to Python (once per distinct fact and line)."""
        where = _user_line()
        key = f"{what}@{where}"
        if key not in self._seen:
            self._seen.add(key)
            self.assumptions.append(Assumption(what, where))

    def iter(self, obj: fx.Proxy) -> Iterator[Any]:
        value: Any = getattr(obj, "value", _MISSING)
        if value is _MISSING or isinstance(value, (dict, set)):
            raise TraceStop("iterate", f"iterating over {obj.node.name}, whose length is unknown")
        self.assume(f"iterate over {obj.node.name}: {len(value)} items")
        item: Any = obj
        return iter([item[i] for i in range(len(value))])

    def to_bool(self, obj: fx.Proxy) -> bool:
        value = getattr(obj, "value", _MISSING)
        if obj.node.op == "call_function" and obj.node.target is torch._is_all_true and value is not _MISSING:
            # Argument validation (torch.distributions): `if not _is_all_true(ok): raise`. It only
            # raises, never changes the result, so it becomes a run-time check in the graph.
            if not bool(value):
                raise TraceStop("run", f"argument validation failed on the example batch at {_user_line()}")
            self.create_proxy("call_function", torch._assert, (obj, "stoker: argument validation failed"), {})
            return True
        if value is not _MISSING:
            taken = _bool_or_none(value)
            check = raise_only_branch(_caller_frame(), taken) if taken is not None else None
            if check is not None and taken is not None:
                # `if bad: raise ...` / `assert ok`: only the raising side depends on the data, so the
                # check becomes a run-time assertion in the graph and the trace goes on.
                ok = obj if taken else self.create_proxy("call_function", torch.logical_not, (obj,), {})
                self.create_proxy("call_function", torch._assert, (ok, f"stoker: check failed at {check}"), {})
                self.assume(f"{obj.node.name} is {taken} (a check that only raises, now asserted at run time)")
                return taken
        raise TraceStop(
            "branch", f"a Python `if`/`while`/`and` on the tensor {obj.node.name} (data-dependent control flow)"
        )

    def keys(self, obj: fx.Proxy) -> Any:
        value = getattr(obj, "value", _MISSING)
        if isinstance(value, dict):
            return list(value.keys())
        raise TraceStop("iterate", f"** or .keys() on {obj.node.name}, whose keys are unknown")

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        if module_qualified_name in self.leaf_paths or mark_of(m) is not None:
            return True
        return super().is_leaf_module(m, module_qualified_name)

    def call_module(self, m: nn.Module, forward: Any, args: Any, kwargs: Any) -> Any:
        if self._evaluating:  # computing a value: fx's patched Module.__call__ must not record it
            return forward(*args, **kwargs)
        try:
            path = self.path_of_module(m)
        except NameError:
            # Built inside forward (`loss_fct = CrossEntropyLoss()`): without state it is just
            # code, so trace through it; with parameters it would be new ones every step.
            if any(True for _ in m.parameters()) or any(True for _ in m.buffers()):
                raise TraceStop(
                    "module_not_installed", f"{type(m).__name__} with parameters or buffers is built inside forward"
                ) from None
            return forward(*args, **kwargs)
        self._modules.append(path)
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception:
            # The innermost module traced *through* (a leaf's failure belongs to its caller).
            if self.break_path is None and not self.is_leaf_module(m, path):
                self.break_path = path
            raise
        finally:
            self._modules.pop()

    def create_arg(self, a: Any) -> Any:
        if isinstance(a, np.generic):
            # A numpy scalar (`log_spec -= 10.0 * np.log10(...)`): fx would write it as
            # `np.float64(0.0)` in code that workers cannot load; it is a Python number to torch.
            return a.item()
        return super().create_arg(a)

    def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict[str, Any]) -> Any:
        if self._evaluating:
            return attr_val
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def proxy(self, node: fx.Node) -> fx.Proxy:
        return ValueProxy(node, self)

    # -- values ----------------------------------------------------------------------------
    def create_proxy(self, kind: str, target: Any, args: Any, kwargs: Any, *rest: Any, **more: Any) -> Any:
        proxy: Any = super().create_proxy(kind, target, args, kwargs, *rest, **more)
        if _is_batch_element(kind, target, args):
            value = self._evaluate(kind, target, args, kwargs)
            if not isinstance(value, torch.Tensor) and isinstance(value, _CONSTANT_TYPES):
                # A non-tensor batch entry (`return_loss=True`): a constant of the trace, so Python
                # can branch on it; a batch with another value runs unsplit (it is in the signature).
                self.assume(f"{proxy.node.name} = {value!r} (a constant of the batch)")
                self.graph.erase_node(proxy.node)
                return value
        try:
            proxy.value = self._evaluate(kind, target, args, kwargs)
        except TraceStop:
            raise
        except Exception as exc:
            raise TraceStop("run", f"running {kind} {getattr(target, '__name__', target)} failed: {exc}") from exc
        if isinstance(proxy.value, torch.Tensor):
            # The memory layout on the example: a value that crosses the cut arrives contiguous,
            # and some kernels (batch_norm's backward) give other numbers for another layout.
            proxy.node.meta[LAYOUT] = (tuple(proxy.value.shape), tuple(proxy.value.stride()))
        return proxy

    def _value_of(self, a: Any) -> Any:
        if isinstance(a, fx.proxy.Attribute):
            return getattr(self._value_of(a.root), a.attr)
        if isinstance(a, fx.Proxy):
            v = getattr(a, "value", _MISSING)
            if v is _MISSING:
                raise TraceStop("unknown", f"{a.node.name} has no example value")
            return v
        if isinstance(a, (list, tuple)):
            items = [self._value_of(x) for x in a]
            return type(a)(*items) if hasattr(a, "_fields") else type(a)(items)
        if isinstance(a, dict):
            return {k: self._value_of(v) for k, v in a.items()}
        if isinstance(a, slice):
            return slice(self._value_of(a.start), self._value_of(a.stop), self._value_of(a.step))
        return a

    def _evaluate(self, kind: str, target: Any, args: Any, kwargs: Any) -> Any:
        if kind == "placeholder":
            return self.example if str(target).startswith("*") else _MISSING
        if kind == "output":
            return None
        if kind == "get_attr":
            try:
                return _fetch(self.twin, target)
            except AttributeError:  # a constant fx added to the root while tracing
                return _fetch(self.root, target)
        a, kw = self._value_of(args), self._value_of(kwargs)
        self._evaluating += 1
        try:
            return self._run(kind, target, a, kw)
        finally:
            self._evaluating -= 1

    def _run(self, kind: str, target: Any, a: Any, kw: Any) -> Any:
        with torch.no_grad():
            if kind == "call_module":
                module: Any = _fetch(self.twin, target) if target else self.twin
                return module(*a, **kw)
            if kind == "call_method":
                return getattr(a[0], target)(*a[1:], **kw)
            return target(*a, **kw)

    def trace_values(self, root: nn.Module) -> fx.Graph:
        """Traces ``root`` on the example; a deep copy computes the values (the user's state is untouched)."""
        self.twin = copy.deepcopy(root)
        self.example = copy.deepcopy(self.example)  # item assignment must not write into the user's batch
        cuda = sorted({p.device.index or 0 for p in root.parameters() if p.device.type == "cuda"})
        # torch.distributions validates arguments with isinstance(value, Tensor) and data-dependent
        # checks that only ever raise; the traced step skips them (the eager step still runs them).
        validate = torch.distributions.Distribution._validate_args
        torch.distributions.Distribution.set_default_validate_args(False)
        try:
            with torch.random.fork_rng(devices=cuda), _RandomAsNodes(self):
                return self.trace(root)
        finally:
            torch.distributions.Distribution.set_default_validate_args(validate)


class _RandomAsNodes(TorchFunctionMode):
    """Records random factories called with Python shapes (``torch.randn(b, 20)``) as graph nodes.

    Without this they would run once while tracing and their numbers would be baked into the
    graph as a constant, the same "random" tensor every step.
    """

    def __init__(self, tracer: ValueTracer) -> None:
        super().__init__()
        self.tracer = tracer

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func in RANDOM_FUNCTIONS and not self.tracer._evaluating:
            flat = [*args, *kwargs.values()]
            if not any(isinstance(a, fx.Proxy) for a in flat) and kwargs.get("generator") is None:
                return self.tracer.create_proxy("call_function", func, args, kwargs)
        return func(*args, **kwargs)


_CONSTANT_TYPES = (bool, int, float, str, type(None))


def _is_batch_element(kind: str, target: Any, args: Any) -> bool:
    """``args[i]`` on the step's ``*args`` placeholder: one element of the batch."""
    if kind != "call_function" or target is not operator.getitem or not args:
        return False
    first = args[0]
    return isinstance(first, fx.Proxy) and first.node.op == "placeholder"


def _bool_or_none(value: Any) -> bool | None:
    try:
        return bool(value)
    except Exception:  # a tensor of several values: eager Python would fail here too
        return None


def _caller_frame() -> Any:
    """The frame that asked for ``bool(proxy)``: the first outside torch and stoker.graph."""
    from stoker.graph.trace import is_internal

    frame: FrameType | None = sys._getframe(1)
    while frame is not None and is_internal(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def _user_line() -> str:
    from stoker.graph.trace import user_frame

    return user_frame(traceback.extract_stack()[:-2])
