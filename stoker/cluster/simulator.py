"""Event-driven, trace-driven cluster simulator that runs the very policies the live controller runs.

Between two events (an arrival or a completion) every allocation and so every job's rate is constant, so
the simulator jumps from event to event and re-runs the placement and CPU policies at each one. A job's
trace duration is its run time at its requested CPUs on a reference (V100-class) GPU; under another
allocation it progresses at ``speed(GPU type) * curve(CPUs per GPU) / curve(requested CPUs per GPU)``
using its *true* profile, while the policies only see the curve the job learned from noisy measurements.

Learning is the live controller's own code (:class:`stoker.cluster.learning.CurveBook`): between two
events every running job sends a :class:`~stoker.cluster.learning.JobReport` made from the trace (its true
throughput with measurement noise, and its data wait, the fraction of the time its GPUs idle at its CPUs).
Jobs that no node of the cluster could ever hold (GPUs of an allowed type, memory, the policy's CPU floor)
are dropped at arrival and counted, never left waiting forever.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from stoker.cluster.curve import Curve
from stoker.cluster.learning import CurveBook, JobReport
from stoker.cluster.policies import Capacity, CpuParams, cpu_policy, placement_policy
from stoker.cluster.profiles import Profiles
from stoker.cluster.records import ClusterView, Job, Node
from stoker.cluster.trace import TraceJob

EPS = 1e-9


@dataclass(frozen=True)
class SimConfig:
    """What to simulate.

    Attributes:
        policy: CPU policy name (``static``, ``proportional``, ``synergy``, ``elastic``).
        placement: Placement policy name (``fifo``, ``gavel``).
        seed: Seeds measurement noise.
        noise: Relative standard deviation of a throughput measurement.
        params: Knobs of the CPU policies.
        oracle: The limit: same placement and queueing (``policy``'s floors), but every job runs at its
            curve's peak whatever its CPUs (and holds only its floor); the result is named ``oracle``.
        report_period_s: Simulated seconds between two reports of one job (a live controller's round);
            a job reports at the first event at least this long after its last report.
        round_s: Simulated seconds between two policy rounds besides arrivals and completions (0: at
            those events only, as for a trace whose events are minutes apart). A live controller re-runs
            its policy every period; the fidelity check (``stoker bench cluster_fidelity``) sets both
            this and ``report_period_s`` to the live period.
    """

    policy: str = "elastic"
    placement: str = "fifo"
    seed: int = 0
    noise: float = 0.05
    params: CpuParams = field(default_factory=CpuParams)
    oracle: bool = False
    report_period_s: float = 60.0
    round_s: float = 0.0


@dataclass
class RunningJob:
    """A job (GPU job or CPU-only pod) that holds resources now.

    Attributes:
        node: Node its trainer (or pod) sits on.
        work: Seconds of trace run time left at rate 1.
        floor: CPUs it holds on its node whatever the CPU policy lends it (the admission floor).
        alloc: Node name -> CPUs its data workers have this interval.
        rate: Progress per second (1 = its trace speed).
        eff: Effective CPUs: ``alloc`` with remote CPUs discounted by ``remote_cost``.
        reported_s: When it last reported, simulated seconds (its start before the first report).
        reports: Reports it sent so far.
    """

    node: str
    work: float
    floor: float
    alloc: dict[str, float] = field(default_factory=dict)
    rate: float = 0.0
    eff: float = 0.0
    reported_s: float = 0.0
    reports: int = 0


@dataclass(frozen=True)
class SimResult:
    """Figures of one run; ``summary()`` is the JSON line of ``stoker simulate``.

    Attributes:
        jct_s: Completion minus arrival per GPU job, seconds.
        makespan_s: Last completion, seconds from the trace start.
        gpu_util: Useful GPU work (GPU-seconds times the fraction of peak throughput) over GPU capacity
            times the makespan.
        cpu_util: CPU-seconds allocated (data workers and CPU-only pods) over CPU capacity times makespan.
        samples: Rows (time s, busy GPUs, allocated GPUs, allocated CPUs) at each event, for plots.
        dropped: Jobs no node of the cluster could ever hold, left out at arrival.
    """

    policy: str
    jct_s: tuple[float, ...]
    makespan_s: float
    gpu_util: float
    cpu_util: float
    samples: tuple[tuple[float, float, float, float], ...]
    dropped: int = 0

    def busy_fraction(self, start_s: float, end_s: float, gpus: float) -> float:
        """Useful GPU work within [start_s, end_s] over ``gpus`` times that span (from the samples)."""
        if end_s <= start_s or gpus <= 0 or not self.samples:
            return 0.0
        s = np.asarray(self.samples)
        t = np.clip(np.append(s[:, 0], max(end_s, s[-1, 0])), start_s, end_s)
        return float(np.sum(s[:, 1] * np.diff(t)) / (gpus * (end_s - start_s)))

    def summary(self) -> dict[str, Any]:
        jct = np.asarray(self.jct_s)
        return {
            "policy": self.policy,
            "jobs": int(jct.size),
            "avg_jct_s": round(float(jct.mean()), 1) if jct.size else 0.0,
            "p99_jct_s": round(float(np.percentile(jct, 99)), 1) if jct.size else 0.0,
            "makespan_s": round(self.makespan_s, 1),
            "gpu_util": round(self.gpu_util, 4),
            "cpu_util": round(self.cpu_util, 4),
            "dropped": self.dropped,
        }


class Simulator:
    """Replays ``jobs`` on ``nodes`` under one policy pair; stateful, resumable via ``state_dict``.

    Args:
        nodes: The cluster.
        jobs: Trace jobs sorted by arrival (GPU jobs and CPU-only pods).
        profiles: True curves and per-GPU-type speeds, by model.
        config: Policies, seed and noise.
    """

    def __init__(self, nodes: Sequence[Node], jobs: Sequence[TraceJob], profiles: Profiles, config: SimConfig) -> None:
        if config.noise < 0:
            raise ValueError(f"noise={config.noise} should be >= 0")
        if config.round_s < 0:
            raise ValueError(f"round_s={config.round_s} should be >= 0 simulated seconds (0: events only)")
        if config.report_period_s < 0:
            raise ValueError(f"report_period_s={config.report_period_s} should be >= 0 simulated seconds")
        self.nodes = tuple(nodes)
        self.jobs = list(jobs)
        self.by_name = {j.name: j for j in self.jobs}
        self.config = config
        self.cpu = cpu_policy(config.policy)
        self.place = placement_policy(config.placement)
        self.true_curve: dict[str, Curve] = {}
        self.speeds = profiles.speeds
        for j in self.jobs:
            if j.gpus > 0:
                self.true_curve[j.name] = profiles.curve(j.model, j.gpus)
        # Curves are learned on the grid the profiles were measured at.
        self.grid = tuple(sorted({x for c in self.true_curve.values() for x in c.xs})) or (1.0,)
        self._index = {n.name: i for i, n in enumerate(self.nodes)}
        self._queued: dict[str, Job] = {}
        self._records: dict[str, Job] = {}
        self._node = {n.name: n for n in self.nodes}
        self._node_cpus = np.array([float(n.cpus) for n in self.nodes])
        self._node_gpus = np.array([float(n.gpus) for n in self.nodes])
        self._node_mem = np.array([float(n.memory_mib) for n in self.nodes])
        self._node_types = np.array([n.gpu_type for n in self.nodes])
        self.gpu_capacity = float(sum(n.gpus for n in self.nodes))
        self.cpu_capacity = float(sum(n.cpus for n in self.nodes))
        self._reset()

    # ---- state -------------------------------------------------------------------------------------
    def _reset(self) -> None:
        self.t = 0.0
        self.next_arrival = 0
        self.queue: list[str] = []
        self.cpu_queue: list[str] = []
        self.running: dict[str, RunningJob] = {}
        self.book = CurveBook(self.grid)
        self.finished: dict[str, float] = {}
        self.dropped: list[str] = []
        self.gpu_free = np.array([float(n.gpus) for n in self.nodes])
        self.cpu_free = np.array([float(n.cpus) for n in self.nodes])
        self.mem_free = np.array([float(n.memory_mib) for n in self.nodes])
        self.reserved: dict[str, float] = {}
        self.useful_gpu_s = 0.0
        self.cpu_s = 0.0
        self.samples: list[tuple[float, float, float, float]] = []
        self.rng = np.random.default_rng(self.config.seed)

    def state_dict(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "next_arrival": self.next_arrival,
            "queue": list(self.queue),
            "cpu_queue": list(self.cpu_queue),
            "running": {k: {**asdict(v), "alloc": dict(v.alloc)} for k, v in self.running.items()},
            "book": self.book.state_dict(),
            "finished": dict(self.finished),
            "dropped": list(self.dropped),
            "gpu_free": self.gpu_free.tolist(),
            "cpu_free": self.cpu_free.tolist(),
            "mem_free": self.mem_free.tolist(),
            "reserved": dict(self.reserved),
            "useful_gpu_s": self.useful_gpu_s,
            "cpu_s": self.cpu_s,
            "samples": list(self.samples),
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.t, self.next_arrival = state["t"], state["next_arrival"]
        self.queue, self.cpu_queue = list(state["queue"]), list(state["cpu_queue"])
        self.running = {k: RunningJob(**{**v, "alloc": dict(v["alloc"])}) for k, v in state["running"].items()}
        self.book = CurveBook(self.grid)
        self.book.load_state_dict(state["book"])
        self.finished = dict(state["finished"])
        self.dropped = list(state["dropped"])
        self.gpu_free = np.array(state["gpu_free"])
        self.cpu_free = np.array(state["cpu_free"])
        self.mem_free = np.array(state["mem_free"])
        self.reserved = dict(state["reserved"])
        self.useful_gpu_s, self.cpu_s = state["useful_gpu_s"], state["cpu_s"]
        self.samples = [tuple(s) for s in state["samples"]]  # type: ignore[misc]
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = state["rng"]

    # ---- one event ---------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.next_arrival >= len(self.jobs) and not self.running and not self.queue and not self.cpu_queue

    def step(self) -> float:
        """Advances to the next event and re-runs the policies there; returns the new time, seconds."""
        if self.done:
            return self.t
        t_arr = self.jobs[self.next_arrival].arrival_s if self.next_arrival < len(self.jobs) else math.inf
        t_fin = min((self.t + r.work / r.rate for r in self.running.values() if r.rate > 0), default=math.inf)
        t_round = self.t + self.config.round_s if self.config.round_s > 0 and self.running else math.inf
        t_next = min(t_arr, t_fin, t_round)
        if math.isinf(t_next):
            stuck = self.queue[:3] + self.cpu_queue[:3]
            # Unreachable while _admit drops what no node can hold; kept as a guard against a policy bug.
            raise RuntimeError(f"simulation stuck at t={self.t}: jobs {stuck} can never be placed")
        self._advance(t_next - self.t)
        self.t = t_next
        self._complete()
        while self.next_arrival < len(self.jobs) and self.jobs[self.next_arrival].arrival_s <= self.t:
            job = self.jobs[self.next_arrival]
            self.next_arrival += 1
            if not self._can_ever_hold(job):
                self.dropped.append(job.name)
                continue
            (self.queue if job.gpus > 0 else self.cpu_queue).append(job.name)
        self._schedule()
        return self.t

    def _can_ever_hold(self, job: TraceJob) -> bool:
        """Whether some node, empty, could hold ``job``: else it would wait forever."""
        mem = self._node_mem >= job.memory_mib
        cpus, gpus = self._node_cpus, self._node_gpus
        if job.gpus <= 0:
            return bool(np.any(mem & (cpus >= job.cpus - EPS)))
        need = self.cpu.floor(self._queued_record(job.name), cpus, gpus, self.config.params)
        allowed = (gpus > 0) & (np.isin(self._node_types, job.gpu_types) if job.gpu_types else True)
        ok = allowed & (gpus >= job.gpus - EPS) & mem & (cpus >= need - EPS)
        if not ok.any():
            self._queued.pop(job.name, None)
        return bool(ok.any())

    def _advance(self, dt: float) -> None:
        if dt <= 0:
            return
        busy = alloc_cpus = 0.0
        now = self.t + dt
        for name, run in self.running.items():
            job = self.by_name[name]
            run.work -= run.rate * dt
            if job.gpus > 0:
                busy += job.gpus * self._utilisation(name, run)
                if now - run.reported_s >= self.config.report_period_s:
                    run.reported_s = now
                    run.reports += 1
                    self.book.learn(self._report(job, run))
            alloc_cpus += sum(run.alloc.values())
        self.useful_gpu_s += busy * dt
        self.cpu_s += alloc_cpus * dt

    def _utilisation(self, name: str, run: RunningJob) -> float:
        if self.config.oracle:
            return 1.0
        return self.true_curve[name].utilisation(run.eff / self.by_name[name].gpus)

    def _report(self, job: TraceJob, run: RunningJob) -> JobReport:
        # What the job's trainer would report over the interval: its true throughput times multiplicative
        # measurement noise, and the fraction of the time its GPUs waited on data.
        x = run.eff / job.gpus
        curve = self.true_curve[job.name]
        noisy = max(0.0, curve(x) * (1.0 + self.config.noise * float(self.rng.standard_normal())))
        return JobReport(job.name, run.node, job.gpus, noisy, 1.0 - curve.utilisation(x), run.eff)

    def _complete(self) -> None:
        for name in [n for n, r in self.running.items() if r.work <= 1e-6 * max(1.0, r.rate)]:
            run = self.running.pop(name)
            job = self.by_name[name]
            i = self._index[run.node]
            self.gpu_free[i] += job.gpus
            self.cpu_free[i] += run.floor
            self.mem_free[i] += job.memory_mib
            if job.gpus == 0:
                self.reserved[run.node] -= run.floor
            else:
                self.book.forget(name)
                self._records.pop(name, None)
            self.finished[name] = self.t

    # ---- policies ----------------------------------------------------------------------------------
    def _record(self, job: TraceJob) -> Job:
        # Rebuilt only when the job's learned curve changed (the book hands out the same Curve until then).
        curve = self.book.curve(job.name)
        cached = self._records.get(job.name)
        if cached is not None and cached.curve is curve:
            return cached
        rec = self._records[job.name] = self._new_record(job, curve)
        return rec

    def _new_record(self, job: TraceJob, curve: Curve) -> Job:
        return Job(
            name=job.name,
            gpus=job.gpus,
            cpus=job.cpus,
            memory_mib=job.memory_mib,
            arrival_s=job.arrival_s,
            gpu_types=job.gpu_types,
            curve=curve,
            speeds=self.speeds.get(job.model, {}),
        )

    def _queued_record(self, name: str) -> Job:
        # A waiting job's record never changes (it has measured nothing yet): build it once.
        rec = self._queued.get(name)
        if rec is None:
            rec = self._queued[name] = self._record(self.by_name[name])
        return rec

    def _capacity(self) -> Capacity:
        return Capacity(
            names=[n.name for n in self.nodes],
            gpu_types=np.array([n.gpu_type for n in self.nodes]),
            gpus=np.array([float(n.gpus) for n in self.nodes]),
            cpus=np.array([n.cpus for n in self.nodes]),
            gpu_free=self.gpu_free,
            cpu_free=self.cpu_free,
            mem_free=self.mem_free,
        )

    def _schedule(self) -> None:
        self._place_cpu_pods()
        if self.queue:
            self._place_gpu_jobs()
        self._allocate()

    def _place_cpu_pods(self) -> None:
        # CPU-only pods are background load with a fixed run time; CPU-only nodes first, then most CPU free.
        waiting = []
        gpu_nodes = np.array([n.gpus > 0 for n in self.nodes])
        for name in self.cpu_queue:
            job = self.by_name[name]
            ok = np.flatnonzero((self.cpu_free >= job.cpus - EPS) & (self.mem_free >= job.memory_mib))
            if not ok.size:
                waiting.append(name)
                continue
            i = int(ok[np.lexsort((-self.cpu_free[ok], gpu_nodes[ok]))[0]])
            node = self.nodes[i].name
            self.cpu_free[i] -= job.cpus
            self.mem_free[i] -= job.memory_mib
            self.reserved[node] = self.reserved.get(node, 0.0) + job.cpus
            self.running[name] = RunningJob(node, job.duration_s, job.cpus, {node: job.cpus}, 1.0, job.cpus)
        self.cpu_queue = waiting

    def _place_gpu_jobs(self) -> None:
        cap = self._capacity()
        params = self.config.params
        records = [self._queued_record(n) for n in self.queue]

        def floor(job: Job) -> np.ndarray:
            return self.cpu.floor(job, cap.cpus, cap.gpus, params)

        started = self.place(records, cap, floor)
        self.cpu_free = cap.cpu_free
        for name, node in started:
            job = self.by_name[name]
            i = self._index[node]
            held = float(floor(self._queued[name])[i])
            self.running[name] = RunningJob(node, job.duration_s, held, reported_s=self.t)
        placed = {n for n, _ in started}
        for name in placed:
            self._queued.pop(name, None)
        self.queue = [n for n in self.queue if n not in placed]

    def _allocate(self) -> None:
        gpu_jobs = [n for n in self.running if self.by_name[n].gpus > 0]
        self._apply(gpu_jobs)
        # A live round takes seconds and the trace's events are minutes apart: a job that just started
        # has its warm-up round and a first measured round within this event, and the policies re-run
        # with what it learned (as the live controller's next round would).
        fresh = [n for n in gpu_jobs if self.running[n].reports == 0 and not self.config.oracle]
        for name in fresh:
            run = self.running[name]
            for _ in range(2):
                self.book.learn(self._report(self.by_name[name], run))
            run.reports, run.reported_s = 2, self.t
        if fresh:
            self._apply(gpu_jobs)
        self._sample()

    def _apply(self, gpu_jobs: list[str]) -> None:
        """Runs the CPU policy over the running GPU jobs and sets their allocations and rates."""
        if self.config.oracle:
            # Rates do not depend on CPUs here: every job holds just its admission floor.
            for name in gpu_jobs:
                run, job = self.running[name], self.by_name[name]
                run.alloc, run.eff = {run.node: run.floor}, run.floor
                curve = self.true_curve[name]
                requested = curve(job.cpus / job.gpus)
                speed = self.speeds.get(job.model, {}).get(self._node[run.node].gpu_type, 1.0)
                run.rate = speed * curve.peak / requested if requested > 0 else 0.0
            return
        view = ClusterView(
            nodes=self.nodes,
            jobs=tuple(self._record(self.by_name[n]) for n in gpu_jobs),
            placement={n: self.running[n].node for n in gpu_jobs},
            reserved={k: v for k, v in self.reserved.items() if v > EPS},
        )
        alloc = self.cpu.allocate(view, self.config.params)
        weight = 1.0 - self.config.params.remote_cost
        for name in gpu_jobs:
            run, job = self.running[name], self.by_name[name]
            run.alloc = {k: v for k, v in alloc.get(name, {}).items() if v > EPS}
            run.eff = sum(c if k == run.node else c * weight for k, c in run.alloc.items())
            curve = self.true_curve[name]
            requested = curve(job.cpus / job.gpus)
            speed = self.speeds.get(job.model, {}).get(self._node[run.node].gpu_type, 1.0)
            run.rate = speed * curve(run.eff / job.gpus) / requested if requested > 0 else 0.0

    def _sample(self) -> None:
        busy = alloc_gpu = alloc_cpu = 0.0
        for name, run in self.running.items():
            job = self.by_name[name]
            alloc_cpu += sum(run.alloc.values())
            if job.gpus > 0:
                alloc_gpu += job.gpus
                busy += job.gpus * self._utilisation(name, run)
        self.samples.append((self.t, busy, alloc_gpu, alloc_cpu))

    # ---- whole run ---------------------------------------------------------------------------------
    def run(self, progress: Callable[[float], None] | None = None) -> SimResult:
        """Runs to the end; ``progress`` gets the fraction of jobs that arrived, after each event."""
        total = max(1, len(self.jobs))
        while not self.done:
            self.step()
            if progress:
                progress((self.next_arrival + len(self.finished)) / (2 * total))
        return self.result()

    def result(self) -> SimResult:
        gpu_jobs = [j for j in self.jobs if j.gpus > 0 and j.name in self.finished]
        jct = tuple(self.finished[j.name] - j.arrival_s for j in gpu_jobs)
        span = max(self.finished.values(), default=0.0)
        gpu_util = self.useful_gpu_s / (self.gpu_capacity * span) if span > 0 and self.gpu_capacity else 0.0
        cpu_util = self.cpu_s / (self.cpu_capacity * span) if span > 0 else 0.0
        name = "oracle" if self.config.oracle else self.config.policy
        return SimResult(name, jct, span, gpu_util, cpu_util, tuple(self.samples), len(self.dropped))
