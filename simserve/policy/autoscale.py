"""Autoscalers: queue_delay, request_count and per_request, plus the idle-timeout rule.

Each autoscaler answers three questions from an ``EndpointView``: what to do on the periodic
tick, what to do when a job arrives and finds no free worker, and whether a worker whose
idle timeout has passed should be scaled down. Policy memory, if any, lives on the instance.
No simpy, asyncio or clock: ``now_s`` comes in the view.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

from simserve.policy.actions import WAKE_NEVER, WAKE_NEXT, Action, Reject, ScaleDown, StartWorkers, Wake
from simserve.policy.view import EndpointView, WorkerView
from simserve.scenario import PerRequestScaler, QueueDelayScaler, RequestCountScaler, Scaler


class Autoscaler(Protocol):
    kind: str
    queues: bool  # jobs wait in a queue (False: a job with no free worker starts one or is rejected)
    uses_ticks: bool  # tick() must be called every scaler_interval
    uses_idle_timeout: bool  # flex workers are scaled down after idle_timeout
    wants_idle_ids: bool  # tick() reads view.idle_flex_ids
    delay_s: float  # queued_over_delay threshold the driver must count against

    def tick(self, view: EndpointView) -> list[Action]: ...

    def on_arrival(self, view: EndpointView) -> list[Action]: ...

    def wake(self, view: EndpointView) -> Wake: ...

    def on_idle_timeout(self, view: EndpointView, worker: WorkerView) -> list[Action]: ...

    def idle_deadline_s(self, worker_kind: str, idle_since_s: float, idle_timeout_s: float) -> float: ...

    def idle_timeout_applies(self, worker_kind: str) -> bool: ...


def _headroom(view: EndpointView) -> int:
    return max(0, view.cap - view.n_alive)


class _Base:
    queues = True
    uses_ticks = True
    uses_idle_timeout = True
    wants_idle_ids = False
    delay_s = math.inf

    def wake(self, view: EndpointView) -> Wake:
        """After a tick on ``view`` that returned no action: when the next tick could act, if nothing else
        changes (``Wake``). Here: the next tick (no sleep)."""
        return WAKE_NEXT

    def on_arrival(self, view: EndpointView) -> list[Action]:
        """A job was queued with no worker alive or starting: start one at once."""
        if view.n_alive == 0 and view.cap > 0:
            return [StartWorkers(1, "first_request")]
        return []

    def idle_timeout_applies(self, worker_kind: str) -> bool:
        """Whether a job-free worker of this kind ever expires: flex workers, when this scaler uses the idle timeout."""
        return worker_kind == "flex" and self.uses_idle_timeout

    def idle_deadline_s(self, worker_kind: str, idle_since_s: float, idle_timeout_s: float) -> float:
        """When a worker job-free since ``idle_since_s`` is due for ``on_idle_timeout`` (inf: never)."""
        return idle_since_s + idle_timeout_s if self.idle_timeout_applies(worker_kind) else math.inf

    def on_idle_timeout(self, view: EndpointView, worker: WorkerView) -> list[Action]:
        """Scale a flex worker down once its idle timeout has passed."""
        if worker.kind == "flex" and worker.jobs == 0 and worker.state == "running":
            return [ScaleDown(worker.worker_id, "idle_timeout")]
        return []


class QueueDelay(_Base):
    """Add a worker for each queued request that has waited longer than ``delay_s``.

    On each tick: ``add = min(queued_over_delay - n_starting, cap - n_alive)`` — workers
    already starting are counted as the answer to the oldest waiting requests.
    """

    kind = "queue_delay"

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    def tick(self, view: EndpointView) -> list[Action]:
        add = min(view.queued_over_delay - view.n_starting, _headroom(view))
        return [StartWorkers(add, "queue_delay")] if add > 0 else []

    def wake(self, view: EndpointView) -> Wake:
        """A tick acts once more queued jobs have waited ``delay_s`` than workers are starting, with room
        under the cap: never while there is no room; else once ``n_starting + 1`` of them have. (More
        workers starting or alive only delay that; fewer, or a higher cap, wake the ticks.)"""
        if _headroom(view) <= 0:
            return WAKE_NEVER
        return Wake(view.n_starting + 1, self.delay_s)


class RequestCount(_Base):
    """Target workers = ceil((in_queue + in_progress) / per_worker), clamped to [active, cap].

    The idle timeout does not apply: each tick scales down job-free flex workers (oldest
    first) above the target.
    """

    kind = "request_count"
    uses_idle_timeout = False
    wants_idle_ids = True

    def __init__(self, per_worker: int) -> None:
        self.per_worker = per_worker

    def target(self, view: EndpointView) -> int:
        want = math.ceil((view.in_queue + view.in_progress) / self.per_worker)
        return min(max(want, view.active_workers), view.cap)

    def tick(self, view: EndpointView) -> list[Action]:
        want = self.target(view)
        if want > view.n_alive:
            return [StartWorkers(want - view.n_alive, "request_count")]
        surplus = view.n_alive - want
        return [ScaleDown(wid, "request_count") for wid in view.idle_flex_ids[:surplus]]


class PerRequest(_Base):
    """Lambda-style: no queue; a request with no free worker starts a new one, or is rejected at the cap."""

    kind = "per_request"
    queues = False
    uses_ticks = False

    def tick(self, view: EndpointView) -> list[Action]:
        return []

    def wake(self, view: EndpointView) -> Wake:
        return WAKE_NEVER

    def on_arrival(self, view: EndpointView) -> list[Action]:
        if view.n_alive < view.cap:
            return [StartWorkers(1, "per_request")]
        return [Reject("max_workers")]


#: the registry: a scenario's scaler config type -> how to build its autoscaler
REGISTRY: dict[type, Callable[[Any], Autoscaler]] = {
    QueueDelayScaler: lambda cfg: QueueDelay(float(cfg.value)),
    RequestCountScaler: lambda cfg: RequestCount(int(cfg.value)),
    PerRequestScaler: lambda cfg: PerRequest(),
}


def build_autoscaler(scaler_cfg: Scaler) -> Autoscaler:
    """The autoscaler for a scenario's ``endpoint.scaler`` section (``REGISTRY``)."""
    build = REGISTRY.get(type(scaler_cfg))
    if build is None:
        raise ValueError(f"no autoscaler for {type(scaler_cfg).__name__}")
    return build(scaler_cfg)
