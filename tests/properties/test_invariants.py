"""Hypothesis invariants over random small scenarios, and seed determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, strategies as st

import simserve
from simserve.results.invariants import check_alive_limit, check_jobs, check_tiling, expected_cost
from simserve.results.outputs import write_run

scalers = st.one_of(
    st.builds(lambda v: {"type": "queue_delay", "value": v}, st.sampled_from([0.5, 2, 4, 10])),
    st.builds(lambda v: {"type": "request_count", "value": v}, st.integers(1, 4)),
    st.just({"type": "per_request"}),
)
arrivals = st.one_of(
    st.builds(lambda r: {"type": "poisson", "rate": r}, st.floats(0.05, 3.0)),
    st.builds(
        lambda b, r: {"type": "bursty", "base_rate": b, "burst_rate": r, "mean_burst": 20, "mean_gap": 60},
        st.floats(0.01, 0.5),
        st.floats(1.0, 5.0),
    ),
)
services = st.one_of(
    st.builds(lambda m: {"dist": "exponential", "mean": m}, st.floats(0.1, 5.0)),
    st.builds(lambda m, cv: {"dist": "lognormal", "mean": m, "cv": cv}, st.floats(0.1, 5.0), st.floats(0.1, 2.0)),
    st.builds(lambda m: {"dist": "constant", "value": m}, st.floats(0.1, 5.0)),
)


@st.composite
def scenarios(draw: st.DrawFn) -> dict:
    max_workers = draw(st.integers(1, 6))
    active = draw(st.integers(0, max_workers))
    hosts = draw(
        st.one_of(
            st.just([]),
            st.builds(
                lambda n, g: [{"gpu": "H100", "count": n, "gpus_per_host": g, "disk": "20GB"}],
                st.integers(1, 4),
                st.integers(1, 4),
            ),
        )
    )
    return {
        "name": "prop",
        "horizon": draw(st.floats(60, 600)),
        "endpoint": {
            "gpu": ["H100"],
            "max_workers": max_workers,
            "active_workers": active,
            "extra_workers": draw(st.integers(0, 3)),
            "idle_timeout": draw(st.floats(1, 60)),
            "execution_timeout": draw(st.floats(1, 30)),
            "job_ttl": draw(st.floats(5, 1000)),
            "concurrency": draw(st.integers(1, 3)),
            "flashboot": draw(st.booleans()),
            "scaler": draw(scalers),
            "scaler_interval": draw(st.sampled_from([0.5, 1, 2])),
        },
        "cold_start": {
            "image_size": draw(st.sampled_from([0, "1GB", "8GB"])),
            "registry_bandwidth": "1GB/s",
            "container_start": {"dist": "exponential", "mean": draw(st.floats(0, 5))},
            "model": {
                "size": draw(st.sampled_from([0, "2GB", "12GB"])),
                "placement": draw(st.sampled_from(["cached", "baked", "network_volume", "none"])),
            },
            "handler_init": draw(st.floats(0, 5)),
            "flashboot_miss_prob": draw(st.sampled_from([0.0, 0.5, 1.0])),
        },
        "hosts": hosts,
        "workload": {
            "arrivals": draw(arrivals),
            "service": draw(services),
            "low_priority_share": draw(st.sampled_from([0.0, 0.3, 1.0])),
            "refresh_share": draw(st.sampled_from([0.0, 0.3, 1.0])),
        },
        "billing": {"preset": draw(st.sampled_from(["seed", "runpod-2026-08"]))},
        "seed": draw(st.integers(0, 10_000)),
    }


@given(scenarios())
def test_run_invariants(data: dict) -> None:
    sc = simserve.load_scenario(data)
    r = simserve.simulate(sc)
    jobs, workers, s = r.jobs, r.workers, r.summary
    # job conservation: every arrival ends in exactly one state
    check_jobs(jobs)
    req = s["requests"]
    assert req["arrived"] == len(jobs)
    assert req["arrived"] == sum(
        req[k] for k in ("completed", "failed", "timed_out", "cancelled", "rejected", "in_flight")
    )
    # state intervals tile each worker's life
    check_tiling(workers, sc.horizon)
    # billing = Σ rate × billed seconds, rounded up per session
    assert np.isclose(
        workers["cost_usd"].sum(), expected_cost(workers, sc.endpoint.gpus_per_worker), rtol=1e-9, atol=1e-12
    )
    assert np.isclose(s["cost_usd"]["total"], workers["cost_usd"].sum(), rtol=1e-9, atol=1e-12)
    assert not workers.loc[workers["state"].astype(str).isin(["idle", "throttled", "unhealthy"]), "billed"].any()
    # limits never exceeded
    check_alive_limit(workers, sc.endpoint.worker_cap)
    assert workers["worker_id"].nunique() <= sc.endpoint.worker_cap + sc.endpoint.extra_workers
    started = jobs[jobs["start_s"].notna()]
    for _wid, g in started.groupby("worker_id"):
        ends = g["end_s"].fillna(sc.horizon).to_numpy()
        events = sorted([(t, 1) for t in g["start_s"]] + [(t, -1) for t in ends], key=lambda x: (x[0], x[1]))
        level = max(np.cumsum([d for _, d in events]))
        assert level <= sc.endpoint.concurrency
    # execution never exceeds the execution timeout; no job runs on a worker that is not running
    assert (jobs["execution_s"].dropna() <= sc.endpoint.execution_timeout + 1e-9).all()
    running = workers[workers["state"].astype(str) == "running"]
    for row in started.itertuples():
        w = running[
            (running["worker_id"] == row.worker_id)
            & (running["start_s"] <= row.start_s + 1e-9)
            & (running["end_s"] >= row.start_s - 1e-9)
        ]
        assert len(w) >= 1, f"job {row.job_id} started on worker {row.worker_id} while it was not running"
    # per_request never queues
    if sc.endpoint.scaler.type == "per_request":
        assert (jobs["status"].astype(str) != "in_queue").sum() + (
            jobs["status"].astype(str) == "in_queue"
        ).sum() == len(jobs)
    check_platform_rules(sc, r)


def check_platform_rules(sc: simserve.Scenario, r: simserve.RunResult) -> None:
    """#23: low-priority jobs never start a worker, refreshes and FlashBoot hits and misses are counted."""
    workers, c = r.workers, r.summary["counters"]
    resumes = int((workers["phase"].astype(str) == "flashboot_resume").sum())
    assert resumes <= c["flashboot_resumes"]
    if sc.cold_start.flashboot_miss_prob == 1 or not sc.endpoint.flashboot:
        assert c["flashboot_resumes"] == 0
    if not sc.endpoint.flashboot:
        assert c["flashboot_misses"] == 0
    if sc.workload.refresh_share == 0:
        assert c["refreshes"] == 0
    assert c["refreshes"] <= r.summary["requests"]["completed"] + r.summary["requests"]["failed"]
    if sc.workload.low_priority_share == 1 and sc.endpoint.active_workers == 0 and not sc.events:
        assert set(workers["state"].astype(str)) <= {"idle"}  # no worker ever started
        assert r.summary["requests"]["completed"] == 0


@given(scenarios())
def test_same_seed_identical_csv(data: dict) -> None:
    import tempfile

    sc = simserve.load_scenario(data)
    with tempfile.TemporaryDirectory() as d:
        a, b = Path(d) / "a", Path(d) / "b"
        write_run(a, simserve.simulate(sc))
        write_run(b, simserve.simulate(sc))
        for name in ("jobs.csv", "workers.csv", "summary.json"):
            assert (a / name).read_bytes() == (b / name).read_bytes()


def test_different_seeds_differ() -> None:
    a = simserve.simulate("scenarios/quickstart.yaml", seed=1)
    b = simserve.simulate("scenarios/quickstart.yaml", seed=2)
    assert not a.jobs["arrival_s"].equals(b.jobs["arrival_s"])


def test_common_random_numbers_across_configurations() -> None:
    """Changing the endpoint does not change the jobs a seed draws."""
    a = simserve.simulate("scenarios/quickstart.yaml", overrides={"endpoint.max_workers": 2})
    b = simserve.simulate(
        "scenarios/quickstart.yaml", overrides={"endpoint.max_workers": 5, "endpoint.idle_timeout": 60}
    )
    assert a.jobs["arrival_s"].equals(b.jobs["arrival_s"])
    ex_a = a.jobs.set_index("job_id")["execution_s"].dropna()
    ex_b = b.jobs.set_index("job_id")["execution_s"].dropna()
    common = ex_a.index.intersection(ex_b.index)
    assert np.allclose(ex_a[common], ex_b[common])
