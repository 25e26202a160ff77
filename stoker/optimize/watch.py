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

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from stoker.data.rng import sample_rngs


def _np_state() -> tuple[bytes, int, int, float]:
    # The legacy tuple: (name, key array of 624 words, pos, has_gauss, cached_gaussian).
    state: Any = np.random.get_state()
    return state[1].tobytes(), int(state[2]), int(state[3]), float(state[4])


def _generator_state(gen: Any) -> Any:
    if isinstance(gen, torch.Generator):
        return gen.get_state().numpy().tobytes()
    if isinstance(gen, np.random.Generator):
        return repr(gen.bit_generator.state)
    return id(gen)


@dataclass(frozen=True)
class Snapshot:
    """The generator states at one point of a sample's run (compare with :meth:`drew_since`)."""

    py: Any
    np: tuple[bytes, int, int, float]
    torch: bytes
    per_sample: dict[str, Any]

    @classmethod
    def take(cls) -> Snapshot:
        gens = {name: _generator_state(g) for name, g in sample_rngs().items()}
        return cls(random.getstate(), _np_state(), torch.default_generator.get_state().numpy().tobytes(), gens)

    def drew_since(self) -> bool:
        """Whether any watched generator moved (or a per-sample one was asked for) since this snapshot."""
        now = Snapshot.take()
        return now.per_sample != self.per_sample or now.torch != self.torch or now.np != self.np or now.py != self.py
