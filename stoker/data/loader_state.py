"""The Loader's ``state_dict()`` and ``load_state_dict()``: where the stream stands, and resuming it anywhere.

A mixin of :class:`stoker.data.loader.Loader`, its only user, kept in its own file so that each part of the Loader
reads in one sitting. The attributes annotated on the class are the Loader's, set in its ``__init__``.
"""

from __future__ import annotations

from typing import Any

from stoker.data.dispatcher import Dispatcher
from stoker.data.fingerprint import check_fingerprint


class StreamState:
    """Saving and restoring the Loader's place in the stream (see :mod:`stoker.data.fingerprint`)."""

    seed: int
    _dispatcher: Dispatcher
    _resume: dict[str, Any] | None
    _current: tuple[int, list[Any], int] | None
    _epoch_complete: bool
    _epoch: int
    _fingerprint: dict[str, Any]
    _splits: Any

    def _draw_splits(self, state: dict[str, Any] | None, replay: bool = True) -> None:
        raise NotImplementedError  # the Loader's (iteration draws the sampler's splits)

    def state_dict(self) -> dict[str, Any]:
        """Where the stream stands: enough for a fresh Loader (any process) to continue it exactly."""
        d = self._dispatcher
        if self._resume is not None:
            return dict(self._resume)
        partial = None
        if self._current is not None and not self._epoch_complete:
            k, items, pos = self._current
            if pos < len(items):
                partial = (k, pos)  # that split is not fully consumed: resume it at item pos
        state = {
            "epoch": self._epoch,
            "complete": self._epoch_complete,
            "seed": self.seed,
            "dispatcher": d.state_dict(unfinished=partial[0] if partial else None),
            "partial": partial,
            "fingerprint": dict(self._fingerprint),
        }
        if self._splits is not None:
            state[self._splits.KEY] = self._splits.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Makes the next ``iter()`` continue the stream saved by :meth:`state_dict`.

        Raises:
            ValueError: The state belongs to another stream (other data, operators, shuffle,
                batch size, drop_last, seed, rank or world size); the message names the field.
                A different worker count or backend is fine.
        """
        for key in ("epoch", "complete", "seed", "dispatcher", "partial"):
            if key not in state:
                raise ValueError(f"not a stoker Loader state: missing {key!r}")
        check_fingerprint(state.get("fingerprint"), self._fingerprint)
        if state["seed"] != self.seed:
            raise ValueError(f"state was saved with seed={state['seed']} but this Loader has seed={self.seed}")
        if self._splits is not None and state["epoch"] >= 0:
            if self._splits.KEY not in state:
                raise ValueError(
                    f"the state has no {self._splits.KEY!r} entry; it was not saved by a sampler DataLoader"
                )
            self._draw_splits(state, replay=False)  # validates the sampler's identity
        if state["epoch"] >= 0 and not state["complete"]:
            self._dispatcher.delivered_from_state(state["dispatcher"])  # validates the shape
        if state["epoch"] < 0:
            self._resume = None
            self._epoch = -1
            return
        self._resume = dict(state)
