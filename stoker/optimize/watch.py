"""Sees whether a step of a sample's run drew from a random number generator.

Autocache watches every sample it fills (the source read and each cached operator, see
:mod:`stoker.optimize.cached_source`) and never caches a sample whose cached part drew. A draw is
seen when, across the step, one of these changed:

- the global ``random`` state (``random.getstate()``);
- the global ``numpy.random`` state (the legacy ``RandomState`` every ``np.random.*`` call uses);
- torch's default CPU generator (``torch.default_generator``);
- a per-sample generator (:func:`stoker.sample_rng`, :func:`stoker.sample_generator`) was asked
  for, or one asked for earlier moved.

Not seen (declare such a function with ``mark(fn, random=True)``): OS entropy (``os.urandom``,
``secrets``, ``uuid4``, ``/dev/urandom``), a generator the function owns (``np.random.default_rng()``
made inside it, a ``random.Random`` instance, a CUDA generator), the clock, the network, files or
any other state outside the sample that changes between epochs.
"""

from __future__ import annotations

import ctypes
import random
import struct
from typing import Any

import numpy as np
import torch

from stoker.data.rng import sample_rngs

_MT_WORDS = 624
_MT_BYTES = 4 * _MT_WORDS + 4  # Mersenne Twister: 624 state words and the position in them


def _slow_py() -> Any:
    return random.getstate()


def _slow_np() -> Any:
    state: Any = np.random.get_state()
    return state[1].tobytes(), int(state[2]), int(state[3]), float(state[4])


# (object, its Mersenne Twister state as a ctypes array over the object's own memory): made once per
# generator object, so a snapshot is one C call (``.raw``, a 2.5 kB copy) per generator. ctypes'
# string_at costs ~4x more per call, and on a cache made cold by the sample's own work each Python
# call in a snapshot costs microseconds, twice per cached sample.
_PY_VIEW: list[Any] = [None, None]
_NP_VIEW: list[Any] = [None, None]


def _fast_py() -> Any:
    # CPython's random object: header, then int index, then uint32 state[624]. A copy of those
    # bytes takes ~1 us where getstate() builds a 625-int tuple (~5-35 us); gauss() keeps a
    # cached second value in a Python attribute.
    inst = random._inst  # type: ignore[attr-defined]
    if _PY_VIEW[0] is not inst:
        _PY_VIEW[:] = [inst, (ctypes.c_char * _MT_BYTES).from_address(id(inst) + object.__basicsize__)]
    return _PY_VIEW[1].raw, getattr(inst, "gauss_next", None)


def _fast_np() -> Any:
    # numpy's legacy generator keeps its MT19937 state (key[624], pos) at a fixed address.
    gen = np.random.mtrand._rand._bit_generator
    if _NP_VIEW[0] is not gen:
        _NP_VIEW[:] = [gen, (ctypes.c_char * _MT_BYTES).from_address(gen.ctypes.state_address)]
    return _NP_VIEW[1].raw


def _fast_readers_work() -> bool:
    """Whether the raw-memory readers see the same states as getstate()/get_state() (checked once)."""
    try:
        raw, _ = _fast_py()
        index, *words = struct.unpack(f"<i{_MT_WORDS}I", raw)
        py = random.getstate()[1]
        np_raw = _fast_np()
        np_state: Any = np.random.get_state()
        return (
            index == py[-1]
            and tuple(words) == py[:-1]
            and np_raw[: 4 * _MT_WORDS] == np_state[1].astype("<u4").tobytes()
            and struct.unpack_from("<i", np_raw, 4 * _MT_WORDS)[0] == int(np_state[2])
        )
    except Exception:  # another interpreter or numpy layout: use the portable readers
        return False


_py_state, _np_state = (_fast_py, _fast_np) if _fast_readers_work() else (_slow_py, _slow_np)


def _generator_state(gen: Any) -> Any:
    if isinstance(gen, torch.Generator):
        return gen.get_state().numpy().tobytes()
    if isinstance(gen, np.random.Generator):
        return repr(gen.bit_generator.state)
    return id(gen)


def _states() -> tuple[Any, ...]:
    gens = {name: _generator_state(g) for name, g in sample_rngs().items()}
    return gens, torch.default_generator.get_state().numpy().tobytes(), _np_state(), _py_state()


class Snapshot:
    """The generator states at one point of a sample's run (compare with :meth:`drew_since`).

    About 3 us to take on a warm cache and 20-25 us right after a sample's own work has made it
    cold, most of it torch's ``get_state()`` (CPython's and numpy's Mersenne Twister states are
    copied from memory, one C call each, checked once against their portable readers).
    """

    __slots__ = ("states",)

    def __init__(self, states: tuple[Any, ...]) -> None:
        self.states = states

    @classmethod
    def take(cls) -> Snapshot:
        return cls(_states())

    def drew_since(self) -> bool:
        """Whether any watched generator moved (or a per-sample one was asked for) since this snapshot."""
        return _states() != self.states
