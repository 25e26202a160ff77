"""The pipeline suite (one pipeline per module) and ``stoker bench pipelines``.

Pipelines: :mod:`.image`, :mod:`.augment`, :mod:`.text`, :mod:`.speech`, :mod:`.tabular`,
:mod:`.sensor` (see :mod:`.suite`); :mod:`.jpeg` holds the reference JPEG pipeline the older
benchmarks use. The benchmark itself is :mod:`.bench`.
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """``stoker bench pipelines``: see :mod:`stoker.bench.pipelines.bench`."""
    from stoker.bench.pipelines.bench import main as run

    return run(argv)
