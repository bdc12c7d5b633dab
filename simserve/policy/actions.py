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
