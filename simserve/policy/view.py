"""Frozen snapshots of the endpoint: the only input a policy reads.

Owns ``EndpointView`` (queue and worker counts at ``now_s``) and ``WorkerView`` (one
worker). Both drivers, simulated and live, build these; a parity test checks that the same
situation gives the same view and the same actions. No simpy, asyncio or clock here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WorkerView:
    """One worker as a policy sees it."""

    worker_id: int
    kind: str  # "active" | "flex"
    state: str  # initializing | running | idle | throttled | outdated | unhealthy
    jobs: int  # jobs running on it now
    created_seq: int  # creation order, for routing
    idle_since_s: float  # when it last became job-free while running; -1 when busy or not running
    host: int


@dataclass(frozen=True, slots=True)
class EndpointView:
    """The endpoint at ``now_s``: the queue, the workers by state, and the limits."""

    now_s: float
    in_queue: int  # jobs waiting
    in_progress: int  # jobs running
    queued_over_delay: int  # queued jobs that have waited longer than the scaler's delay value
    oldest_wait_s: float  # wait of the oldest queued job, 0 when the queue is empty
    n_starting: int  # workers initializing
    n_ready: int  # workers running (ready), busy or not
    n_free: int  # ready workers with a free job slot
    n_alive: int  # initializing + running + outdated (counted against max workers)
    n_scaled_down: int  # idle slots (image cached on their host)
    active_workers: int
    cap: int  # max workers after the balance cap
    idle_flex_ids: tuple[int, ...] = ()  # ready flex workers with no job, oldest-created first
