"""How a batch maps to the step: which elements the model reads, which the loss reads, what the trainer carries.

A batch is a tensor, a tuple/list, a mapping (a dict, transformers' ``BatchEncoding``) or a
dataclass of tensors; non-tensor entries (``return_loss=True``) are constants of the trace. Its elements cross the cut
in a fixed order (:attr:`BatchSpec.keys`); the model receives :attr:`BatchSpec.inputs`
(positionally for a tuple, as keyword arguments for a dict or dataclass) and the loss receives
the model's output followed by :attr:`BatchSpec.targets`. An element both read (an autoencoder's
input, a style-transfer loss's content image) is one value and crosses once.

State the trainer carries from step to step (an RNN's hidden state) is declared with
:func:`carry`: it is passed to the model as keyword arguments, never comes from the data side,
and the model's output is ``(output, *new_state)``, the new state kept for the next step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

TARGET_KEYS = ("target", "targets", "label", "labels", "y")


@dataclass(frozen=True)
class BatchSpec:
    """The batch's layout and what the model and the loss read from it.

    Attributes:
        kind: ``"tensor"``, ``"tuple"``, ``"dict"`` or ``"dataclass"``.
        keys: Every element, in crossing order (indices for a tuple, names otherwise).
        inputs: Elements passed to the model.
        targets: Elements passed to the loss after the model's output.
        cls: The dataclass type (for ``kind="dataclass"``).
    """

    kind: str
    keys: tuple[Any, ...]
    inputs: tuple[Any, ...]
    targets: tuple[Any, ...]
    cls: type | None = None

    @property
    def keyword(self) -> bool:
        """The model takes the inputs as keyword arguments (dict and dataclass batches)."""
        return self.kind in ("dict", "dataclass")

    def elements(self, batch: Any) -> tuple[Any, ...]:
        """The batch's elements in crossing order."""
        if self.kind == "tensor":
            return (batch,)
        if self.kind == "dataclass":
            return tuple(getattr(batch, k) for k in self.keys)
        return tuple(batch[k] for k in self.keys)

    def label(self, key: Any) -> str:
        return f"batch[{key!r}]" if self.keyword else f"batch[{key}]"


def _as_keys(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def spec_of(batch: Any, has_loss: bool, inputs: Any = None, target: Any = None) -> BatchSpec:
    """The layout of ``batch`` with the user's ``inputs=`` and ``target=`` choices applied.

    Defaults: a tuple's last element is the target (with a loss), the others the model's inputs;
    a dict's or dataclass's target is its ``target``/``label(s)``/``y`` field, the others are
    keyword inputs.

    Raises:
        ValueError: When a named element is not in the batch or the loss would get no target.
    """
    keys: tuple[Any, ...]
    if isinstance(batch, torch.Tensor):
        kind, keys = "tensor", (0,)
    elif isinstance(batch, (tuple, list)):
        kind, keys = "tuple", tuple(range(len(batch)))
    elif isinstance(batch, Mapping):  # a dict, or transformers' BatchEncoding (a UserDict)
        kind, keys = "dict", tuple(batch)
    elif dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        kind, keys = "dataclass", tuple(f.name for f in dataclasses.fields(batch))
    else:
        raise TypeError(
            f"the batch is a {type(batch).__name__}; stoker.partition reads tensors, tuples, dicts and "
            f"dataclasses of tensors: end the pipeline with a map that returns one of those"
        )
    targets = _as_keys(target)
    if target is None and has_loss:
        if kind == "tuple":
            targets = keys[-1:] if len(keys) > 1 else ()
        elif kind in ("dict", "dataclass"):
            targets = tuple(k for k in keys if k in TARGET_KEYS)[:1]
        if not targets:
            raise ValueError(
                f"with loss_fn the batch should say what the loss compares against: got a {kind} with "
                f"element(s) {list(keys)}; pass target=<index or key> (target=0 for a loss that reads the "
                f"model's input, target=() for none), or loss_fn=None"
            )
    picked = _as_keys(inputs) if inputs is not None else tuple(k for k in keys if k not in targets)
    for name, chosen in (("inputs", picked), ("target", targets)):
        missing = [k for k in chosen if k not in keys]
        if missing:
            raise ValueError(f"{name}={missing} names no element of the batch; its elements are {list(keys)}")
    if not picked:
        raise ValueError(f"the model would get no input: the batch's elements are {list(keys)}; pass inputs=")
    cls = type(batch) if kind == "dataclass" else None
    return BatchSpec(kind, keys, picked, targets, cls)


def signature(value: Any) -> Any:
    """Shapes and dtypes of every tensor in ``value`` (what a specialised trace depends on)."""
    if isinstance(value, torch.Tensor):
        return (tuple(value.shape), str(value.dtype))
    if isinstance(value, (tuple, list)):
        return tuple(signature(v) for v in value)
    if isinstance(value, Mapping):
        return tuple((k, signature(v)) for k, v in value.items())
    if isinstance(value, (bool, int, float, str, type(None))):
        return value  # a constant of the trace (`return_loss=True`): another value runs unsplit
    return type(value).__name__


class Unsplit(NamedTuple):
    """Sent instead of the cut's values when a batch breaks the trace's assumptions: its elements, unsplit."""

    elements: tuple[Any, ...]


class Carry:
    """State the trainer carries between steps; it stays in the trainer and never crosses the cut.

    Read and set it by name (``state.hidden``); the training half reads it on every step and
    writes the model's new state back.

    Args:
        **state: Name -> initial value (tensors or tuples of tensors), passed to the model as
            keyword arguments.
    """

    def __init__(self, **state: Any) -> None:
        if not state:
            raise ValueError("stoker.carry() needs at least one name=value, e.g. stoker.carry(hidden=h0)")
        object.__setattr__(self, "_state", dict(state))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._state)

    def values(self) -> tuple[Any, ...]:
        return tuple(self._state.values())

    def update(self, values: Sequence[Any]) -> None:
        """Keeps the model's new state (in :attr:`names` order)."""
        for name, value in zip(self.names, values, strict=True):
            self._state[name] = value

    def state_dict(self) -> dict[str, Any]:
        """The carried values, detached (what a checkpoint saves to resume mid-sequence)."""
        return {name: _detached(value) for name, value in self._state.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores the values of :meth:`state_dict`; the names must match."""
        if set(state) != set(self._state):
            raise ValueError(f"carry state has {sorted(state)}, this carry holds {sorted(self._state)}")
        self._state.update({name: _detached(value) for name, value in state.items()})

    def __getattr__(self, name: str) -> Any:
        state = object.__getattribute__(self, "_state")
        if name in state:
            return state[name]
        raise AttributeError(f"carry has no {name!r}; it holds {list(state)}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._state:
            raise AttributeError(f"carry has no {name!r}; it holds {list(self._state)}")
        self._state[name] = value

    def __repr__(self) -> str:
        return f"stoker.carry({', '.join(self.names)})"


def _detached(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (tuple, list)):
        return type(value)(_detached(v) for v in value)
    return value


def carry(**state: Any) -> Carry:
    """Declares state the trainer carries between steps (an RNN's hidden state); see :class:`Carry`."""
    return Carry(**state)
