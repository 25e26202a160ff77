"""Where the measured traces and profiles live (see BRIEF: ../shared/data beside the checkout)."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """``$STOKER_DATA_DIR``, else ``<repo>/../shared/data`` (or one level up, for a git worktree).

    Users get the files from the public repositories named in docs/simulator.md
    (alibaba/clusterdata, msr-fiddle/synergy, stanford-futuredata/gavel) and point
    ``STOKER_DATA_DIR`` or the commands' path arguments at them.
    """
    env = os.environ.get("STOKER_DATA_DIR")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[1]
    candidates = [repo.parent / "shared" / "data", repo.parent.parent / "shared" / "data"]
    return next((c for c in candidates if c.is_dir()), candidates[0])
