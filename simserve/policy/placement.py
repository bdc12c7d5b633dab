"""Where a worker starts: host choice and which scaled-down slot to revive.

Owns the placement rule: the highest-priority GPU pool with a free host first; within a
pool, a host holding the image, then one holding the model, then the fullest host that
still fits (packing), then the lowest host id. Revival prefers the most recently scaled
down slot whose host can take it (FlashBoot's best chance). Pure functions over views.
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
    """A scaled-down worker slot: its host, whether the host can take it now, when it stopped."""

    worker_id: int
    host: int
    host_fits: bool
    stopped_at_s: float


def choose_revival(slots: Sequence[SlotView]) -> int | None:
    """The scaled-down slot to restart: most recently stopped among those whose host fits."""
    fitting = [s for s in slots if s.host_fits]
    if not fitting:
        return None
    return max(fitting, key=lambda s: (s.stopped_at_s, s.worker_id)).worker_id
