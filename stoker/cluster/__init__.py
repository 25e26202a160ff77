"""Cluster scheduling: policies as pure functions of plain records (:mod:`stoker.cluster.policies`), one way
to learn curves from job reports (:mod:`stoker.cluster.learning`), a trace-driven simulator that runs both
(:mod:`stoker.cluster.simulator`), and the live controller (:mod:`stoker.cluster.controller`) as a service
on Ray that Loaders join (:mod:`stoker.cluster.service`, :mod:`stoker.cluster.daemon`,
:mod:`stoker.cluster.membership`)."""
