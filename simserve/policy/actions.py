"""Decisions returned by policies, as data: the only thing a policy outputs.

Drivers apply them (the simulator on its event loop, the live executor on real processes)
and record each applied action, so simulated and live action traces can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StartWorkers:
    """Start ``count`` flex workers (reviving scaled-down slots first)."""

    count: int
    reason: str


@dataclass(frozen=True, slots=True)
class ScaleDown:
    """Scale a ready, job-free worker down to ``idle`` (its host keeps the image)."""

    worker_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class Reject:
    """Refuse the arriving request (per_request mode at the worker cap)."""

    reason: str


Action = StartWorkers | ScaleDown | Reject


@dataclass(frozen=True, slots=True)
class Wake:
    """When an autoscaler's next tick could act, after a tick that did not, if nothing else changes.

    ``queued`` is how many queued jobs (those that count toward scaling) must have waited at
    least ``wait_s`` before a tick could act: 0 means the next tick may act (no sleep), -1 that no
    tick can act until the endpoint changes. The endpoint core sleeps the ticks until then and
    wakes them sooner when a job is queued (it may be one of those jobs), when fewer workers
    start or are alive than at the tick (a wake may rest on either count), or when a setting
    changes; so a wake may rest only on the queue, ``n_starting``, ``n_alive``, ``cap`` and
    ``active_workers``, and must hold however many more workers start or are alive.
    """

    queued: int
    wait_s: float = 0.0


#: the next tick may act: no sleep
WAKE_NEXT = Wake(0)
#: no tick can act until the endpoint changes
WAKE_NEVER = Wake(-1)
