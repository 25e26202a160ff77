"""Writes the controller's state file off the round's critical path, keeping it crash-safe.

At 1,000 jobs the state's JSON takes about as long as the policy (tens of ms on a loaded machine), and a
round that waits for it holds every job's report behind it. The round hands its state (a fresh dict,
shared with nothing it will change) to :class:`StateWriter`; a thread writes the newest one it was handed
to a temporary file and renames it over the state file, so the file on disk is always one whole state: a
controller killed mid-write leaves the previous round's. States handed over faster than they are written
are skipped (only the newest matters). The thread lives while there is something to write: a service that
stops rounding leaves no thread behind.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("stoker")


def write_atomically(path: Path, state: dict[str, Any]) -> None:
    """Writes ``state`` as JSON to ``path`` through a temporary file and a rename (never a partial file)."""
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)


class StateWriter:
    """The newest state handed over is written by a background thread.

    Args:
        path: The state file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.failures = 0  # writes that raised (logged); the file keeps the last whole state
        self._cond = threading.Condition()
        self._pending: dict[str, Any] | None = None
        self._thread: threading.Thread | None = None

    def submit(self, state: dict[str, Any]) -> None:
        """Hands over a state to write (replacing one not yet written); returns at once."""
        with self._cond:
            self._pending = state
            if self._thread is None:
                self._thread = threading.Thread(target=self._drain, name="stoker-state-writer", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        """Waits until every state handed over is written (or failed)."""
        with self._cond:
            while self._thread is not None:
                self._cond.wait()

    def write(self, state: dict[str, Any]) -> None:
        """Writes ``state`` now in the caller's thread, after what was handed over; raises what the write raises."""
        self.flush()
        write_atomically(self.path, state)

    def _drain(self) -> None:
        while True:
            with self._cond:
                state, self._pending = self._pending, None
                if state is None:
                    self._thread = None
                    self._cond.notify_all()
                    return
            try:
                write_atomically(self.path, state)
            except Exception:  # a full disk must not stop the rounds: the file keeps the last whole state
                self.failures += 1
                log.exception("stoker: controller could not save its state to %s; keeps the last one", self.path)
