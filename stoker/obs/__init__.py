"""Observation of running jobs: Prometheus metrics, the JSONL timeline, TensorBoard scalars,
the bottleneck diagnosis, ``stoker top``, the web dashboard and ``stoker report``'s plots."""

from stoker.obs.diagnose import Advice, Diagnosis, diagnose

__all__ = ["Advice", "Diagnosis", "diagnose"]
