"""What the endpoint core decides, as data: the only thing a driver carries out.

Owns the effect types. The simulator's driver turns them into events on its clock; the live
driver into real processes, jobs sent over pipes and timers on asyncio. A driver never
decides anything itself: it performs each effect in order and reports back what happened
(``EndpointCore`` events: phase started, ready, start failed, job finished, crashed, timer).
Effects are slotted dataclasses (mutable: cheaper to build than frozen ones) and one plain tuple
(``RunJob``, the per-job effect); drivers treat them as read-only. No simpy, asyncio or clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from simserve.records import Phase


class TimerKind(IntEnum):
    """Why the core asked for a timer; the driver hands the kind and ``arg`` back at ``at_s``."""

    TICK = 0  # the autoscaler's periodic check
    IDLE = 1  # a worker's idle timeout may have passed
    INIT_TIMEOUT = 2  # a cold start has lasted init_timeout
    CRASH = 3  # an injected crash of a ready worker
    UNHEALTHY_RETRY = 4  # the platform retries an unhealthy slot
    GIVE_UP = 5  # the platform drops an unhealthy slot
    TENANT_DRAW = 6  # other tenants' demand on a host changes (random)
    TENANT_ROW = 7  # other tenants' demand on a host changes (CSV row)
    THROTTLE_MOVE = 8  # a throttled slot has waited move_after
    EVENT = 9  # a scheduled deploy or set
    STEP = 10  # a batching LLM worker's engine step ends (``endpoint.engine``)
    JOB_TTL = 11  # a job's own TTL (``policy.ttl`` of a request, ``endpoint.jobops``) has run out


@dataclass(slots=True)
class StartWorker:
    """Start worker ``worker_id`` on ``host``: a cold start, or a FlashBoot resume (``resume``).

    ``phases`` is the planned start, phase by phase with drawn durations: the simulator and the
    simulated runtime take exactly these; a real runtime measures its own and reports them.
    With ``fail_at_end`` the start fails when its last phase ends (``faults.init_failure_prob``:
    a real worker exits non-zero there).
    """

    worker_id: int
    epoch: int
    host: int
    phases: list[tuple[Phase, float]]
    resume: bool
    fail_at_end: bool
    image_version: int


#: Run job ``job`` on worker ``worker_id``; report its end with ``token``: the plain tuple
#: ``(worker_id, job, token, limit_s)``. The job may run at most ``limit_s`` (execution timeout, or
#: what is left of its TTL): a driver stops it there and reports ``timed_out``. A plain tuple
#: because it is the per-job effect (building one costs a fifth of a named tuple); it is the only
#: effect that is a ``tuple``, so drivers recognise it by ``effect.__class__ is tuple``.
RunJob = tuple[int, int, int, float]


@dataclass(slots=True)
class StopWorker:
    """The worker's process goes away (scale-down, crash, replacement, end of run).

    ``freeze_until_s >= 0``: FlashBoot may resume it on its host until then, so a runtime that
    can should freeze the process instead of stopping it (and drop it at that time or when the
    host is needed). ``kill``: an injected crash, the process is killed (SIGKILL) at once.
    """

    worker_id: int
    freeze_until_s: float = -1.0
    kill: bool = False


@dataclass(slots=True)
class SetTimer:
    """Call ``EndpointCore.on_timer(kind, arg, now)`` at ``at_s`` (scenario seconds)."""

    at_s: float
    kind: TimerKind
    arg: object


@dataclass(slots=True)
class Reserve:
    """Other tenants hold ``gpus`` GPUs of ``host`` from now on (live: a real slot reservation)."""

    host: int
    gpus: int


Effect = StartWorker | RunJob | StopWorker | SetTimer | Reserve
