"""Pure decision code shared by the simulator and the live executor.

Owns the autoscalers (queue_delay, request_count, per_request), the idle-timeout rule,
routing order, host placement, revival order and FlashBoot eligibility, with the
incremental indexes that make them O(log n) (``FreeWorkers``, ``HostIndex``,
``ScaledDownSlots``). Inputs are frozen views (``view.py``) and the time ``now_s`` the driver
passes in; outputs are ``Action`` dataclasses (``actions.py``).
Never imports simpy, asyncio, time or a global random generator.
"""

from simserve.policy.actions import Action, Reject, StartWorkers, StopWorker
from simserve.policy.autoscale import Autoscaler, PerRequest, QueueDelay, RequestCount, build_autoscaler
from simserve.policy.placement import (
    HostIndex,
    HostView,
    ScaledDownSlots,
    choose_host,
    choose_pool,
    flashboot_eligible,
)
from simserve.policy.routing import FreeWorkers, NewestFirst
from simserve.policy.view import EndpointView, WorkerView

__all__ = [
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
    "ScaledDownSlots",
    "StartWorkers",
    "StopWorker",
    "WorkerView",
    "build_autoscaler",
    "choose_host",
    "choose_pool",
    "flashboot_eligible",
]
