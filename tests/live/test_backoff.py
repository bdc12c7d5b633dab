"""Live dispatcher: an unhealthy slot's retry delay doubles per consecutive failure, as in the simulator."""

from __future__ import annotations

import numpy as np

import simserve
from simserve.live.dispatch import Dispatcher, Launch, Timer
from simserve.policy import build_autoscaler
from simserve.records import Recorder


def test_retry_backoff_doubles_and_resets_when_ready() -> None:
    sc = simserve.load_scenario("scenarios/quickstart.yaml", {"endpoint.active_workers": 1})
    rec = Recorder(np.asarray([1000.0]))
    d = Dispatcher(sc, rec, build_autoscaler(sc.endpoint.scaler), ["H100"] * 2, unhealthy_retry_s=10.0)
    now = 0.0
    delays = []
    launch = next(e for e in d.start(now) if isinstance(e, Launch))
    for _ in range(3):  # three failed inits in a row: 10, 20, 40 s
        timer = next(e for e in d.start_failed(launch.worker_id, launch.epoch, now) if isinstance(e, Timer))
        delays.append(timer.at_s - now)
        now = timer.at_s
        d.recover(launch.worker_id, now)
        out: list = []
        d._scale_up("retry", now, out)  # revive the slot (the most recently scaled-down one)
        launch = next(e for e in out if isinstance(e, Launch))
    assert delays == [10.0, 20.0, 40.0]
    d.ready(launch.worker_id, launch.epoch, now + 1)  # ready again: the count resets
    out = d.crashed(launch.worker_id, launch.epoch, now + 2)
    timer = next(e for e in out if isinstance(e, Timer) and e.kind == "recover")
    assert timer.at_s - (now + 2) == 10.0
