"""GPU hosts: free GPUs and a disk-bounded LRU cache of images and models.

Owns ``Host`` (one machine: GPU type, free GPUs, an LRU cache keyed by item name with a
byte size) and ``build_hosts`` (the scenario's pools, or ample default pools of the
endpoint's GPU types). Cache bytes never exceed the disk. No simpy here: hosts are plain
state mutated by the engine.
"""

from __future__ import annotations

from collections import OrderedDict

from simserve.scenario import Scenario


class Host:
    """One GPU machine with an LRU image/model cache."""

    __slots__ = ("host_id", "gpu", "priority", "gpus", "free", "disk", "used", "cache")

    def __init__(self, host_id: int, gpu: str, priority: int, gpus: int, disk_bytes: float) -> None:
        self.host_id = host_id
        self.gpu = gpu
        self.priority = priority
        self.gpus = gpus
        self.free = gpus
        self.disk = disk_bytes
        self.used = 0.0
        self.cache: OrderedDict[str, float] = OrderedDict()

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
        return evicted


def build_hosts(scenario: Scenario) -> list[Host]:
    """Hosts of the scenario; by default, one single-worker host per possible worker per GPU type."""
    ep = scenario.endpoint
    priority = {name.upper(): i for i, name in enumerate(ep.gpu)}
    hosts: list[Host] = []
    if scenario.hosts:
        for pool in scenario.hosts:
            prio = priority.get(pool.gpu.upper())
            if prio is None:
                continue  # a pool of a GPU type the endpoint does not list is never used
            for _ in range(pool.count):
                hosts.append(Host(len(hosts), pool.gpu, prio, pool.gpus_per_host, pool.disk))
        return hosts
    slots = ep.worker_cap + ep.extra_workers
    for prio, gpu in enumerate(ep.gpu):
        for _ in range(max(1, slots)):
            hosts.append(Host(len(hosts), gpu, prio, ep.gpus_per_worker, 2e12))
    return hosts
