"""The job operations of an open run (``simserve.endpoint.jobops``), on the live driver's virtual clock:
jobs submitted at run time give the tables pre-drawn arrivals give; cancel, purge, retry and a job's own
execution timeout and TTL follow the platform's rules. Deterministic, no process, no HTTP."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

import simserve
from simserve.endpoint import EndpointCore, build_hosts
from simserve.live.clock import VirtualClock
from simserve.live.driver import LiveDriver
from simserve.live.simulated import SimulatedRuntime, run_simulated
from simserve.records import Recorder
from simserve.rng import RandomStreams


def scenario(**endpoint: Any) -> Any:
    ep = {"gpu": ["A100"], "max_workers": 2, "extra_workers": 1, "idle_timeout": 5.0, **endpoint}
    ep.setdefault("scaler", {"type": "queue_delay", "value": 1.0})
    return simserve.load_scenario(
        {
            "name": "jobops",
            "seed": 5,
            "horizon": 300.0,
            "endpoint": ep,
            "hosts": [{"gpu": "A100", "count": 4, "gpus_per_host": 1}],
            "cold_start": {
                "image_size": "100MB",
                "container_start": 0.5,
                "handler_init": 0.5,
                "model": {"size": "100MB", "placement": "cached"},
            },
            "workload": {
                "arrivals": {"type": "poisson", "rate": 0.5},
                "service": {"dist": "lognormal", "mean": 2.0, "cv": 0.5},
            },
        }
    )


class OpenRun:
    """An open run on a virtual clock: ``at(t, fn)`` schedules a client call, ``service`` per job."""

    def __init__(self, sc: Any, seed: int = 5) -> None:
        self.sc = sc
        streams = RandomStreams(seed)
        self.rec = Recorder(np.empty(0))
        self.core = EndpointCore(sc, streams, self.rec, build_hosts(sc))
        self.core.open_workload()
        self.clock = VirtualClock()
        self.driver = LiveDriver(self.core, self.clock)
        self.service: list[float] = []
        self.driver.runtime = SimulatedRuntime(self.driver, self.clock, self.service)
        self.driver.start()

    def submit_at(self, t: float, service_s: float, **policy: float) -> None:
        def go(_: Any) -> None:
            self.service.append(service_s)
            j = self.driver.submit(policy.get("exec_s"), policy.get("ttl_s"))
            assert j == len(self.service) - 1

        self.clock.call_at(t, go, None)

    def at(self, t: float, fn: Callable[[], Any]) -> None:
        self.clock.call_at(t, lambda _: fn(), None)

    def finish(self, until: float) -> Recorder:
        self.clock.run([], lambda j: None, until)
        self.driver.finish(until)
        self.rec.seal()
        return self.rec

    def status(self) -> list[str]:
        return list(self.rec.jobs_frame()["status"].astype(str))


def test_jobs_submitted_at_run_time_give_the_tables_of_pre_drawn_arrivals():
    sc = scenario()
    pre, jobs, horizon = run_simulated(sc, 5)
    run = OpenRun(sc)
    for t, s in zip(jobs.arrival_s.tolist(), jobs.service_s.tolist(), strict=True):
        run.submit_at(t, s)
    rec = run.finish(horizon)
    pd.testing.assert_frame_equal(rec.jobs_frame(), pre.jobs_frame())
    pd.testing.assert_frame_equal(rec.intervals_frame(), pre.intervals_frame())
    assert len(rec.arrival_s) == len(jobs) > 50


def test_cancel_a_queued_and_a_running_job():
    run = OpenRun(scenario(max_workers=1, extra_workers=0))
    run.submit_at(1.0, 50.0)  # job 0 runs on the one worker
    run.submit_at(2.0, 1.0)  # job 1 waits behind it
    run.at(30.0, lambda: run.driver.cancel(1))
    run.at(40.0, lambda: run.driver.cancel(0))
    run.submit_at(41.0, 1.0)  # job 2: after the worker restarted
    rec = run.finish(100.0)
    assert run.status() == ["cancelled", "cancelled", "completed"]
    assert rec.end_s[1] == 30.0 and math.isnan(rec.start_s[1])  # never ran
    assert rec.end_s[0] == 40.0 and rec.start_s[0] < 10.0  # cancelled while it ran
    assert not run.driver.cancel(2)  # an ended job is not cancelled
    assert rec.notes["cancel_restarts"] == 1 and rec.notes["api_cancels"] == 2
    w = rec.intervals_frame()
    restart = w[(w["worker_id"] == 0) & (w["start_s"] == 40.0)]
    assert list(restart["state"].astype(str)) == ["initializing"]  # the platform restarts the worker


def test_purge_cancels_the_queue_not_the_running_jobs():
    run = OpenRun(scenario(max_workers=1, extra_workers=0))
    for k in range(5):
        run.submit_at(1.0 + k * 0.1, 20.0)
    purged: list[int] = []
    run.at(10.0, lambda: purged.extend(run.driver.purge()))
    run.finish(100.0)
    assert purged == [1, 2, 3, 4]
    assert run.status() == ["completed"] + ["cancelled"] * 4


def test_execution_timeout_ttl_and_retry():
    run = OpenRun(scenario(max_workers=1, extra_workers=0))
    run.submit_at(1.0, 10.0, exec_s=3.0)  # job 0: over its own limit
    run.submit_at(1.5, 1.0, ttl_s=2.0)  # job 1: its TTL runs out while job 0 runs
    first_end: list[float] = []
    run.at(19.0, lambda: first_end.append(run.rec.end_s[1]))
    run.at(20.0, lambda: run.driver.retry(0))  # job 0 again: over its limit again
    retried = []
    run.at(21.0, lambda: retried.append(run.driver.retry(1)))  # a TTL'd job may retry too
    rec = run.finish(100.0)
    assert run.status()[:2] == ["timed_out", "timed_out"]
    assert math.isclose(first_end[0], 3.5)  # arrival + its own TTL, in the queue
    assert rec.end_s[1] == 21.0  # retried past its TTL: it times out again at once
    assert rec.start_s[0] >= 20.0 and math.isclose(rec.end_s[0] - rec.start_s[0], 3.0)  # the retry's run
    assert rec.notes["api_retries"] == 2 and rec.notes["ttl_expired"] >= 1 and retried == [True]


def test_per_request_cancel_of_a_job_waiting_for_its_start():
    run = OpenRun(scenario(scaler={"type": "per_request"}, max_workers=2))
    run.submit_at(1.0, 5.0)  # starts a worker; waits bound to its cold start
    run.at(1.5, lambda: run.driver.cancel(0))
    run.finish(60.0)
    assert run.status() == ["cancelled"]
