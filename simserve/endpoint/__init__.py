"""The platform's rules, once: the endpoint core that both drivers (sim and live) carry out.

``EndpointCore`` takes events (arrival, phase started, ready, start failed, job finished,
crashed, timer) with ``now`` and appends ``Effect``s (start, run a job, stop, set a timer,
reserve) for the driver. ``build_hosts`` makes the scenario's hosts; ``local_hosts`` the
live executor's slots; ``worker_concurrency`` says how many jobs one worker takes (the core and
the live executor both read it). Imports policy/, records, scenario and rng; never simpy or asyncio.
"""

from simserve.endpoint.core import EndpointCore
from simserve.endpoint.effects import Effect, Reserve, RunJob, SetTimer, StartWorker, StopWorker, TimerKind
from simserve.endpoint.hosts import Host, build_hosts, local_hosts
from simserve.endpoint.queue import JobQueue
from simserve.endpoint.workers import worker_concurrency

__all__ = [
    "Effect",
    "EndpointCore",
    "Host",
    "JobQueue",
    "Reserve",
    "RunJob",
    "SetTimer",
    "StartWorker",
    "StopWorker",
    "TimerKind",
    "build_hosts",
    "local_hosts",
    "worker_concurrency",
]
