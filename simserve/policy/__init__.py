"""Pure decision code shared by the simulator and the live executor.

Owns the autoscalers (queue_delay, request_count, per_request), the idle-timeout rule,
routing order, host placement, revival order and FlashBoot eligibility, with the incremental
indexes that make them O(log n) (``FreeWorkers``, ``HostIndex``, ``ScaledDownSlots``).
Autoscalers and routers are built by kind from a registry each (``build_autoscaler``,
``build_router``). Inputs are frozen views (``view.py``) and the time ``now_s`` the driver
passes in; outputs are ``Action`` dataclasses (``actions.py``).
Never imports simpy, asyncio, time or a global random generator.
"""

from simserve.policy.actions import WAKE_NEVER, WAKE_NEXT, Action, Reject, ScaleDown, StartWorkers, Wake
from simserve.policy.autoscale import Autoscaler, PerRequest, QueueDelay, RequestCount, build_autoscaler
from simserve.policy.placement import (
    HostIndex,
    HostView,
    ScaledDownSlots,
    choose_host,
    choose_pool,
    flashboot_eligible,
)
from simserve.policy.routing import DEFAULT_ROUTING, FreeWorkers, NewestFirst, Router, build_router
from simserve.policy.view import EndpointView, WorkerView

__all__ = [
    "DEFAULT_ROUTING",
    "WAKE_NEVER",
    "WAKE_NEXT",
    "Action",
    "Autoscaler",
    "EndpointView",
    "FreeWorkers",
    "HostIndex",
    "HostView",
    "NewestFirst",
    "PerRequest",
    "QueueDelay",
    "Reject",
    "RequestCount",
    "Router",
    "ScaleDown",
    "ScaledDownSlots",
    "StartWorkers",
    "Wake",
    "WorkerView",
    "build_autoscaler",
    "build_router",
    "choose_host",
    "choose_pool",
    "flashboot_eligible",
]
