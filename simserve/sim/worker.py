"""A simulated worker: its slots, its state machine and the intervals it writes.

Owns ``Worker`` (plain slotted state: host, jobs running, free-slot bookkeeping, idle timer)
and ``enter``, the one place a worker changes state or phase: it checks ``TRANSITIONS`` and
writes the closed interval to the recorder. Zero-length intervals are not written, so a
worker's intervals tile its life from creation to retirement or the horizon.
"""

from __future__ import annotations

from simserve.records import TRANSITIONS, IllegalTransition, Recorder
from simserve.sim.hosts import Host


class Worker:
    """One worker slot (flex or active). It survives scale-down as an ``idle`` slot."""

    __slots__ = (
        "wid", "kind", "seq", "host", "state", "phase", "since", "jobs", "in_free", "free_epoch",
        "idle_since", "expiry_pending", "stopped_at", "epoch", "phases", "bound", "retired",
        "version", "crash_epoch", "parked", "stop_seq",
        "drain", "retire_on_drain", "init_fail", "fails", "first_fail_s", "dropped",
    )

    def __init__(self, wid: int, kind: str, seq: int, now: float, state: int, phase: int) -> None:
        self.wid = wid
        self.kind = kind
        self.seq = seq
        self.host: Host | None = None
        self.state = state
        self.phase = phase
        self.since = now
        self.jobs = 0
        self.in_free = False
        self.free_epoch = 0
        self.idle_since = -1.0
        self.expiry_pending = False
        self.stopped_at = -1.0
        self.epoch = 0  # bumped whenever a pending cold-start phase event becomes stale
        self.phases: list[tuple[int, float]] = []
        self.bound: list[int] = []  # jobs waiting for this worker's cold start (per_request mode)
        self.retired = False
        self.version = 0
        self.crash_epoch = 0
        self.parked = False
        self.stop_seq = -1
        # platform dynamics (simserve.sim.faults / timeline); inert when those sections are absent
        self.drain = False  # takes no new job; the engine calls back when its jobs finish (outdated, retiring)
        self.retire_on_drain = False  # an active worker removed by a `set` event: stop once job-free
        self.init_fail = False  # this cold start fails at its end (faults.init_failure_prob)
        self.fails = 0  # consecutive unhealthy episodes (backoff exponent); reset when it becomes ready
        self.first_fail_s = -1.0  # start of the current run of failures (for the give-up limit)
        self.dropped = False  # left the endpoint (given up, or an active worker removed): idle to the horizon


def enter(rec: Recorder, w: Worker, state: int, phase: int, now: float) -> None:
    """Move ``w`` to ``state``/``phase`` at ``now``, writing the interval it leaves."""
    if state != w.state and state not in TRANSITIONS[w.state]:
        raise IllegalTransition(f"worker {w.wid}: {w.state} -> {state}")
    if now > w.since:
        host = w.host.host_id if w.host is not None else -1
        rec.interval(w.wid, w.state, w.phase, w.since, now, host)
        w.since = now
    w.state = state
    w.phase = phase


def close(rec: Recorder, w: Worker, now: float) -> None:
    """Write the worker's open interval up to ``now`` (end of life or horizon)."""
    if now > w.since:
        host = w.host.host_id if w.host is not None else -1
        rec.interval(w.wid, w.state, w.phase, w.since, now, host)
        w.since = now
