"""The whole scenario language, live: rolling updates, faults and other tenants on real workers.

The library's dynamics scenarios, shortened and time-compressed (``speed``), run with the sleep
handler on real worker processes: a deploy makes workers ``outdated`` and replaces them with a
real new image payload (pulled again); injected init failures really exit the worker and crashes
really SIGKILL it (``unhealthy``); other tenants hold host slots so a revival is ``throttled``.
Each run passes the simulator's invariants.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import simserve
from tests.live.conftest import check_invariants, run_live

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]


def _states(result: simserve.RunResult) -> set[str]:
    return set(result.workers["state"].astype(str))


def test_rolling_update_live_shows_outdated_and_pulls_the_new_image(out_dir: Path) -> None:
    sc = simserve.load_scenario(
        "scenarios/rolling-update.yaml",
        {"horizon": 200, "events": [{"at": 80, "deploy": {"image_size": "9GB"}}], "cold_start.model.size": "1GB"},
    )
    # wall-time bound: at 10x, 1 s of lag on a loaded 2-core machine is 10 scenario s; the two active workers are
    # up by ~30 s (+ that lag) before the deploy at 80 s, which leaves 12 s wall for the replacements to pull
    _ex, result = run_live(sc, "sleep.py", out_dir, speed=10.0, timeout_s=90)
    check_invariants(sc, result)
    assert "outdated" in _states(result)
    notes = result.summary["dynamics"]
    assert notes["deploys"] == 1 and notes["replaced"] >= 1
    # the new version is a different payload: every host that ran it pulled it for real
    hosts = sorted((out_dir / "hosts").iterdir())
    assert any((h / "image-v1-67108864.bin").exists() for h in hosts)
    assert result.summary["requests"]["completed"] > 50


def test_crash_loop_live_shows_unhealthy_and_retries(out_dir: Path) -> None:
    sc = simserve.load_scenario(
        "scenarios/crash-loop.yaml",
        {
            "horizon": 400,
            "faults.crash_rate_per_hour": 90,
            "faults.unhealthy_retry": 60,
            "cold_start.model.size": "1GB",
            "cold_start.image_size": "1GB",
        },
    )
    # wall-time bound: at 20x a cold start (16 scenario s) plus 1 s of lag on a loaded 2-core machine is ~36 scenario
    # s of the 400, so the workers run long enough for the seeded init failures and crashes to happen
    _ex, result = run_live(sc, "sleep.py", out_dir, speed=20.0, timeout_s=90)
    check_invariants(sc, result)
    assert "unhealthy" in _states(result)
    notes = result.summary["dynamics"]
    assert notes["init_failures"] >= 1 and notes["crashes"] >= 1
    # injected init failures are real exits with a log tail
    faults = result.summary["live"]["faults"]
    assert any(f["kind"] == "init_failed" and "injected init failure" in f["log_tail"] for f in faults)
    # unhealthy time is never billed
    unhealthy = result.workers[result.workers["state"].astype(str) == "unhealthy"]
    assert not unhealthy["billed"].any()


def test_busy_market_live_shows_throttled(out_dir: Path) -> None:
    sc = simserve.load_scenario(
        "scenarios/busy-market.yaml",
        {
            "horizon": 600,
            "workload.arrivals": {
                "type": "bursty",
                "base_rate": 0.05,
                "burst_rate": 1.0,
                "mean_burst": 60,
                "mean_gap": 60,
            },
            "hosts": [
                {
                    "gpu": "H100",
                    "count": 1,
                    "gpus_per_host": 1,
                    "other_tenants": {"mean_utilization": 0.7, "time_scale": 30, "move_after": 30},
                }
            ],
            "cold_start.model.size": "1GB",
            "cold_start.image_size": "1GB",
        },
    )
    # wall-time bound: at 30x, 1 s of lag on a loaded 2-core machine is 30 scenario s, half a burst or a gap, so the
    # bursts still come apart, workers scale down (idle 10 s) and revive into the other tenants' slots
    _ex, result = run_live(sc, "sleep.py", out_dir, speed=30.0, timeout_s=90)
    check_invariants(sc, result)
    assert "throttled" in _states(result)
    throttled = result.workers[result.workers["state"].astype(str) == "throttled"]
    assert not throttled["billed"].any()
    assert result.summary["dynamics"]["throttle_episodes"] >= 1
