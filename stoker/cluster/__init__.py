"""Cluster scheduling: policies as pure functions of plain records (:mod:`stoker.cluster.policies`), a
trace-driven simulator that runs them (:mod:`stoker.cluster.simulator`), and the live controller on Ray
(:mod:`stoker.cluster.controller`)."""
