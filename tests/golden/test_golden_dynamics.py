"""Golden cases by hand: one rolling update, one crash with a requeued job, one throttle episode.

Each asserts the exact worker-interval rows (state, phase, start, end, billed) and the bill.
Deterministic arrivals and service times come in through ``simulate(..., jobs=...)``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import simserve
from simserve.rng import RandomStreams
from simserve.workload import Jobs

H100 = 0.00116  # flex USD per GPU-second


def _base(**over: Any) -> dict[str, Any]:
    sc: dict[str, Any] = {
        "name": "golden-dynamics",
        "horizon": 60,
        "endpoint": {
            "gpu": ["H100"],
            "max_workers": 2,
            "extra_workers": 0,
            "idle_timeout": "100s",
            "flashboot": False,
            "scaler": {"type": "queue_delay", "value": "0.5s"},
        },
        "cold_start": {
            "image_size": "1GB",
            "registry_bandwidth": "1GB/s",
            "container_start": "2s",
            "model": {"placement": "none"},
            "handler_init": "0.5s",
        },
        "hosts": [{"gpu": "H100", "count": 1, "gpus_per_host": 2, "disk": "10GB"}],
        "workload": {"arrivals": {"type": "poisson", "rate": 0.001}, "service": "1s"},
        "billing": {"preset": "seed"},
    }
    sc.update(over)
    return sc


def _jobs(*pairs: tuple[float, float]) -> Jobs:
    return Jobs(np.array([a for a, _ in pairs], dtype=float), np.array([s for _, s in pairs], dtype=float))


def _rows(result: simserve.RunResult, wid: int) -> list[tuple[str, str, float, float, bool]]:
    g = result.workers[result.workers["worker_id"] == wid]
    return [
        (str(r.state), str(r.phase), round(r.start_s, 6), round(r.end_s, 6), bool(r.billed)) for r in g.itertuples()
    ]


def test_rolling_update_outdated_billed_only_while_processing() -> None:
    sc = _base(events=[{"at": 20, "deploy": {"image_size": "1GB"}}])
    r = simserve.simulate(sc, jobs=_jobs((0.0, 18.0), (10.0, 2.0)))
    # w0: first cold start, j0 busy; at the deploy it is busy -> outdated (billed), finishes j0 at 21.5,
    # waits job-free and unbilled while the one replacement allowed (10% of 2 -> 1) is w1's,
    # then restarts on the new version (image:1 already pulled on the host by w1: no pull).
    assert _rows(r, 0) == [
        ("initializing", "pull", 0.0, 1.0, True),
        ("initializing", "container_start", 1.0, 3.0, True),
        ("initializing", "handler_init", 3.0, 3.5, True),
        ("running", "busy", 3.5, 20.0, True),
        ("outdated", "busy", 20.0, 21.5, True),
        ("outdated", "warm", 21.5, 23.5, False),
        ("initializing", "container_start", 23.5, 25.5, True),
        ("initializing", "handler_init", 25.5, 26.0, True),
        ("running", "warm", 26.0, 60.0, True),
    ]
    # w1: started by the queue-delay tick at 11 (image cached: no pull); job-free at the deploy, so it
    # is replaced at once: a pull of the new image (a cache miss everywhere).
    assert _rows(r, 1) == [
        ("initializing", "container_start", 11.0, 13.0, True),
        ("initializing", "handler_init", 13.0, 13.5, True),
        ("running", "busy", 13.5, 15.5, True),
        ("running", "warm", 15.5, 20.0, True),
        ("initializing", "pull", 20.0, 21.0, True),
        ("initializing", "container_start", 21.0, 23.0, True),
        ("initializing", "handler_init", 23.0, 23.5, True),
        ("running", "warm", 23.5, 60.0, True),
    ]
    # sessions: w0 [0, 21.5] -> 22 s and [23.5, 60] -> 37 s; w1 [11, 60] -> 49 s
    assert r.summary["cost_usd"]["total"] == pytest.approx((22 + 37 + 49) * H100, abs=1e-12)
    assert r.summary["cost_usd"]["by_state"]["outdated"] == pytest.approx(1.5 * H100 + 0.5 * H100, abs=1e-12)
    assert r.summary["dynamics"]["deploys"] == 1
    assert r.summary["dynamics"]["replaced"] == 2
    assert list(r.jobs["status"].astype(str)) == ["completed", "completed"]
    assert list(r.jobs["end_s"]) == [21.5, 15.5]


CRASH_SEED = 22  # its "faults" stream first draws 75.15 s, then 618.6 s (mean 100 s at 36 crashes/hour)


def test_crash_requeues_the_running_job() -> None:
    rng = RandomStreams(CRASH_SEED).get("faults")
    first, second = rng.exponential(100.0), rng.exponential(100.0)
    t = 3.5 + first  # w0 is ready at 3.5 and crashes `first` seconds later, in the middle of j0
    assert 10 < first < 90 and second > 300
    sc = _base(
        horizon=300,
        endpoint={
            "gpu": ["H100"],
            "max_workers": 1,
            "extra_workers": 1,
            "idle_timeout": "5s",
            "flashboot": False,
            "scaler": {"type": "queue_delay", "value": "0.5s"},
        },
        hosts=[{"gpu": "H100", "count": 1, "gpus_per_host": 1, "disk": "10GB"}],
        faults={"crash_rate_per_hour": 36, "retry_limit": 1},
    )
    r = simserve.simulate(sc, seed=CRASH_SEED, jobs=_jobs((0.0, 100.0)))
    assert _rows(r, 0) == [
        ("initializing", "pull", 0.0, 1.0, True),
        ("initializing", "container_start", 1.0, 3.0, True),
        ("initializing", "handler_init", 3.0, 3.5, True),
        ("running", "busy", 3.5, round(t, 6), True),
        ("unhealthy", "", round(t, 6), 300.0, False),  # retried after 1 h: past the horizon
    ]
    # j0 goes back to the queue; nothing is alive, so a worker starts at once in the second slot
    # (max 1 + extra 1), on the GPU the crash freed, image cached: no pull
    assert _rows(r, 1) == [
        ("initializing", "container_start", round(t, 6), round(t + 2, 6), True),
        ("initializing", "handler_init", round(t + 2, 6), round(t + 2.5, 6), True),
        ("running", "busy", round(t + 2.5, 6), round(t + 102.5, 6), True),
        ("running", "warm", round(t + 102.5, 6), round(t + 107.5, 6), True),
        ("idle", "", round(t + 107.5, 6), 300.0, False),
    ]
    job = r.jobs.iloc[0]
    assert str(job["status"]) == "completed" and job["worker_id"] == 1
    assert job["start_s"] == pytest.approx(t + 2.5) and job["end_s"] == pytest.approx(t + 102.5)
    assert r.summary["requests"]["retried"] == 1
    assert r.summary["dynamics"]["crashes"] == 1 and r.summary["dynamics"]["retries"] == 1
    assert r.summary["cost_usd"]["by_state"]["unhealthy"] == 0.0
    assert r.summary["cost_usd"]["total"] == pytest.approx((math.ceil(t) + math.ceil(107.5)) * H100, abs=1e-12)


def test_crash_past_the_retry_limit_fails_the_job() -> None:
    sc = _base(
        horizon=300,
        endpoint={
            "gpu": ["H100"],
            "max_workers": 1,
            "extra_workers": 1,
            "idle_timeout": "5s",
            "flashboot": False,
            "scaler": {"type": "queue_delay", "value": "0.5s"},
        },
        hosts=[{"gpu": "H100", "count": 1, "gpus_per_host": 1, "disk": "10GB"}],
        faults={"crash_rate_per_hour": 36, "retry_limit": 0},
    )
    r = simserve.simulate(sc, seed=CRASH_SEED, jobs=_jobs((0.0, 100.0)))
    job = r.jobs.iloc[0]
    assert str(job["status"]) == "failed"
    assert job["end_s"] == pytest.approx(3.5 + RandomStreams(CRASH_SEED).get("faults").exponential(100.0))
    assert r.summary["requests"]["retried"] == 0 and r.summary["requests"]["failed"] == 1


def test_throttle_episode(tmp_path: Path) -> None:
    (tmp_path / "tenants.csv").write_text("time_s,utilization\n0,0\n100,1\n300,0\n")
    sc = _base(
        horizon=400,
        base_dir=str(tmp_path),
        endpoint={
            "gpu": ["H100"],
            "max_workers": 1,
            "extra_workers": 1,
            "idle_timeout": "5s",
            "flashboot": True,
            "scaler": {"type": "queue_delay", "value": "0.5s"},
        },
        hosts=[{"gpu": "H100", "count": 1, "gpus_per_host": 1, "disk": "10GB", "other_tenants": "tenants.csv"}],
    )
    r = simserve.simulate(sc, jobs=_jobs((0.0, 10.0), (150.0, 10.0)))
    # the tenant takes the host's only GPU at 100 (free since the scale-down at 18.5): the FlashBoot
    # snapshot it held is lost. The slot asked to start at 150 is throttled (unbilled) until the tenant
    # leaves at 300, then starts there cold (a FlashBoot miss; the image is still cached: no pull)
    assert _rows(r, 0) == [
        ("initializing", "pull", 0.0, 1.0, True),
        ("initializing", "container_start", 1.0, 3.0, True),
        ("initializing", "handler_init", 3.0, 3.5, True),
        ("running", "busy", 3.5, 13.5, True),
        ("running", "warm", 13.5, 18.5, True),
        ("idle", "", 18.5, 150.0, False),
        ("throttled", "", 150.0, 300.0, False),
        ("initializing", "container_start", 300.0, 302.0, True),
        ("initializing", "handler_init", 302.0, 302.5, True),
        ("running", "busy", 302.5, 312.5, True),
        ("running", "warm", 312.5, 317.5, True),
        ("idle", "", 317.5, 400.0, False),
    ]
    assert r.workers["worker_id"].nunique() == 1  # no other host: no extra worker could take over
    assert list(r.jobs["start_s"]) == [3.5, 302.5]
    assert r.summary["dynamics"]["throttle_episodes"] == 1
    assert (r.summary["counters"]["flashboot_misses"], r.summary["counters"]["flashboot_resumes"]) == (1, 0)
    assert r.summary["cost_usd"]["total"] == pytest.approx((19 + 18) * H100, abs=1e-12)
    assert r.summary["workers"]["mean_by_state"]["throttled"] == pytest.approx(150 / 400)


def test_throttled_slot_is_taken_over_by_an_extra_worker(tmp_path: Path) -> None:
    """Same story with a second host: the extra slot starts there at once (a pull: that host lacks the image)."""
    (tmp_path / "tenants.csv").write_text("time_s,utilization\n0,0\n100,1\n300,0\n")
    sc = _base(
        horizon=400,
        base_dir=str(tmp_path),
        endpoint={
            "gpu": ["H100"],
            "max_workers": 1,
            "extra_workers": 1,
            "idle_timeout": "5s",
            "flashboot": True,
            "scaler": {"type": "queue_delay", "value": "0.5s"},
        },
        hosts=[
            {"gpu": "H100", "count": 1, "gpus_per_host": 1, "disk": "10GB", "other_tenants": "tenants.csv"},
            {"gpu": "H100", "count": 1, "gpus_per_host": 1, "disk": "10GB"},
        ],
    )
    r = simserve.simulate(sc, jobs=_jobs((0.0, 10.0), (150.0, 10.0)))
    # w0 is throttled at 150; when its host frees at 300 no job waits, so it goes back to idle
    assert _rows(r, 0)[5:] == [
        ("idle", "", 18.5, 150.0, False),
        ("throttled", "", 150.0, 300.0, False),
        ("idle", "", 300.0, 400.0, False),
    ]
    assert _rows(r, 1) == [
        ("initializing", "pull", 150.0, 151.0, True),
        ("initializing", "container_start", 151.0, 153.0, True),
        ("initializing", "handler_init", 153.0, 153.5, True),
        ("running", "busy", 153.5, 163.5, True),
        ("running", "warm", 163.5, 168.5, True),
        ("idle", "", 168.5, 400.0, False),
    ]
    assert list(r.jobs["start_s"]) == [3.5, 153.5]
    assert r.summary["dynamics"]["throttle_episodes"] == 1
