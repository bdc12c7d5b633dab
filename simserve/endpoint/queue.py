"""The endpoint's job queue: FIFO in arrival order, with the job TTL and low-priority jobs.

Owns ``JobQueue`` (job indices kept in arrival order; expired jobs are dropped and reported
as they surface; a retried job goes back in its place by arrival time). Low-priority jobs (the
API's ``policy.lowPriority``) wait in a second list: ``pop`` takes the earlier of the two heads,
so they are served in arrival order with the rest, but the counts an autoscaler reads
(``scaling_len``, ``waited_at_least``, ``oldest_wait``) see only the others: a low-priority job
never triggers a scale-up. Used only by the endpoint core. No simpy, asyncio or clock.
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
from collections.abc import Callable, Sequence

#: popped jobs a queue keeps before its list may be compacted (``run_hot`` pops inline below this)
COMPACT_AFTER = 4096


class JobQueue:
    """Queued job indices in arrival order; a job older than ``ttl_s`` expires via ``on_expire(j)``.

    >>> q = JobQueue([0.0, 1.0, 2.0], 60.0, print)
    >>> q.append(0, low=True); q.append(1); q.append(2, low=True)
    >>> len(q), q.scaling_len(), q.oldest_wait(5.0)
    (3, 1, 4.0)
    >>> [q.pop(5.0) for _ in range(4)]
    [0, 1, 2, -1]
    """

    __slots__ = ("_q", "_head", "_low", "_lhead", "_arr", "_ttl", "_on_expire", "on_requeue")

    def __init__(self, arrival_s: Sequence[float], ttl_s: float, on_expire: Callable[[int], None]) -> None:
        self._q: list[int] = []
        self._head = 0
        self._low: list[int] = []  # low-priority jobs, in arrival order
        self._lhead = 0
        self._arr = arrival_s
        self._ttl = ttl_s
        self._on_expire = on_expire
        #: called after a job goes back in its place (a job older than the newest may be queued again)
        self.on_requeue: Callable[[], None] | None = None

    def set_ttl(self, ttl_s: float) -> None:
        """A ``set`` event changed the job TTL."""
        self._ttl = ttl_s

    def __len__(self) -> int:
        """Every queued job, low priority included."""
        return len(self._q) - self._head + len(self._low) - self._lhead

    def scaling_len(self) -> int:
        """Queued jobs that count toward scaling (low-priority ones do not)."""
        return len(self._q) - self._head

    def append(self, j: int, low: bool = False) -> None:
        """Queue a newly arrived job (arrivals come in time order); ``low``: a low-priority job."""
        if low:
            self._low.append(j)
        else:
            self._q.append(j)

    def requeue(self, j: int, low: bool = False) -> None:
        """Put a retried job back in its place by arrival time (normally the front)."""
        if low:
            insort(self._low, j, lo=self._lhead, key=self._arr.__getitem__)
        else:
            insort(self._q, j, lo=self._head, key=self._arr.__getitem__)
        if self.on_requeue is not None:
            self.on_requeue()

    def remove(self, j: int) -> bool:
        """Take queued job ``j`` out (a cancel); False when it is not queued. O(queue length)."""
        for q, head in ((self._q, self._head), (self._low, self._lhead)):
            try:
                k = q.index(j, head)
            except ValueError:
                continue
            del q[k]
            if q is self._low and self._lhead == len(q):
                q.clear()
                self._lhead = 0
            return True
        return False

    def pop(self, now_s: float) -> int:
        """The next job that has not expired (the earlier arrival of the two lists' heads), or -1 when
        none is left."""
        if self._low:
            return self._pop_either(now_s)
        q, arr, ttl = self._q, self._arr, self._ttl
        while self._head < len(q):
            j = q[self._head]
            self._head += 1
            if arr[j] + ttl <= now_s:
                self._on_expire(j)
                continue
            if self._head > COMPACT_AFTER and self._head * 2 > len(q):  # compact now and then
                del q[: self._head]
                self._head = 0
            return j
        return -1

    def _pop_either(self, now_s: float) -> int:
        q, low, arr, ttl = self._q, self._low, self._arr, self._ttl
        while True:
            has_q, has_low = self._head < len(q), self._lhead < len(low)
            if has_low and (not has_q or arr[low[self._lhead]] < arr[q[self._head]]):
                j = low[self._lhead]
                self._lhead += 1
                if self._lhead == len(low):  # empty: ``pop`` takes its fast path again
                    low.clear()
                    self._lhead = 0
                elif self._lhead > 4096 and self._lhead * 2 > len(low):
                    del low[: self._lhead]
                    self._lhead = 0
            elif has_q:
                j = q[self._head]
                self._head += 1
            else:
                return -1
            if arr[j] + ttl <= now_s:
                self._on_expire(j)
                continue
            return j

    def purge(self, now_s: float) -> None:
        """Expire every job at the heads that has outlived the TTL."""
        arr, ttl = self._arr, self._ttl
        q = self._q
        while self._head < len(q) and arr[q[self._head]] + ttl <= now_s:
            self._on_expire(q[self._head])
            self._head += 1
        low = self._low
        while self._lhead < len(low) and arr[low[self._lhead]] + ttl <= now_s:
            self._on_expire(low[self._lhead])
            self._lhead += 1
        if low and self._lhead == len(low):
            low.clear()
            self._lhead = 0

    def waited_at_least(self, now_s: float, delay_s: float) -> int:
        """Queued jobs that count toward scaling and arrived at or before ``now_s - delay_s``."""
        if delay_s == math.inf or self._head >= len(self._q):
            return 0
        return bisect_right(self._q, now_s - delay_s, lo=self._head, key=self._arr.__getitem__) - self._head

    def kth_arrival_s(self, k: int) -> float:
        """Arrival time of the ``k``-th oldest queued job that counts toward scaling (inf: fewer are queued)."""
        i = self._head + k - 1
        return self._arr[self._q[i]] if k > 0 and i < len(self._q) else math.inf

    def next_expiry_s(self) -> float:
        """When the first queued job at either head outlives the TTL (inf: none is queued): ``purge`` expires
        nothing before then."""
        at = math.inf
        if self._head < len(self._q):
            at = self._arr[self._q[self._head]] + self._ttl
        if self._lhead < len(self._low):
            at = min(at, self._arr[self._low[self._lhead]] + self._ttl)
        return at

    def oldest_wait(self, now_s: float) -> float:
        """How long the oldest queued job that counts toward scaling has waited (0 when there is none)."""
        return now_s - self._arr[self._q[self._head]] if self._head < len(self._q) else 0.0

    def drain(self) -> list[int]:
        """Remove and return every queued job, in arrival order (end of a run, a purge)."""
        rest = self._q[self._head :]
        if self._lhead < len(self._low):
            arr = self._arr
            rest = sorted(rest + self._low[self._lhead :], key=lambda j: (arr[j], j))
        self._q, self._head, self._low, self._lhead = [], 0, [], 0
        return rest
