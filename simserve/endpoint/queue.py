"""The endpoint's job queue: FIFO in arrival order, with the job TTL.

Owns ``JobQueue`` (job indices kept in arrival order; expired jobs are dropped and reported
as they surface; a retried job goes back in its place by arrival time). Used only by the
endpoint core. No simpy, asyncio or clock.
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
from collections.abc import Callable, Sequence


class JobQueue:
    """Queued job indices in arrival order; a job older than ``ttl_s`` expires via ``on_expire(j)``."""

    __slots__ = ("_q", "_head", "_arr", "_ttl", "_on_expire")

    def __init__(self, arrival_s: Sequence[float], ttl_s: float, on_expire: Callable[[int], None]) -> None:
        self._q: list[int] = []
        self._head = 0
        self._arr = arrival_s
        self._ttl = ttl_s
        self._on_expire = on_expire

    def set_ttl(self, ttl_s: float) -> None:
        """A ``set`` event changed the job TTL."""
        self._ttl = ttl_s

    def __len__(self) -> int:
        return len(self._q) - self._head

    def append(self, j: int) -> None:
        """Queue a newly arrived job (arrivals come in time order)."""
        self._q.append(j)

    def requeue(self, j: int) -> None:
        """Put a retried job back in its place by arrival time (normally the front)."""
        insort(self._q, j, lo=self._head, key=self._arr.__getitem__)

    def remove(self, j: int) -> bool:
        """Take queued job ``j`` out (a cancel); False when it is not queued. O(queue length)."""
        q = self._q
        try:
            k = q.index(j, self._head)
        except ValueError:
            return False
        del q[k]
        return True

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
        rest = self._q[self._head :]
        self._q, self._head = [], 0
        return rest
