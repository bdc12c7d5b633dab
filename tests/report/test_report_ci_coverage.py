"""Interval coverage: on M/M/c the 95% replication intervals of mean queue wait cover Erlang C.

Active workers only (active_workers = max_workers = c, started at t = 0, so a warmup hides
their start-up), Poisson arrivals, exponential service. Each set is ``run_replications`` +
``combine`` exactly as ``simserve run --replications`` does; over many sets the interval
``queue_wait_s.mean_ci`` must contain the Erlang C mean wait about 95% of the time.
"""

from __future__ import annotations

import math

import pytest

from simserve.api import run_replications
from simserve.results.replicate import combine
from simserve.scenario import load_scenario

C, LAMBDA, MEAN_SERVICE_S = 2, 1.2, 1.0
SETS, REPS = 50, 5  # 50 sets: the 0.85 floor is still > 3 binomial sd below 0.95


def erlang_c_wait_s(c: int, lam: float, mu: float) -> float:
    """Mean time in queue of M/M/c (Erlang C probability of waiting / (c mu - lambda))."""
    a = lam / mu
    top = a**c / math.factorial(c) * c / (c - a)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


def test_erlang_c_formula_known_value():
    # a = 1.2, c = 2: P(wait) = 1.8 / 4.0 = 0.45, Wq = 0.45 / 0.8
    assert erlang_c_wait_s(2, 1.2, 1.0) == pytest.approx(0.5625, rel=1e-12)
    assert erlang_c_wait_s(1, 0.5, 1.0) == pytest.approx(1.0, rel=1e-12)  # M/M/1: rho / (mu - lambda)


def mmc_scenario():
    return load_scenario(
        {
            "name": "mmc",
            "seed": 0,
            "horizon": 1300,
            "warmup": 100,
            "endpoint": {
                "gpu": ["A100"],
                "active_workers": C,
                "max_workers": C,
                "extra_workers": 0,
                "idle_timeout": 5,
                "scaler": {"type": "queue_delay", "value": 4},
                # all workers are active from t = 0 (the cap): the autoscaler can never act, so it need not tick
                "scaler_interval": 1e6,
            },
            "cold_start": {
                "image_size": "1GB",
                "registry_bandwidth": "1GB/s",
                "container_start": 1,
                "model": {"placement": "none"},
                "handler_init": 1,
            },
            "hosts": [{"gpu": "A100", "count": 2, "gpus_per_host": 8}],
            "workload": {
                "arrivals": {"type": "poisson", "rate": LAMBDA},
                "service": {"dist": "exponential", "mean": MEAN_SERVICE_S},
            },
        }
    )


@pytest.mark.slow
def test_queue_wait_intervals_cover_erlang_c():
    sc = mmc_scenario()
    truth = erlang_c_wait_s(C, LAMBDA, 1.0 / MEAN_SERVICE_S)
    covered, means = 0, []
    for k in range(SETS):
        runs = run_replications(sc, REPS, seed=1000 + k, processes=1)
        summary = combine([r.summary for r in runs])
        lo, hi = summary["queue_wait_s"]["mean_ci"]
        covered += lo <= truth <= hi
        means.append(summary["queue_wait_s"]["mean"])
    coverage = covered / SETS
    assert 0.85 <= coverage <= 0.99, f"coverage {coverage:.2f} of Erlang C {truth:.4f}"
    grand = sum(means) / len(means)
    assert grand == pytest.approx(truth, rel=0.08), "grand mean wait far from Erlang C"
