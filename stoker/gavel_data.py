"""Gavel's measured throughputs, read in one place for the cluster simulator and the GPU batch split.

The file ``gavel_isolated_throughputs.json`` holds stanford-futuredata/gavel's
``scheduler/simulation_throughputs.json`` (Narayanan et al., OSDI'20), wrapped as
``{"throughputs": ...}``: steps per second of each (job, scale factor) running alone on one GPU of
each type (K80, P100, V100).
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

from stoker.paths import data_file

GAVEL_FILE = "gavel_isolated_throughputs.json"

Throughputs = dict[str, dict[tuple[str, int], float]]


def load_throughputs(path: str | os.PathLike[str] | None = None) -> Throughputs:
    """GPU type -> (job name, scale factor) -> steps/s, read from the Gavel file.

    Args:
        path: The file; default :func:`stoker.paths.data_file` (``$STOKER_DATA_DIR``, ``../shared/data``,
            the cache, else the copy shipped in the package).

    Raises:
        FileNotFoundError: The file is missing; the message says where to get it.
    """
    path = Path(path) if path is not None else data_file(GAVEL_FILE)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found; set STOKER_DATA_DIR or pass the path. It is stanford-futuredata/gavel "
            "scheduler/simulation_throughputs.json wrapped as {'throughputs': ...}"
        )
    raw = json.loads(path.read_text())
    table = raw.get("throughputs", raw)
    # Keys are Python tuple literals like "('ResNet-50 (batch size 64)', 1)": parse them as data.
    return {gpu: {ast.literal_eval(k): float(v) for k, v in rows.items()} for gpu, rows in table.items()}
