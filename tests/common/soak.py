"""How many randomised trials a soak test runs: many locally, a short form in CI."""

from __future__ import annotations

import os


def soak_trials(default: int) -> int:
    """Number of trials; ``STOKER_SOAK_TRIALS`` overrides (``.ci/run`` sets a short form)."""
    raw = os.environ.get("STOKER_SOAK_TRIALS")
    if raw is None:
        return default
    value = int(raw)
    if value < 1:
        raise ValueError(f"STOKER_SOAK_TRIALS={raw!r} should be a positive integer")
    return value
