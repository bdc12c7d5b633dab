"""GPU hosts: free GPUs and a disk-bounded LRU cache of images and models.

Owns ``Host`` (one machine: GPU type, free GPUs, an LRU cache keyed by item name with a
byte size) and ``build_hosts`` (the scenario's pools, or ample default pools of the
endpoint's GPU types). Cache bytes never exceed the disk. No simpy here: hosts are plain
state mutated by the engine.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from heapq import heappop, heappush

from simserve.policy.placement import HostView, host_rank
from simserve.scenario import Scenario


class Host:
    """One GPU machine with an LRU image/model cache."""

    __slots__ = ("host_id", "gpu", "priority", "gpus", "free", "disk", "used", "cache", "version", "on_change", "pool")

    def __init__(self, host_id: int, gpu: str, priority: int, gpus: int, disk_bytes: float, pool: int = -1) -> None:
        self.host_id = host_id
        self.pool = pool  # index of its pool in the scenario's ``hosts`` list (-1: a default pool)
        self.gpu = gpu
        self.priority = priority
        self.gpus = gpus
        self.free = gpus
        self.disk = disk_bytes
        self.used = 0.0
        self.cache: OrderedDict[str, float] = OrderedDict()
        self.version = 0
        self.on_change: Callable[["Host"], None] | None = None

    def _changed(self) -> None:
        self.version += 1
        if self.on_change is not None:
            self.on_change(self)

    def take(self, gpus: int) -> None:
        """Reserve ``gpus`` GPUs for a worker."""
        self.free -= gpus
        self._changed()

    def release(self, gpus: int) -> None:
        """Give back ``gpus`` GPUs."""
        self.free += gpus
        self._changed()

    def has(self, key: str) -> bool:
        return key in self.cache

    def touch(self, key: str) -> None:
        if key in self.cache:
            self.cache.move_to_end(key)

    def insert(self, key: str, size: float) -> list[str]:
        """Cache ``key``, evicting least-recently-used items until it fits; returns evicted keys."""
        if key in self.cache:
            self.cache.move_to_end(key)
            return []
        if size > self.disk:
            return []  # never fits: not cached, pulled every time
        evicted: list[str] = []
        while self.used + size > self.disk and self.cache:
            old, old_size = self.cache.popitem(last=False)
            self.used -= old_size
            evicted.append(old)
        self.cache[key] = size
        self.used += size
        self._changed()
        return evicted

    def view(self, image_key: str) -> HostView:
        return HostView(self.host_id, self.gpu, self.priority, self.free, image_key in self.cache, "model" in self.cache)


class HostIndex:
    """The best host for a new worker in O(log hosts): lazy heaps keyed by the policy's ``host_rank``.

    One heap per GPU pool (priority), so ``best(pool)`` answers for one pool and ``best()``
    for all (the first pool in priority order with room: priority leads ``host_rank``). Every
    host change pushes a fresh entry; stale entries (older version) and hosts without room are
    dropped when they surface. Gives the same answer as ``policy.choose_host`` over all hosts
    (a parity test checks it).
    """

    def __init__(self, hosts: list[Host], gpus_needed: int, image_key: str) -> None:
        self.hosts = hosts
        self.gpus_needed = gpus_needed
        self.n_pools = max((h.priority for h in hosts), default=-1) + 1
        self.rebuild(image_key)
        for h in hosts:
            h.on_change = self.push

    def rebuild(self, image_key: str) -> None:
        """Re-rank every host (after the image changes, e.g. a deploy)."""
        self.image_key = image_key
        self.heaps: list[list[tuple[tuple[int, int, int, int, int], int, int]]] = [[] for _ in range(self.n_pools)]
        for h in self.hosts:
            self.push(h)

    def push(self, h: Host) -> None:
        if h.free >= self.gpus_needed:
            heappush(self.heaps[h.priority], (host_rank(h.view(self.image_key)), h.version, h.host_id))

    def best(self, pool: int | None = None) -> Host | None:
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


def build_hosts(scenario: Scenario) -> list[Host]:
    """Hosts of the scenario; by default, one single-worker host per possible worker per GPU type."""
    ep = scenario.endpoint
    priority = {name.upper(): i for i, name in enumerate(ep.gpu)}
    hosts: list[Host] = []
    if scenario.hosts:
        for pool_index, pool in enumerate(scenario.hosts):
            prio = priority.get(pool.gpu.upper())
            if prio is None:
                continue  # a pool of a GPU type the endpoint does not list is never used
            for _ in range(pool.count):
                hosts.append(Host(len(hosts), pool.gpu, prio, pool.gpus_per_host, pool.disk, pool_index))
        return hosts
    slots = ep.worker_cap + ep.extra_workers
    for prio, gpu in enumerate(ep.gpu):
        for _ in range(max(1, slots)):
            hosts.append(Host(len(hosts), gpu, prio, ep.gpus_per_worker, 2e12))
    return hosts
