"""The endpoint core: an unhealthy slot's retry delay doubles per consecutive failure and resets when ready.

Driven as a live driver would (events in with ``now``, effects out), so this is the rule both
engines carry out.
"""

from __future__ import annotations

import numpy as np

import simserve
from simserve.endpoint import EndpointCore, SetTimer, StartWorker, StopWorker, TimerKind, build_hosts
from simserve.records import Recorder
from simserve.rng import RandomStreams


def _retry_timers(out: list) -> list[SetTimer]:
    return [e for e in out if isinstance(e, SetTimer) and e.kind == TimerKind.UNHEALTHY_RETRY]


def test_retry_backoff_doubles_and_resets_when_ready() -> None:
    sc = simserve.load_scenario(
        "scenarios/quickstart.yaml", {"endpoint.active_workers": 1, "faults": {"unhealthy_retry": 10}}
    )
    core = EndpointCore(sc, RandomStreams(0), Recorder(np.asarray([1000.0])), build_hosts(sc))
    core.start(0.0)
    start = next(e for e in core.out if isinstance(e, StartWorker))
    core.out.clear()
    now, delays = 0.0, []
    for _ in range(3):  # three failed starts in a row: 10, 20, 40 s
        core.start_failed(start.worker_id, start.epoch, now)
        assert any(isinstance(e, StopWorker) for e in core.out)
        timer = _retry_timers(core.out)[0]
        delays.append(timer.at_s - now)
        core.out.clear()
        now = timer.at_s
        core.on_timer(timer.kind, timer.arg, now)  # an active worker starts again at its retry
        start = next(e for e in core.out if isinstance(e, StartWorker))
        core.out.clear()
    assert delays == [10.0, 20.0, 40.0]
    core.ready(start.worker_id, start.epoch, now + 1)  # ready again: the count resets
    core.out.clear()
    core.crashed(start.worker_id, start.epoch, now + 2)
    assert _retry_timers(core.out)[0].at_s - (now + 2) == 10.0
    assert core.faults.counts["init_failures"] == 3 and core.faults.counts["crashes"] == 1
