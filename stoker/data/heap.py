"""Keeps a data worker's garbage collector off the heap it inherited.

A worker forked from the trainer (or from its template, :mod:`stoker.backends.template`) starts
with the trainer's whole heap: torch, numpy, scipy and the user's modules, about 200,000 objects
in the suite's pipelines. CPython's first full collection in the worker walks every one of them:
about 110 ms per worker in the first epoch on this project's 2-core machine (a quarter of a
256-sample epoch), and it writes each object's collector header, so every page it touches is
copied and stops being shared with the trainer. Nothing the worker inherited becomes garbage
there that the worker would need back, so it is moved out of the collector's reach once, when the
pipeline is loaded (the remedy the :func:`gc.freeze` documentation gives for fork without exec).
A worker started fresh (spawn, forkserver, a Ray actor) gains the same for its imports and its
unpickled pipeline.
"""

from __future__ import annotations

import gc


def freeze_inherited() -> None:
    """Moves every object tracked now into the permanent generation (constant time: the
    collector's lists are spliced, no object is visited; :func:`gc.get_freeze_count` would visit
    them all, 17 ms and the same copied pages, so it is not called here).

    Objects made afterwards are collected as usual. A reference cycle among the frozen objects
    that the worker later drops is never collected in that worker (its memory was the trainer's
    shared pages anyway).
    """
    gc.freeze()
