"""``@stoker.stateful``: the user's way to say "this holds state; keep it in the trainer".

Marking works on functions (pipeline functions or helpers called from ``forward``), on
``nn.Module`` classes and on callable objects. A marked helper called from ``forward`` is
recorded by ``torch.fx`` as one opaque node instead of being traced through, so its side
effects still happen on every call of the training half.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

MARK = "__stoker_stateful__"

T = TypeVar("T")


def _mark_function(fn: Callable[..., Any], reason: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import torch.fx

        # Record one call node rather than tracing into the body: the body's side effects would
        # otherwise happen once at trace time and never again.
        for value in (*args, *kwargs.values()):
            if isinstance(value, torch.fx.Proxy):
                return value.tracer.create_proxy("call_function", fn, args, kwargs)
        return fn(*args, **kwargs)

    setattr(fn, MARK, reason)
    setattr(wrapper, MARK, reason)
    return wrapper


def stateful(obj: T | None = None, *, reason: str = "marked @stoker.stateful") -> Any:
    """Marks a function, ``nn.Module`` class or callable object as holding state.

    Use it bare (``@stoker.stateful``) or with a reason (``@stoker.stateful(reason="counts calls")``)
    that :meth:`Plan.explain` shows.

    Args:
        obj: What to mark.
        reason: Why it is stateful, in the user's words.

    Returns:
        The marked object (a thin wrapper for plain functions, the object itself otherwise).
    """
    if obj is None:
        return functools.partial(stateful, reason=reason)
    if isinstance(obj, type):
        setattr(obj, MARK, reason)
        return obj
    if callable(obj) and hasattr(obj, "__code__"):
        return _mark_function(obj, reason)
    try:
        setattr(obj, MARK, reason)
    except AttributeError as exc:
        raise TypeError(
            f"@stoker.stateful cannot mark {obj!r} of type {type(obj).__name__}; mark its class or wrap it in a function"
        ) from exc
    return obj


def mark_of(obj: Any) -> str | None:
    """The reason ``obj`` (or its class) was marked stateful, or None."""
    reason = getattr(obj, MARK, None)
    return reason if isinstance(reason, str) else None
