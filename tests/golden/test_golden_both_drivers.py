"""Golden cases by hand, each run on both drivers of the endpoint core.

The simulator (``simserve.simulate``) and the live driver on its virtual clock
(``run_simulated``) carry out the same ``EndpointCore``. Each test pins one platform rule the
old sim engine and live dispatcher used to decide differently, with the exact worker-interval
rows (state, phase, start, end, billed), the exact job rows (status, start, end, worker, cold)
and the exact bill. Starts: pull 1 s (1 GB at 1 GB/s, only when the host lacks the image),
container_start 2 s, handler_init 0.5 s; FlashBoot resume 1 s. Ticks every 1 s.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import simserve
from simserve.live.simulated import run_simulated
from simserve.results.result import build_result
from simserve.workload import Jobs

H100 = 0.00116  # flex USD per GPU-second
DRIVERS = ["sim", "live-simulated"]
NAN = None  # a NaN time in a job row


def _base(endpoint: dict[str, Any] | None = None, **over: Any) -> dict[str, Any]:
    ep: dict[str, Any] = {
        "gpu": ["H100"],
        "max_workers": 1,
        "extra_workers": 0,
        "idle_timeout": "5s",
        "flashboot": False,
        "scaler": {"type": "queue_delay", "value": "0.5s"},
    }
    ep.update(endpoint or {})
    sc: dict[str, Any] = {
        "name": "golden-both-drivers",
        "horizon": 30,
        "endpoint": ep,
        "cold_start": {
            "image_size": "1GB",
            "registry_bandwidth": "1GB/s",
            "container_start": "2s",
            "model": {"placement": "none"},
            "handler_init": "0.5s",
            "flashboot_resume": "1s",
        },
        "hosts": [{"gpu": "H100", "count": 1, "gpus_per_host": 2, "disk": "10GB"}],
        "workload": {"arrivals": {"type": "poisson", "rate": 0.001}, "service": "1s"},
        "billing": {"preset": "seed"},
    }
    sc.update(over)
    return sc


def _jobs(*pairs: tuple[float, float]) -> Jobs:
    return Jobs(np.array([a for a, _ in pairs], dtype=float), np.array([s for _, s in pairs], dtype=float))


def run(sc: dict[str, Any], jobs: Jobs, driver: str) -> simserve.RunResult:
    scenario = simserve.load_scenario(sc)
    if driver == "sim":
        return simserve.simulate(scenario, jobs=jobs)
    rec, _, horizon = run_simulated(scenario, scenario.seed, jobs=jobs)
    return build_result(scenario, scenario.seed, rec, engine="live", horizon_s=horizon)


def _rows(r: simserve.RunResult, wid: int) -> list[tuple[str, str, float, float, bool]]:
    g = r.workers[r.workers["worker_id"] == wid]
    return [
        (str(x.state), str(x.phase), round(x.start_s, 6), round(x.end_s, 6), bool(x.billed)) for x in g.itertuples()
    ]


def _t(x: float) -> float | None:
    return None if math.isnan(x) else round(float(x), 6)


def _job_rows(r: simserve.RunResult) -> list[tuple[str, float | None, float | None, int, bool]]:
    return [
        (str(x.status), _t(x.start_s), _t(x.end_s), int(x.worker_id), bool(x.cold_start)) for x in r.jobs.itertuples()
    ]


def _bill(r: simserve.RunResult, seconds: int) -> None:
    assert r.summary["cost_usd"]["total"] == pytest.approx(seconds * H100, abs=1e-12)
    assert r.workers["cost_usd"].sum() == pytest.approx(seconds * H100, abs=1e-12)


COLD_0 = [  # the first start of w0 at 0: the host lacks the image
    ("initializing", "pull", 0.0, 1.0, True),
    ("initializing", "container_start", 1.0, 3.0, True),
    ("initializing", "handler_init", 3.0, 3.5, True),
]


@pytest.mark.parametrize("driver", DRIVERS)
def test_execution_timeout_restarts_the_worker_in_place(driver: str) -> None:
    sc = _base({"execution_timeout": "10s", "flashboot": True})
    r = run(sc, _jobs((0.0, 30.0), (1.0, 2.0)), driver)
    # j0 starts at 3.5 and overruns its 10 s limit: timed_out at 13.5. w0 restarts in place:
    # running -> idle (zero length, no row) -> initializing on host 0, image cached (no pull) and no
    # FlashBoot (a restart, not a revival, though FlashBoot is on). Ready at 16, it takes the queued j1
    # (2 s), then stays warm until 18 + 5 and scales down.
    assert _rows(r, 0) == [
        *COLD_0,
        ("running", "busy", 3.5, 13.5, True),
        ("initializing", "container_start", 13.5, 15.5, True),
        ("initializing", "handler_init", 15.5, 16.0, True),
        ("running", "busy", 16.0, 18.0, True),
        ("running", "warm", 18.0, 23.0, True),
        ("idle", "", 23.0, 30.0, False),
    ]
    assert _job_rows(r) == [("timed_out", 3.5, 13.5, 0, True), ("completed", 16.0, 18.0, 0, True)]
    # one session: [0, 23] on host 0 (the restart's initializing is billed, no gap) -> 23 s
    _bill(r, 23)
    c = r.summary["counters"]
    assert (c["exec_timeouts"], c["cold_starts"], c["flashboot_resumes"], c["pulls"]) == (1, 2, 0, 1)


@pytest.mark.parametrize("driver", DRIVERS)
def test_jobs_in_flight_at_the_horizon(driver: str) -> None:
    r = run(_base(horizon=10), _jobs((0.0, 100.0), (1.0, 1.0)), driver)
    # j0 runs from 3.5 past the horizon: in_progress (no end); j1 still queued: in_queue. Neither cancelled.
    assert _rows(r, 0) == [*COLD_0, ("running", "busy", 3.5, 10.0, True)]
    assert _job_rows(r) == [("in_progress", 3.5, NAN, 0, True), ("in_queue", NAN, NAN, -1, False)]
    _bill(r, 10)


@pytest.mark.parametrize("driver", DRIVERS)
def test_flashboot_within_the_window_then_cold_after_it(driver: str) -> None:
    sc = _base({"flashboot": True}, horizon=100)
    sc["cold_start"]["flashboot_window"] = "20s"
    r = run(sc, _jobs((0.0, 2.0), (20.0, 2.0), (60.0, 2.0)), driver)
    # scaled down at 5.5 + 5 = 10.5 on host 0; revived there at 20 (9.5 s later, within 20 s): FlashBoot
    # resume 1 s. Scaled down at 23 + 5 = 28; revived at 60 (32 s later): a cold start, image cached.
    assert _rows(r, 0) == [
        *COLD_0,
        ("running", "busy", 3.5, 5.5, True),
        ("running", "warm", 5.5, 10.5, True),
        ("idle", "", 10.5, 20.0, False),
        ("initializing", "flashboot_resume", 20.0, 21.0, True),
        ("running", "busy", 21.0, 23.0, True),
        ("running", "warm", 23.0, 28.0, True),
        ("idle", "", 28.0, 60.0, False),
        ("initializing", "container_start", 60.0, 62.0, True),
        ("initializing", "handler_init", 62.0, 62.5, True),
        ("running", "busy", 62.5, 64.5, True),
        ("running", "warm", 64.5, 69.5, True),
        ("idle", "", 69.5, 100.0, False),
    ]
    assert _job_rows(r) == [
        ("completed", 3.5, 5.5, 0, True),
        ("completed", 21.0, 23.0, 0, True),
        ("completed", 62.5, 64.5, 0, True),
    ]
    # sessions: [0, 10.5] -> 11, [20, 28] -> 8, [60, 69.5] -> 10
    _bill(r, 29)
    c = r.summary["counters"]
    assert (c["cold_starts"], c["flashboot_resumes"], c["pulls"], c["scale_downs"]) == (2, 1, 1, 3)


IDLE_JOBS = ((0.0, 2.0), (6.25, 1.0))


@pytest.mark.parametrize("driver", DRIVERS)
def test_idle_deadline_is_last_job_end_plus_idle_timeout(driver: str) -> None:
    r = run(_base(), _jobs(*IDLE_JOBS), driver)
    # the first idle check (5.5 + 5 = 10.5) finds w0 job-free only since 7.25: it waits to 12.25
    assert _rows(r, 0) == [
        *COLD_0,
        ("running", "busy", 3.5, 5.5, True),
        ("running", "warm", 5.5, 6.25, True),
        ("running", "busy", 6.25, 7.25, True),
        ("running", "warm", 7.25, 12.25, True),
        ("idle", "", 12.25, 30.0, False),
    ]
    assert _job_rows(r) == [("completed", 3.5, 5.5, 0, True), ("completed", 6.25, 7.25, 0, False)]
    _bill(r, 13)  # [0, 12.25] -> 13 s


@pytest.mark.parametrize("driver", DRIVERS)
def test_request_count_ignores_the_idle_timeout(driver: str) -> None:
    sc = _base({"scaler": {"type": "request_count", "value": 1}, "idle_timeout": "0.2s"})
    r = run(sc, _jobs(*IDLE_JOBS), driver)
    # no idle deadline (it would be 5.7): the tick at 6 finds target ceil(0 / 1) = 0 < 1 alive and stops
    # the job-free w0. j1 at 6.25 starts it again (cached, no FlashBoot); the tick at 10 stops it.
    assert _rows(r, 0) == [
        *COLD_0,
        ("running", "busy", 3.5, 5.5, True),
        ("running", "warm", 5.5, 6.0, True),
        ("idle", "", 6.0, 6.25, False),
        ("initializing", "container_start", 6.25, 8.25, True),
        ("initializing", "handler_init", 8.25, 8.75, True),
        ("running", "busy", 8.75, 9.75, True),
        ("running", "warm", 9.75, 10.0, True),
        ("idle", "", 10.0, 30.0, False),
    ]
    assert _job_rows(r) == [("completed", 3.5, 5.5, 0, True), ("completed", 8.75, 9.75, 0, True)]
    _bill(r, 6 + 4)  # sessions [0, 6] -> 6 s, [6.25, 10] = 3.75 -> 4 s


@pytest.mark.parametrize("driver", DRIVERS)
def test_routing_newest_created_free_worker_first(driver: str) -> None:
    sc = _base({"max_workers": 2})
    r = run(sc, _jobs((0.0, 2.0), (1.25, 0.5), (6.0, 1.0)), driver)
    # w0 starts at 0 for j0. Tick 2: j0 and j1 (in since 1.25) waited over 0.5 s, one start in flight ->
    # w1 starts on host 0's second GPU, image cached since 1 (no pull). w0 takes j0 at 3.5 (to 5.5), w1 j1
    # at 4.5 (to 5.0). At 6 both are free; w0 was freed last, but w1 is the newest created: it takes j2.
    assert _rows(r, 0) == [
        *COLD_0,
        ("running", "busy", 3.5, 5.5, True),
        ("running", "warm", 5.5, 10.5, True),
        ("idle", "", 10.5, 30.0, False),
    ]
    assert _rows(r, 1) == [
        ("initializing", "container_start", 2.0, 4.0, True),
        ("initializing", "handler_init", 4.0, 4.5, True),
        ("running", "busy", 4.5, 5.0, True),
        ("running", "warm", 5.0, 6.0, True),
        ("running", "busy", 6.0, 7.0, True),
        ("running", "warm", 7.0, 12.0, True),
        ("idle", "", 12.0, 30.0, False),
    ]
    assert _job_rows(r) == [
        ("completed", 3.5, 5.5, 0, True),
        ("completed", 4.5, 5.0, 1, True),
        ("completed", 6.0, 7.0, 1, False),
    ]
    _bill(r, 11 + 10)  # w0 [0, 10.5] -> 11 s; w1 [2, 12] -> 10 s


@pytest.mark.parametrize("driver", DRIVERS)
def test_per_request_ttl_runs_out_during_the_cold_start(driver: str) -> None:
    sc = _base({"scaler": {"type": "per_request"}, "job_ttl": "2s"}, horizon=20)
    r = run(sc, _jobs((0.0, 1.0), (5.0, 1.0)), driver)
    # j0 starts w0 and waits bound to it; its TTL ends at 2, before w0 is ready at 3.5: timed_out at 2,
    # never run. w0 still becomes ready (warm), takes j1 at 5 (warm path), scales down at 6 + 5.
    assert _rows(r, 0) == [
        *COLD_0,
        ("running", "warm", 3.5, 5.0, True),
        ("running", "busy", 5.0, 6.0, True),
        ("running", "warm", 6.0, 11.0, True),
        ("idle", "", 11.0, 20.0, False),
    ]
    assert _job_rows(r) == [("timed_out", NAN, 2.0, -1, False), ("completed", 5.0, 6.0, 0, False)]
    _bill(r, 11)


@pytest.mark.parametrize("driver", DRIVERS)
def test_init_failure_unhealthy_until_the_retry_then_idle(driver: str) -> None:
    sc = _base(faults={"init_failure_prob": 1.0, "unhealthy_retry": "10s"})
    r = run(sc, _jobs((0.0, 1.0)), driver)
    # every start fails at its end. The first ends at 3.5: unhealthy (unbilled), holding the only slot
    # (ticks 4..13 start nothing: no_slot), j0 stays queued. Retry at 13.5: the flex slot scales down
    # (idle); tick 14 revives it (image cached: no pull), fails at 16.5; next retry 16.5 + 20 > 30.
    assert _rows(r, 0) == [
        *COLD_0,
        ("unhealthy", "", 3.5, 13.5, False),
        ("idle", "", 13.5, 14.0, False),
        ("initializing", "container_start", 14.0, 16.0, True),
        ("initializing", "handler_init", 16.0, 16.5, True),
        ("unhealthy", "", 16.5, 30.0, False),
    ]
    assert _job_rows(r) == [("in_queue", NAN, NAN, -1, False)]
    _bill(r, 4 + 3)  # sessions [0, 3.5] -> 4 s, [14, 16.5] -> 3 s
    c = r.summary["counters"]
    assert (c["init_failures"], c["unhealthy_retries"], c["cold_starts"]) == (2, 1, 2)
