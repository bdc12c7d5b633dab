"""Golden cases computed by hand: an exact worker-interval trace and its bill under both presets."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import simserve

H100 = 0.00116


def _scenario(tmp_path: Path, preset: str = "seed") -> simserve.Scenario:
    trace = tmp_path / "trace.csv"
    trace.write_text("arrival_s,service_s\n10,4\n11,4\n30,2\n")
    return simserve.load_scenario(
        {
            "name": "golden",
            "horizon": 50,
            "base_dir": str(tmp_path),
            "endpoint": {
                "gpu": ["H100"],
                "max_workers": 1,
                "extra_workers": 0,
                "idle_timeout": "5s",
                "flashboot": False,
                "scaler": {"type": "queue_delay", "value": "4s"},
            },
            "cold_start": {
                "image_size": "1GB",
                "registry_bandwidth": "1GB/s",
                "container_start": "2s",
                "model": {"placement": "none"},
                "handler_init": "0.5s",
            },
            "hosts": [{"gpu": "H100", "count": 1, "gpus_per_host": 1, "disk": "10GB"}],
            "workload": {"arrivals": {"type": "trace", "path": "trace.csv"}, "service": "1s"},
            "billing": {"preset": preset},
        }
    )


EXPECTED_ROWS = [
    ("initializing", "pull", 10.0, 11.0),
    ("initializing", "container_start", 11.0, 13.0),
    ("initializing", "handler_init", 13.0, 13.5),
    ("running", "busy", 13.5, 21.5),
    ("running", "warm", 21.5, 26.5),
    ("idle", "", 26.5, 30.0),
    ("initializing", "container_start", 30.0, 32.0),  # image cached on the host: no pull
    ("initializing", "handler_init", 32.0, 32.5),
    ("running", "busy", 32.5, 34.5),
    ("running", "warm", 34.5, 39.5),
    ("idle", "", 39.5, 50.0),
]


def test_exact_worker_trace(tmp_path: Path) -> None:
    r = simserve.simulate(_scenario(tmp_path))
    rows = [
        (str(s), str(p), a, b)
        for s, p, a, b in r.workers[["state", "phase", "start_s", "end_s"]].itertuples(index=False)
    ]
    assert rows == EXPECTED_ROWS
    assert set(r.workers["worker_id"]) == {0}
    jobs = r.jobs
    assert jobs["start_s"].tolist() == [13.5, 17.5, 32.5]
    assert jobs["end_s"].tolist() == [17.5, 21.5, 34.5]
    assert jobs["cold_start"].tolist() == [True, False, True]
    assert jobs["latency_s"].tolist() == [7.5, 10.5, 4.5]
    assert jobs["status"].astype(str).tolist() == ["completed"] * 3


@pytest.mark.parametrize(
    "preset, billed_seconds",
    [
        # seed: billing runs from wake-up (pull included) to scale-down: 16.5 s -> 17 s, 9.5 s -> 10 s
        ("seed", [17, 10]),
        # runpod-2026-08: the image pull is not billed: 15.5 s -> 16 s, then 10 s
        ("runpod-2026-08", [16, 10]),
    ],
)
def test_bill_by_hand(tmp_path: Path, preset: str, billed_seconds: list[int]) -> None:
    r = simserve.simulate(_scenario(tmp_path, preset))
    total = sum(billed_seconds) * H100
    assert r.summary["cost_usd"]["total"] == pytest.approx(total, abs=1e-12)
    assert r.workers["cost_usd"].sum() == pytest.approx(total, abs=1e-12)
    by_state = r.summary["cost_usd"]["by_state"]
    assert by_state["idle"] == 0.0
    assert by_state["initializing"] + by_state["running"] == pytest.approx(total, abs=1e-12)
    pull_billed = bool(r.workers.loc[r.workers["phase"].astype(str) == "pull", "billed"].iloc[0])
    assert pull_billed is (preset == "seed")
    # gpu utilisation: busy 8 + 2 = 10 s of billed time
    billed_time = sum(r.workers.loc[r.workers["billed"], "end_s"] - r.workers.loc[r.workers["billed"], "start_s"])
    assert r.summary["gpu_utilization"] == pytest.approx(10.0 / billed_time)


def test_explicit_billing_table_unbills_warm_tail(tmp_path: Path) -> None:
    sc = _scenario(tmp_path)
    sc = simserve.load_scenario(sc.model_dump(), {"billing.states": {"running.warm": False}})
    r = simserve.simulate(sc)
    # sessions: [10, 21.5) = 11.5 -> 12 s and [30, 34.5) = 4.5 -> 5 s
    assert r.summary["cost_usd"]["total"] == pytest.approx(17 * H100, abs=1e-12)


def test_active_worker_billed_around_the_clock(tmp_path: Path) -> None:
    sc = simserve.load_scenario(_scenario(tmp_path).model_dump(), {"endpoint.active_workers": 1})
    r = simserve.simulate(sc)
    # one active worker: starts at 0 (pull 1 s, container 2 s, handler 0.5 s) and is billed until 50
    assert (r.workers["kind"].astype(str) == "active").all()
    assert r.summary["cost_usd"]["total"] == pytest.approx(50 * 0.00093, abs=1e-12)
    assert r.jobs["start_s"].tolist() == [10.0, 14.0, 30.0]
    assert not r.jobs["cold_start"].any()
    assert math.isclose(r.summary["workers"]["mean_alive"], 1.0)
