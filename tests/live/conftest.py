"""Helpers for the live executor's tests: small CPU scenarios and the simulator's invariants."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import simserve
from simserve.results.invariants import check_alive_limit, check_jobs, check_tiling, expected_cost

HANDLERS = Path(__file__).resolve().parents[2] / "examples" / "handlers"


def scenario(
    scaler: dict[str, Any],
    horizon: float = 40.0,
    rate: float = 1.0,
    faults: dict[str, Any] | None = None,
    service_mean: float = 1.0,
    **endpoint: Any,
) -> Any:
    ep = {
        "gpu": ["A100"],
        "max_workers": 3,
        "extra_workers": 1,
        "idle_timeout": 4.0,
        "scaler": scaler,
        "scaler_interval": 1.0,
        **endpoint,
    }
    return simserve.load_scenario(
        {
            "name": "live-test",
            "seed": 3,
            "horizon": horizon,
            "endpoint": ep,
            "cold_start": {"image_size": "2MB", "model": {"size": "4MB", "placement": "cached", "bandwidth": "8MB/s"}},
            "workload": {
                "arrivals": {"type": "poisson", "rate": rate},
                "service": {"dist": "lognormal", "mean": service_mean, "cv": 0.5},
            },
            "faults": faults,
        }
    )


def run_live(
    sc: Any, handler: str, out: Path, *, speed: float = 8.0, timeout_s: float = 60.0, during: Any = None, **opts: Any
) -> Any:
    """Run the executor on ``sc``; ``during(executor)`` is an optional coroutine run alongside."""
    from simserve.live.executor import LiveExecutor, LiveOptions
    from simserve.live.report import save_live_run

    ex = LiveExecutor(sc, LiveOptions(handler=HANDLERS / handler, out_dir=out, speed=speed, **opts))

    async def main() -> Any:
        task = asyncio.create_task(ex.run())
        if during is not None:
            await during(ex)
        return await asyncio.wait_for(task, timeout_s)

    run = asyncio.run(main())
    return ex, save_live_run(sc, ex.seed, run, out)


def check_invariants(sc: Any, result: Any) -> None:
    jobs, workers, s = result.jobs, result.workers, result.summary
    horizon = s["horizon_s"]
    check_jobs(jobs)
    req = s["requests"]
    assert req["arrived"] == len(jobs) > 0
    # every job ends in one state, or is in flight at the end of the run (as in the simulator)
    assert req["arrived"] == sum(
        req[k] for k in ("completed", "failed", "timed_out", "cancelled", "rejected", "in_flight")
    )
    check_tiling(workers, horizon)
    assert np.isclose(
        workers["cost_usd"].sum(), expected_cost(workers, sc.endpoint.gpus_per_worker), rtol=1e-9, atol=1e-12
    )
    assert np.isclose(s["cost_usd"]["total"], workers["cost_usd"].sum(), rtol=1e-9, atol=1e-12)
    check_alive_limit(workers, sc.endpoint.worker_cap)


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "run"
