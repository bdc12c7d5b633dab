"""The endpoint's job queue and the policy's view of it, shared by the simulator and the live driver.

Owns ``JobQueue`` (FIFO of job indices kept in arrival order, with the job TTL: expired jobs
are dropped and reported as they surface), ``make_endpoint_view`` (counters + queue -> the
frozen ``EndpointView`` the autoscalers read) and ``apply_actions`` (how a policy's actions are
carried out, up to the worker cap). Both drivers call these, so the same situation gives the
same view and the same applied actions by construction. No simpy, asyncio or clock.
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
from collections.abc import Callable, Iterable, Sequence

from simserve.policy.actions import Action, StartWorkers, StopWorker
from simserve.policy.view import EndpointView


class JobQueue:
    """Queued job indices in arrival order; a job older than ``ttl_s`` expires via ``on_expire(j)``."""

    __slots__ = ("_q", "_head", "_arr", "_ttl", "_on_expire")

    def __init__(self, arrival_s: Sequence[float], ttl_s: float, on_expire: Callable[[int], None]) -> None:
        self._q: list[int] = []
        self._head = 0
        self._arr = arrival_s
        self._ttl = ttl_s
        self._on_expire = on_expire

    def __len__(self) -> int:
        return len(self._q) - self._head

    def append(self, j: int) -> None:
        """Queue a newly arrived job (arrivals come in time order)."""
        self._q.append(j)

    def requeue(self, j: int) -> None:
        """Put a retried job back in its place by arrival time (normally the front)."""
        insort(self._q, j, lo=self._head, key=self._arr.__getitem__)

    def pop(self, now_s: float) -> int:
        """The next job that has not expired, or -1 when none is left."""
        q, arr, ttl = self._q, self._arr, self._ttl
        while self._head < len(q):
            j = q[self._head]
            self._head += 1
            if arr[j] + ttl <= now_s:
                self._on_expire(j)
                continue
            if self._head > 4096 and self._head * 2 > len(q):  # compact now and then
                del q[: self._head]
                self._head = 0
            return j
        return -1

    def purge(self, now_s: float) -> None:
        """Expire every job at the head that has outlived the TTL."""
        q, arr, ttl = self._q, self._arr, self._ttl
        while self._head < len(q) and arr[q[self._head]] + ttl <= now_s:
            self._on_expire(q[self._head])
            self._head += 1

    def waited_at_least(self, now_s: float, delay_s: float) -> int:
        """Queued jobs that arrived at or before ``now_s - delay_s``."""
        if delay_s == math.inf or self._head >= len(self._q):
            return 0
        return bisect_right(self._q, now_s - delay_s, lo=self._head, key=self._arr.__getitem__) - self._head

    def oldest_wait(self, now_s: float) -> float:
        """How long the oldest queued job has waited (0 when the queue is empty)."""
        return now_s - self._arr[self._q[self._head]] if self._head < len(self._q) else 0.0

    def drain(self) -> list[int]:
        """Remove and return every queued job, in order (end of a run)."""
        rest = self._q[self._head:]
        self._q, self._head = [], 0
        return rest


def make_endpoint_view(now_s: float, queue: JobQueue, delay_s: float, *, in_progress: int, n_starting: int,
                       n_ready: int, n_free: int, n_alive: int, n_scaled_down: int, active_workers: int,
                       cap: int, idle_flex_ids: Iterable[int] = ()) -> EndpointView:
    """The policy's view of the endpoint; ``delay_s`` is the scaler's queue-delay threshold."""
    return EndpointView(
        now_s=now_s, in_queue=len(queue), in_progress=in_progress,
        queued_over_delay=queue.waited_at_least(now_s, delay_s), oldest_wait_s=queue.oldest_wait(now_s),
        n_starting=n_starting, n_ready=n_ready, n_free=n_free, n_alive=n_alive, n_scaled_down=n_scaled_down,
        active_workers=active_workers, cap=cap, idle_flex_ids=tuple(idle_flex_ids),
    )


def apply_actions(actions: Iterable[Action], *, at_cap: Callable[[], bool], scale_up: Callable[[str], bool],
                  can_stop: Callable[[int], bool], stop: Callable[[int], None],
                  record: Callable[[str, int, str], None]) -> None:
    """Carry out a policy's actions through a driver's primitives.

    ``StartWorkers(n)`` starts workers one by one until ``n``, the cap (``at_cap()``) or a
    failed start; ``StopWorker(w)`` scales ``w`` down only if ``can_stop(w)`` (a ready,
    job-free flex worker). Each applied action is recorded once: ``record(kind, value, reason)``.
    """
    for a in actions:
        if isinstance(a, StartWorkers):
            started = 0
            while started < a.count and not at_cap() and scale_up(a.reason):
                started += 1
            if started:
                record("start_workers", started, a.reason)
        elif isinstance(a, StopWorker) and can_stop(a.worker_id):
            stop(a.worker_id)
            record("stop_worker", a.worker_id, a.reason)
