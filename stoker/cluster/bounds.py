"""Bounds on what a scheduler can reach on a trace slice, to judge the policies' figures against.

Two different limits, both reported by ``stoker bench cluster``:

- the **oracle** (:class:`~stoker.cluster.simulator.SimConfig` ``oracle=True``, a simulation): the same
  placement and FIFO queueing as ``elastic`` (its floors), every job at its true curve's peak whatever its
  CPUs. It is the best any *CPU policy* can do under that placement and queueing, not the best any
  scheduler can do: a different placement or queue order can beat it.
- the **no-queue ideal** (:func:`no_queue_ideal_jct`, no simulation): every GPU job starts at its arrival,
  on the fastest GPU type it may use in the slice, at its curve's peak. No scheduler of any kind beats it;
  the gap between it and the oracle is queueing and placement, which no CPU policy can remove.
"""

from __future__ import annotations

from collections.abc import Sequence

from stoker.cluster.profiles import Profiles
from stoker.cluster.records import Node
from stoker.cluster.trace import TraceJob


def no_queue_ideal_jct(jobs: Sequence[TraceJob], nodes: Sequence[Node], profiles: Profiles) -> tuple[float, ...]:
    """Each GPU job's completion time (seconds) with no queue, at its peak, on its fastest allowed GPU type.

    A job's trace duration is its run time at its requested CPUs on the reference GPU (speed 1), so at its
    curve's peak on a GPU type of relative speed ``s`` it runs ``duration * curve(requested) / (peak * s)``.
    Jobs no GPU type of ``nodes`` allows are left out (the simulator drops them too).
    """
    types = {n.gpu_type for n in nodes if n.gpus > 0}
    out = []
    for job in jobs:
        if job.gpus <= 0:
            continue
        allowed = [t for t in types if not job.gpu_types or t in job.gpu_types]
        if not allowed:
            continue
        speed = max(float(profiles.speeds.get(job.model, {}).get(t, 1.0)) for t in allowed)
        curve = profiles.curve(job.model, job.gpus)
        requested = curve(job.cpus / job.gpus)
        out.append(job.duration_s * requested / (curve.peak * speed) if curve.peak > 0 else job.duration_s)
    return tuple(out)
