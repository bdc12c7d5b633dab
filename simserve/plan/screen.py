"""Screening by bounds: candidates that no full run could find feasible, ruled out without a run.

Owns ``screen_blocker`` (why a scenario is outside the rules the bound relies on), ``warm_pool``
(the Kiefer-Wolfowitz recursion of an always-warm FCFS pool of ``slots`` servers on one
replication's own pre-drawn jobs: common random numbers), ``order_bound`` (a lower bound on a
percentile over an unknown subset of jobs) and ``screen`` (per candidate and SLO: the bounds of
the replications a plan could run; their mean beyond the threshold at every replication count a
verdict can be taken at: a note saying why, and no run). A job never starts earlier in a real run
than in the warm pool (docs/planning.md has the argument), so each bound is below the full run's
figure of the same replication. Pure numpy and heapq: no simpy.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from heapq import heapreplace
from typing import Any

import numpy as np

from simserve.plan.space import Candidate
from simserve.planspec import PlanSpec, Slo
from simserve.results.jobstats import RELATIVE_ACCURACY
from simserve.results.replicate import replication_seed
from simserve.results.result import statistics_warmup
from simserve.rng import RandomStreams
from simserve.scenario import Scenario, load_scenario
from simserve.workload import Jobs, generate

#: a percentile the planner reads from a sketch is within this factor of the exact order statistic
SKETCH_FACTOR = 1.0 - 2.0 * RELATIVE_ACCURACY
#: figures with a bound: name -> (which times, percentile as a fraction; 1.0 is the maximum)
BOUNDED: dict[str, tuple[str, float]] = {
    **{f"latency_{q}": ("latency", int(q[1:]) / 100) for q in ("p50", "p90", "p95", "p99")},
    "latency_max": ("latency", 1.0),
    **{f"queue_wait_{q}": ("wait", int(q[1:]) / 100) for q in ("p50", "p95", "p99")},
}
SCREENED = "screened out"


def screen_blocker(sc: Scenario) -> str | None:
    """Why the warm-pool bound does not hold for ``sc`` (None: it does).

    The bound needs jobs to start in arrival order on at most ``slots`` places, each taking its
    drawn service time: no batching engine, no per_request binding, no retries (faults), no setting
    changes (events), no workers beyond max workers (other tenants' throttling), no per-job flags.
    """
    wl = sc.workload
    if wl.llm is not None:
        return "an LLM workload (a batching engine sets the service times)"
    if sc.endpoint.scaler.type == "per_request":
        return "the per_request scaler (a job waits for its own worker, not in arrival order)"
    if sc.faults is not None:
        return "faults (a crashed worker's jobs are retried out of arrival order)"
    if sc.events:
        return "events (deploys and setting changes)"
    if any(h.other_tenants for h in sc.hosts):
        return "other tenants (throttled workers are replaced beyond max workers)"
    if wl.low_priority_share > 0 or wl.refresh_share > 0:
        return "low-priority or refreshing jobs"
    return None


def slots_of(sc: Scenario) -> int:
    """Most jobs ``sc`` can run at once: alive workers (max workers after the balance cap, or the
    active workers started at the beginning when more) times each worker's concurrency."""
    ep = sc.endpoint
    return max(ep.worker_cap, ep.active_workers) * ep.concurrency


def warm_pool(
    arrival_s: np.ndarray, service_s: np.ndarray, slots: int, exec_timeout_s: float, ttl_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Start and completion times of FCFS jobs on ``slots`` always-warm servers (inf: none).

    The platform's per-job rules as the endpoint core applies them: a job older than its TTL is
    dropped from the queue, a run stops at the execution timeout or at arrival + TTL, whichever is
    first (a completion needs service <= that limit). Kiefer-Wolfowitz: a heap of slot-free times.

    >>> warm_pool(np.array([0.0, 0.0, 1.0]), np.array([2.0, 2.0, 2.0]), 2, 600.0, 86400.0)
    (array([0., 0., 2.]), array([2., 2., 4.]))
    """
    n = len(arrival_s)
    start = np.full(n, math.inf)
    done = np.full(n, math.inf)
    free = [0.0] * max(1, slots)
    arr, svc = arrival_s.tolist(), service_s.tolist()
    for j in range(n):
        a = arr[j]
        t = free[0] if free[0] > a else a
        deadline = a + ttl_s
        if t >= deadline:  # JobQueue.pop: expired (arr + ttl <= now); it takes no slot
            continue
        start[j] = t
        limit = min(deadline - t, exec_timeout_s)
        s = svc[j]
        if s > limit:
            heapreplace(free, t + limit)
        else:
            done[j] = t + s
            heapreplace(free, t + s)
    return start, done


def order_bound(early: np.ndarray, n_late: int, allow: int, q: float) -> float:
    """Lower bound on the ``q``-percentile (rank ``q (n - 1)``, rounded down) of a run's figures over a
    set made of the ``early`` jobs less at most ``allow`` of them, plus up to ``n_late`` others of any
    value, when each kept early job's figure is at least its value in ``early``; 0 when none holds.

    >>> order_bound(np.arange(100.0), 0, 0, 0.95), order_bound(np.arange(100.0), 10, 5, 0.95)
    (94.0, 88.0)
    """
    n_early = len(early) - allow
    if n_early <= 0:
        return 0.0
    i = math.floor(q * (n_early + n_late - 1) - 1e-9) - n_late
    if i < 0:
        return 0.0
    return float(np.partition(early, i)[i])


@dataclass(frozen=True)
class Path:
    """One replication's jobs through the warm pool: figures of the early jobs (arrival + TTL before
    the horizon: in a real run each one completes or fails) and counts of the late ones."""

    window: int  # jobs in the statistics window (the run's ``arrived``)
    latency_early: np.ndarray
    wait_early: np.ndarray
    late: dict[str, int]
    failed_early: int  # early jobs the warm pool does not complete: a real run fails them too

    @classmethod
    def of(cls, jobs: Jobs, sc: Scenario, slots: int) -> Path:
        horizon = sc.horizon
        ttl = sc.endpoint.job_ttl
        a = jobs.arrival_s
        start, done = warm_pool(a, jobs.service_s, slots, sc.endpoint.execution_timeout, ttl)
        win = a >= statistics_warmup(sc, horizon)
        early = win & (a + ttl < horizon)
        late = win & ~early
        completes = done < horizon
        starts = start < horizon
        return cls(
            int(np.count_nonzero(win)),
            (done - a)[early & completes],
            (start - a)[early & starts],
            {"latency": int(np.count_nonzero(late & completes)), "wait": int(np.count_nonzero(late & starts))},
            int(np.count_nonzero(early & ~completes)),
        )

    def bound(self, metric: str, allow: int) -> float:
        """Lower bound on ``metric`` in the full run of this replication, when that run fails at most
        ``allow`` jobs (0 where there is none)."""
        if metric == "failed":
            return self.failed_early / self.window if self.window else 0.0
        kind, q = BOUNDED[metric]
        early = self.latency_early if kind == "latency" else self.wait_early
        return SKETCH_FACTOR * order_bound(early, self.late[kind], allow, q)


def _failed_cap(slos: list[Slo], spec: PlanSpec) -> float | None:
    """Most failed fraction one replication of a feasible candidate can have: a feasible mean over at
    most ``max_replications`` runs keeps each at or below that many times the threshold."""
    caps = [s.threshold for s in slos if s.metric == "failed" and s.upper]
    return min(caps) * spec.max_replications if caps else None


def _fmt(metric: str, v: float) -> str:
    return f"{v:.3%}" if metric == "failed" else f"{v:.3g} s"


def screen(
    data: dict[str, Any], cands: list[Candidate], slos: list[Slo], spec: PlanSpec, base_seed: int
) -> dict[int, str]:
    """Candidates (index -> note) whose bounds of some SLO average beyond its threshold over every
    number of replications a plan could judge them at: no full run could find them feasible.

    Candidates with the same workload, window, timeouts and slots share one trial; replications are
    bounded in seed order, each seed's jobs drawn once per workload and dropped after use."""
    targets = [s for s in slos if s.upper and (s.metric in BOUNDED or s.metric == "failed")]
    if not targets:
        return {}
    cap = _failed_cap(slos, spec)
    counts = reachable_counts(spec)
    trials: dict[str, _Trial] = {}
    members: dict[str, list[int]] = {}
    for c in cands:
        if c.error is not None:
            continue
        sc = load_scenario(data, c.overrides)
        if screen_blocker(sc) is not None:
            continue
        wkey = json.dumps([sc.workload.model_dump(mode="json"), sc.horizon], sort_keys=True)
        key = json.dumps([wkey, sc.warmup, sc.endpoint.job_ttl, sc.endpoint.execution_timeout, slots_of(sc)])
        if key not in trials:
            trials[key] = _Trial(sc, wkey, targets, cap, counts)
        members.setdefault(key, []).append(c.index)
    for n in range(1, spec.max_replications + 1):
        by_workload: dict[str, list[_Trial]] = {}
        for t in trials.values():
            if t.live:
                by_workload.setdefault(t.wkey, []).append(t)
        for group in by_workload.values():
            jobs = generate(group[0].sc, RandomStreams(replication_seed(base_seed, n - 1)))
            for t in group:
                t.add(n, Path.of(jobs, t.sc, t.slots))
    notes: dict[int, str] = {}
    for key, indices in members.items():
        note = trials[key].note()
        if note is not None:
            notes.update(dict.fromkeys(indices, note))
    return notes


def reachable_counts(spec: PlanSpec) -> list[int]:
    """Replication counts a candidate's verdict can be taken at: the first batch, then one more batch
    at a time up to the most (``_Book.extensions``).

    >>> reachable_counts(PlanSpec(replications=3, max_replications=8))
    [3, 6, 8]
    """
    counts = [spec.replications]
    while counts[-1] < spec.max_replications:
        counts.append(spec.next_count(counts[-1]))
    return counts


class _Trial:
    """The bounds of one group of alike candidates, replication by replication.

    A feasible verdict after ``n`` replications has the interval's upper end, so the mean of the
    ``n`` figures, within the threshold; each figure is at least its bound, so a candidate whose
    bounds average beyond the threshold over the first ``n`` replications, for every ``n`` in
    ``counts``, cannot be found feasible. The first count whose mean is within the threshold
    settles that the SLO rules out nothing (``live`` drops it).
    """

    def __init__(self, sc: Scenario, wkey: str, targets: list[Slo], cap: float | None, counts: list[int]) -> None:
        self.sc, self.wkey, self.cap, self.counts = sc, wkey, cap, counts
        self.slots = slots_of(sc)
        # without a failed SLO a feasible run may fail any number of jobs: only ``failed`` is bounded
        self.live = [s for s in targets if s.metric == "failed" or cap is not None]
        self.bounds: dict[str, list[float]] = {s.text: [] for s in self.live}

    def add(self, n: int, path: Path) -> None:
        """The bounds of replication ``n`` (1-based, in seed order)."""
        for slo in list(self.live):
            allow = 0 if slo.metric == "failed" or self.cap is None else math.floor(self.cap * path.window + 1e-9)
            got = self.bounds[slo.text]
            got.append(path.bound(slo.metric, allow))
            if n in self.counts and sum(got) / n <= slo.threshold:
                self.live.remove(slo)

    def note(self) -> str | None:
        """Why the group is screened out (None: it is not)."""
        if not self.live:
            return None
        slo = self.live[0]
        least = min(sum(self.bounds[slo.text][:n]) / n for n in self.counts)
        return (
            f"{SCREENED}: on {self.slots} always-warm slots without cold starts (a lower bound), {slo.metric} "
            f"averages at least {_fmt(slo.metric, least)} over the first {'/'.join(map(str, self.counts))} "
            f"replications, beyond {slo.text}"
        )
