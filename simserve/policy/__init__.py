"""Pure decision code shared by the simulator and the live executor.

Owns the autoscalers (queue_delay, request_count, per_request), the idle-timeout rule,
routing order and host placement. Inputs are frozen views (``view.py``) and the time
``now_s`` the driver passes in; outputs are ``Action`` dataclasses (``actions.py``).
Never imports simpy, asyncio, time or a global random generator.
"""

from simserve.policy.actions import Action, Reject, StartWorkers, StopWorker
from simserve.policy.autoscale import Autoscaler, PerRequest, QueueDelay, RequestCount, build_autoscaler
from simserve.policy.placement import HostView, SlotView, choose_host, choose_retirement, choose_revival
from simserve.policy.routing import NewestFirst
from simserve.policy.view import EndpointView, WorkerView

__all__ = [
    "Action",
    "Autoscaler",
    "EndpointView",
    "HostView",
    "NewestFirst",
    "PerRequest",
    "QueueDelay",
    "Reject",
    "RequestCount",
    "SlotView",
    "StartWorkers",
    "StopWorker",
    "WorkerView",
    "build_autoscaler",
    "choose_host",
    "choose_retirement",
    "choose_revival",
]
