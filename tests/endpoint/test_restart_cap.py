"""A worker restarted in place (an execution timeout) while a throttled slot waits on its host: the GPUs
the restart gives back may start that slot (``Tenants.on_release``), and the restart then must not take
the endpoint past max workers (found by tests/properties/test_dynamics_properties: 3 alive, cap 2)."""

from __future__ import annotations

from typing import Any

import simserve
from simserve.results.invariants import check_alive_limit

RAW: dict[str, Any] = {
    "name": "restart-cap",
    "horizon": 120.0,
    "seed": 594,
    "endpoint": {
        "gpu": ["H100"],
        "max_workers": 2,
        "extra_workers": 1,
        "idle_timeout": 1.0,
        "flashboot": False,
        "execution_timeout": 5.0,
        "job_ttl": 30.0,
        "scaler": {"type": "queue_delay", "value": 1},
    },
    "cold_start": {
        "image_size": "1GB",
        "registry_bandwidth": "500MB/s",
        "container_start": {"dist": "exponential", "mean": 1.0},
        "model": {"placement": "none"},
        "handler_init": 0.0,
    },
    "hosts": [
        {
            "gpu": "H100",
            "count": 4,
            "gpus_per_host": 3,
            "disk": "3GB",
            "other_tenants": {"mean_utilization": 0.5, "time_scale": 5.0, "move_after": 5.0},
        }
    ],
    "workload": {"arrivals": {"type": "poisson", "rate": 0.5}, "service": {"dist": "exponential", "mean": 1.0}},
}


def test_a_restart_beside_a_served_throttled_slot_keeps_max_workers() -> None:
    r = simserve.simulate(RAW)
    w = r.workers
    # the case happens in this run: a throttled slot starts at the instant a running worker's job times out
    throttled_end = set(w.loc[w["state"] == "throttled", "end_s"].round(9))
    restarts = w[(w["state"] == "initializing") & w["start_s"].round(9).isin(throttled_end)]
    assert len(restarts) and r.summary["counters"].get("exec_timeouts", 0) > 0
    check_alive_limit(w, 2)
