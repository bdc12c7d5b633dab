"""Where a worker starts: host choice and which scaled-down slot to revive.

Owns the placement rule: the highest-priority GPU pool with a free host first; within a
pool, a host holding the image, then one holding the model, then the fullest host that
still fits (packing), then the lowest host id (``host_rank``); from ``SPREAD_FROM`` workers on,
new workers spread over the GPU priority list (``choose_pool``). Revival takes the most recently
scaled-down slot (FlashBoot's best chance), retirement the least recent (``ScaledDownSlots``),
and ``flashboot_eligible`` says when a start is a FlashBoot resume. ``HostIndex`` and
``ScaledDownSlots`` are incremental indexes that both drivers use through the endpoint core:
the rule and its fast structure are one thing. Pure: no simpy, asyncio or clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from heapq import heappop, heappush
from typing import Generic, Protocol, TypeVar


@dataclass(frozen=True, slots=True)
class HostView:
    """One GPU host as placement sees it."""

    host_id: int
    gpu: str
    priority: int  # index of its GPU type in the endpoint's priority list
    free_gpus: int
    has_image: bool
    has_model: bool


def host_rank(h: HostView) -> tuple[int, int, int, int, int]:
    """Sort key: smaller is better."""
    return (h.priority, not h.has_image, not h.has_model, h.free_gpus, h.host_id)


def choose_host(hosts: Sequence[HostView], gpus_needed: int) -> int | None:
    """The host id for a new worker, or None when no host has ``gpus_needed`` free GPUs."""
    best: HostView | None = None
    best_key: tuple[int, int, int, int, int] | None = None
    for h in hosts:
        if h.free_gpus < gpus_needed:
            continue
        key = host_rank(h)
        if best_key is None or key < best_key:
            best, best_key = h, key
    return None if best is None else best.host_id


#: from this many workers on, new workers spread across the GPU priority list
SPREAD_FROM = 5


def pool_shares(n_pools: int) -> list[float]:
    """Target share of workers per pool when spreading: weights n, n-1, ..., 1 (most on the first).

    >>> pool_shares(3)
    [0.5, 0.3333333333333333, 0.16666666666666666]
    """
    total = n_pools * (n_pools + 1) / 2
    return [(n_pools - i) / total for i in range(n_pools)]


def choose_pool(alive_by_pool: Sequence[int], has_room: Sequence[bool], spread_from: int = SPREAD_FROM) -> int | None:
    """The GPU pool (priority index) for the next worker, or None when no pool has room.

    With fewer than ``spread_from`` workers (counting the new one) every worker goes to the
    highest-priority pool with room. From ``spread_from`` on, the new worker goes to the pool
    furthest below its target share (``pool_shares``) of all workers, ties to the higher priority.

    >>> choose_pool([4, 0], [True, True])
    1
    >>> choose_pool([2, 0], [True, True])
    0
    """
    pools = [i for i, ok in enumerate(has_room) if ok]
    if not pools:
        return None
    n = sum(alive_by_pool) + 1
    if n < spread_from or len(has_room) < 2:
        return pools[0]
    shares = pool_shares(len(has_room))
    return max(pools, key=lambda i: (shares[i] * n - alive_by_pool[i], -i))


def flashboot_eligible(
    enabled: bool, same_host: bool, stopped_at_s: float, now_s: float, window_s: float, image_cached: bool
) -> bool:
    """Whether a start is a FlashBoot resume: FlashBoot on, the slot restarts on the host it was
    scaled down on, within ``window_s`` of that scale-down, and the host still caches the image.

    >>> flashboot_eligible(True, True, 10.0, 600.0, 600.0, True)
    True
    >>> flashboot_eligible(True, True, 10.0, 611.0, 600.0, True)
    False
    """
    return enabled and same_host and stopped_at_s >= 0 and now_s - stopped_at_s <= window_s and image_cached


class RankedHost(Protocol):
    """What ``HostIndex`` reads of a host (``simserve.endpoint.hosts.Host``)."""

    host_id: int
    priority: int
    free: int
    version: int

    def view(self, image_key: str) -> HostView: ...


H = TypeVar("H", bound=RankedHost)


class HostIndex(Generic[H]):
    """The best host for a new worker in O(log hosts): lazy heaps keyed by ``host_rank``.

    One heap per GPU pool (priority), so ``best(pool)`` answers for one pool and ``best()``
    for all (the first pool in priority order with room: priority leads ``host_rank``). The
    owner calls ``push(host)`` after every change of a host (GPUs or cache); stale entries
    (older version) and hosts without room are dropped when they surface. Gives the same
    answer as ``choose_host`` over all hosts (a property test checks it).
    """

    def __init__(self, hosts: Sequence[H], gpus_needed: int, image_key: str) -> None:
        self.hosts = hosts
        self.gpus_needed = gpus_needed
        self.n_pools = max((h.priority for h in hosts), default=-1) + 1
        self.heaps: list[list[tuple[tuple[int, int, int, int, int], int, int]]] = []
        self.rebuild(image_key)

    def rebuild(self, image_key: str) -> None:
        """Re-rank every host (after the image changes, e.g. a deploy)."""
        self.image_key = image_key
        self.heaps = [[] for _ in range(self.n_pools)]
        for h in self.hosts:
            self.push(h)

    def push(self, h: H) -> None:
        if h.free >= self.gpus_needed:
            heappush(self.heaps[h.priority], (host_rank(h.view(self.image_key)), h.version, h.host_id))

    def best(self, pool: int | None = None) -> H | None:
        """The best host with room in ``pool`` (a priority index), or in any pool when None."""
        for p in range(self.n_pools) if pool is None else (pool,):
            heap = self.heaps[p]
            while heap:
                _, version, hid = heap[0]
                h = self.hosts[hid]
                if version == h.version and h.free >= self.gpus_needed:
                    return h
                heappop(heap)
        return None

    def has_room(self, pool: int) -> bool:
        return pool < self.n_pools and self.best(pool) is not None


class Slot(Protocol):
    """What ``ScaledDownSlots`` reads and writes of a worker slot."""

    parked: bool
    stop_seq: int


S = TypeVar("S", bound=Slot)


class ScaledDownSlots(Generic[S]):
    """Scaled-down slots in stop order: revival takes the most recent, retirement the least recent.

    A deque of ``(stop_seq, slot)`` with lazy deletion (an entry is live while its slot is parked
    with that ``stop_seq``), so both choices are O(1) amortised. ``len()`` counts parked slots.
    """

    def __init__(self) -> None:
        self._q: deque[tuple[int, S]] = deque()
        self._n = 0
        self._seq = 0

    def __len__(self) -> int:
        return self._n

    def park(self, w: S) -> None:
        """``w`` was scaled down now (it becomes the most recent)."""
        w.parked = True
        w.stop_seq = self._seq
        self._seq += 1
        self._q.append((w.stop_seq, w))
        self._n += 1

    def unpark_back(self, w: S) -> None:
        """Put back ``w`` (just taken by ``retirement`` but kept) as the least recent."""
        w.parked = True
        self._q.appendleft((w.stop_seq, w))
        self._n += 1

    def discard(self, w: S) -> None:
        """``w`` leaves the scaled-down set another way."""
        if w.parked:
            w.parked = False
            self._n -= 1

    def _take(self, recent: bool) -> S:
        pop = self._q.pop if recent else self._q.popleft
        while True:
            seq, w = pop()
            if w.parked and seq == w.stop_seq:
                w.parked = False
                self._n -= 1
                return w

    def revival(self) -> S:
        """Take the most recently scaled-down slot (FlashBoot's best chance). Needs ``len() > 0``."""
        return self._take(True)

    def retirement(self) -> S:
        """Take the least recently scaled-down slot (dropped when slots exceed max + extra)."""
        return self._take(False)
