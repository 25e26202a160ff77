"""One save/load-state check that every stateful component runs through.

Like torchdata's ``run_test_save_load_state``: run a component uninterrupted to get the
reference stream, then for each checkpoint position take ``state_dict()`` there, round-trip it
through ``pickle`` (what a checkpoint file does), load it into a *fresh* component and check the
rest of the stream equals the reference.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol


class Stateful(Protocol):
    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def _default_equal(a: Any, b: Any) -> bool:
    import torch

    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_default_equal, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_default_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def run_test_save_load_state(
    factory: Callable[[], Stateful],
    advance: Callable[[Any], Any],
    steps: int,
    checkpoints: Iterable[int] | None = None,
    equal: Callable[[Any, Any], bool] = _default_equal,
    close: Callable[[Any], None] | None = None,
) -> None:
    """Checks that resuming from ``state_dict()`` continues the stream exactly.

    Args:
        factory: Builds a fresh component in its initial state.
        advance: Takes the component and returns its next observable output.
        steps: How many outputs make up the reference stream.
        checkpoints: Positions (number of outputs consumed) at which to save; default the start,
            the middle and the last step.
        equal: Compares two outputs.
        close: Releases a component (processes, shared memory) when done with it.
    """
    close = close or (lambda obj: None)
    ref_obj = factory()
    reference: Sequence[Any] = [advance(ref_obj) for _ in range(steps)]
    close(ref_obj)
    points = sorted(set(checkpoints if checkpoints is not None else (0, steps // 2, steps - 1)))
    for k in points:
        if not 0 <= k <= steps:
            raise ValueError(f"checkpoint {k=} should be within [0, {steps=}]")
        first = factory()
        for _ in range(k):
            advance(first)
        state = pickle.loads(pickle.dumps(first.state_dict()))
        close(first)
        resumed = factory()
        resumed.load_state_dict(state)
        rest = [advance(resumed) for _ in range(steps - k)]
        close(resumed)
        for i, (got, want) in enumerate(zip(rest, reference[k:], strict=True)):
            if not equal(got, want):
                raise AssertionError(f"resumed at {k=}: output {k + i} differs: {got!r} != {want!r}")


class LoaderStream:
    """A Loader seen as one endless stream of items across epochs, for :func:`run_test_save_load_state`."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.it: Any = None

    def state_dict(self) -> dict[str, Any]:
        return self.loader.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.loader.load_state_dict(state)

    def next(self) -> Any:
        while True:
            if self.it is None:
                self.it = iter(self.loader)
            try:
                return next(self.it)
            except StopIteration:
                self.it = None
