"""GPU hosts: free GPUs, a disk-bounded LRU cache of images and models, FlashBoot snapshots.

Owns ``Host`` (one machine: GPU type, free GPUs, an LRU cache keyed by item name with a
byte size, and the FlashBoot snapshots of workers scaled down on it) and ``build_hosts`` (the
scenario's pools, or ample default pools of the endpoint's GPU types). Cache bytes never exceed
the disk. A snapshot holds the GPUs its worker gave back: when a take (another worker's start,
other tenants) leaves fewer free GPUs than the snapshots hold, the oldest are lost (a CRIU-like
process and memory image kept per host, as FlashBoot is best explained). Plain state changed only
by the endpoint core; every change calls ``on_change`` (the placement index re-ranks the host).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from simserve.policy.placement import HostView
from simserve.scenario import Scenario


class Host:
    """One GPU machine with an LRU image/model cache."""

    __slots__ = (
        "host_id",
        "gpu",
        "priority",
        "gpus",
        "free",
        "disk",
        "used",
        "cache",
        "version",
        "on_change",
        "pool",
        "snapshots",
        "snapshot_gpus",
    )

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
        self.on_change: Callable[[Host], None] | None = None
        self.snapshots: dict[int, int] = {}  # worker id -> GPUs its FlashBoot snapshot holds, oldest first
        self.snapshot_gpus = 0

    def _changed(self) -> None:
        self.version += 1
        if self.on_change is not None:
            self.on_change(self)

    def take(self, gpus: int) -> None:
        """Reserve ``gpus`` GPUs (a worker, other tenants); snapshots that no longer fit are lost, oldest first."""
        self.free -= gpus
        while self.snapshot_gpus > self.free and self.snapshots:
            wid = next(iter(self.snapshots))
            self.snapshot_gpus -= self.snapshots.pop(wid)
        self._changed()

    def keep_snapshot(self, worker_id: int, gpus: int) -> None:
        """Worker ``worker_id`` was scaled down here: its FlashBoot snapshot holds ``gpus`` free GPUs."""
        self.drop_snapshot(worker_id)
        self.snapshots[worker_id] = gpus
        self.snapshot_gpus += gpus

    def drop_snapshot(self, worker_id: int) -> bool:
        """Forget the snapshot of ``worker_id`` (it starts, or its slot is retired); whether there was one."""
        gpus = self.snapshots.pop(worker_id, None)
        if gpus is None:
            return False
        self.snapshot_gpus -= gpus
        return True

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
        return HostView(
            self.host_id, self.gpu, self.priority, self.free, image_key in self.cache, "model" in self.cache
        )


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


def local_hosts(scenario: Scenario, n_slots: int, gpu: str) -> list[Host]:
    """The live executor's hosts: one per local slot (a GPU set or a CPU slot), each fitting one worker,
    of the endpoint's first GPU type, in the pool of the scenario's hosts for that type (for ``other_tenants``)."""
    ep = scenario.endpoint
    pool = next((i for i, p in enumerate(scenario.hosts) if p.gpu.upper() == gpu.upper()), -1)
    return [Host(i, gpu, 0, ep.gpus_per_worker, 1e15, pool) for i in range(n_slots)]
