"""Fixtures for the compare/calibrate tests: small simulated runs written to run directories.

A "synthetic live run" is a simulator run with known distributions; calibrating from it must
recover them. Runs are module-scoped and small (seconds of CPU in all).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from simserve.api import simulate
from simserve.results.outputs import write_run
from simserve.workload import Jobs

BASE: dict[str, Any] = {
    "name": "cmp-base",
    "seed": 7,
    "horizon": "400s",
    "endpoint": {
        "gpu": "H100",
        "max_workers": 2,
        "idle_timeout": "5s",
        "scaler": {"type": "queue_delay", "value": "1s"},
    },
    "cold_start": {
        "image_size": "2GB",
        "registry_bandwidth": "500MB/s",
        "container_start": "1s",
        "model": {"size": "4GB", "placement": "cached", "bandwidth": "2GB/s"},
        "handler_init": "2s",
    },
    "hosts": [{"gpu": "H100", "count": 2, "gpus_per_host": 8}],
    "workload": {
        "arrivals": {"type": "poisson", "rate": "0.2/s"},
        "service": {"dist": "lognormal", "mean": "2s", "cv": 0.5},
    },
}

#: the "live" run calibration must recover: many full cold starts (no FlashBoot, short idle timeout)
SYNTHETIC: dict[str, Any] = {
    "name": "synthetic-live",
    "seed": 3,
    "horizon": "1h",
    "endpoint": {
        "gpu": "H100",
        "max_workers": 4,
        "idle_timeout": "2s",
        "flashboot": False,
        "extra_workers": 0,
        "scaler": {"type": "queue_delay", "value": "1s"},
    },
    "cold_start": {
        "image_size": "8GB",
        "registry_bandwidth": "200MB/s",
        "container_start": {"dist": "gamma", "mean": "2s", "cv": 0.3},
        "model": {"size": "16GB", "placement": "network_volume", "bandwidth": "400MB/s"},
        "handler_init": "3s",
    },
    "hosts": [{"gpu": "H100", "count": 4, "gpus_per_host": 8}],
    "workload": {
        "arrivals": {"type": "poisson", "rate": "0.3/s"},
        "service": {"dist": "lognormal", "mean": "2s", "cv": 0.5},
    },
}


def fixed_jobs(n: int = 60, seed: int = 1) -> Jobs:
    """Arrivals spread over [0, 200) s, lognormal service; all finish well before 400 s."""
    rng = np.random.default_rng(seed)
    arrival = np.sort(rng.uniform(0, 200, n))
    service = rng.lognormal(0.5, 0.4, n)
    return Jobs(arrival, service)


@pytest.fixture(scope="module")
def run_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(run A, identical run A', run B with every service time doubled), same arrivals."""
    root = tmp_path_factory.mktemp("runs")
    jobs = fixed_jobs()
    a = write_run(root / "a", simulate(BASE, jobs=jobs))
    a2 = write_run(root / "a2", simulate(BASE, jobs=jobs))
    b = write_run(root / "b", simulate(BASE, jobs=Jobs(jobs.arrival_s, 2 * jobs.service_s)))
    return a, a2, b


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(run directory, scenario YAML) of the synthetic live run."""
    import yaml

    root = tmp_path_factory.mktemp("synthetic")
    path = root / "synthetic.yaml"
    path.write_text(yaml.safe_dump(SYNTHETIC, sort_keys=False))
    return write_run(root / "run", simulate(str(path))), path
