"""Fixtures of the planner tests: a tiny bursty scenario with a 12-point search space."""

from __future__ import annotations

import copy
from typing import Any

import pytest

TINY: dict[str, Any] = {
    "name": "tiny-plan",
    "seed": 3,
    "horizon": "40min",
    "endpoint": {
        "gpu": "A100",
        "max_workers": 3,
        "idle_timeout": "5s",
        "scaler": {"type": "queue_delay", "value": "2s"},
    },
    "cold_start": {
        "image_size": "4GB",
        "registry_bandwidth": "1GB/s",
        "container_start": "2s",
        "model": {"size": "4GB", "placement": "cached"},
        "handler_init": "3s",
    },
    "workload": {
        "arrivals": {
            "type": "bursty",
            "base_rate": "3/min",
            "burst_rate": "30/min",
            "mean_burst": "1min",
            "mean_gap": "6min",
        },
        "service": {"dist": "lognormal", "mean": "3s", "cv": 0.3},
    },
    "plan": {
        "slo": ["latency_p95<=8s", "failed<=0.1%"],
        "vary": {
            "endpoint.active_workers": "0..2",
            "endpoint.max_workers": [2, 4],
            "endpoint.idle_timeout": ["5s", "60s"],
        },
        "replications": 3,
        "max_replications": 6,
    },
}


@pytest.fixture
def tiny() -> dict[str, Any]:
    """A fresh copy of the tiny scenario dict (with its plan: section)."""
    return copy.deepcopy(TINY)
