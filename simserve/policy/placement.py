"""Where a worker starts: host choice and which scaled-down slot to revive.

Owns the placement rule: the highest-priority GPU pool with a free host first; within a
pool, a host holding the image, then one holding the model, then the fullest host that
still fits (packing), then the lowest host id. Revival takes the most recently scaled
down slot (FlashBoot's best chance); retirement drops the least recent. Pure functions over views.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


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


@dataclass(frozen=True, slots=True)
class SlotView:
    """A scaled-down worker slot: its host and the order in which slots were scaled down."""

    worker_id: int
    host: int
    stop_seq: int  # increases with every scale-down


def choose_revival(slots: Sequence[SlotView]) -> int | None:
    """The scaled-down slot to restart: the most recently stopped one (FlashBoot's best chance).

    The driver restarts it on its own host when that host has room, else moves it to the
    host ``choose_host`` picks (a fresh cold start there).
    """
    if not slots:
        return None
    return max(slots, key=lambda s: s.stop_seq).worker_id


def choose_retirement(slots: Sequence[SlotView]) -> int | None:
    """The scaled-down slot to drop when slots exceed max + extra workers: the least recently stopped."""
    if not slots:
        return None
    return min(slots, key=lambda s: s.stop_seq).worker_id


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
