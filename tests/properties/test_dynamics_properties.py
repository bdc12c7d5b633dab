"""Hypothesis invariants over random fault, tenant and event timelines (small, bounded runs).

Every job ends in exactly one terminal state or is in flight at the horizon; state intervals
tile each worker's life; no job runs on an unhealthy or throttled worker; billed seconds never
include throttled, unhealthy or scaled-down time; workers never exceed max + extra (alive:
never above max); the bill equals the session-by-session recomputation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings, strategies as st

import simserve
from simserve.results.invariants import check_alive_limit, check_jobs, check_tiling, expected_cost
from tests.properties.test_invariants import check_platform_rules

UNBILLED = {"throttled", "unhealthy", "idle"}
HELD = ["initializing", "running", "outdated", "throttled", "unhealthy"]


@st.composite
def dynamic_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    horizon = draw(st.floats(120, 900))
    max_workers = draw(st.integers(1, 6))
    active = draw(st.integers(0, min(2, max_workers)))
    tenants = draw(
        st.one_of(
            st.none(),
            st.builds(
                lambda u, ts, mv: {"mean_utilization": u, "time_scale": ts, "move_after": mv},
                st.floats(0, 1),
                st.floats(5, 200),
                st.floats(5, 200),
            ),
        )
    )
    hosts = [
        {
            "gpu": "H100",
            "count": draw(st.integers(1, 4)),
            "gpus_per_host": draw(st.integers(1, 3)),
            "disk": draw(st.sampled_from(["3GB", "20GB"])),
            "other_tenants": tenants,
        }
    ]
    if draw(st.booleans()):
        hosts.append({"gpu": "A100", "count": draw(st.integers(1, 4)), "gpus_per_host": 2, "disk": "20GB"})
    faults = draw(
        st.one_of(
            st.none(),
            st.builds(
                lambda p, c, it, rl, ur, gu: {
                    "init_failure_prob": p,
                    "crash_rate_per_hour": c,
                    "init_timeout": it,
                    "retry_limit": rl,
                    "unhealthy_retry": ur,
                    "unhealthy_give_up": gu,
                },
                st.floats(0, 0.6),
                st.floats(0, 200),
                st.floats(3, 60),
                st.integers(0, 3),
                st.floats(5, 200),
                st.floats(10, 2000),
            ),
        )
    )
    events = draw(
        st.lists(
            st.one_of(
                st.builds(
                    lambda t, size: {"at": t, "deploy": {"image_size": size}},
                    st.floats(0, horizon),
                    st.sampled_from(["1GB", "2GB"]),
                ),
                st.builds(
                    lambda t, m: {"at": t, "set": {"endpoint.max_workers": m}},
                    st.floats(0, horizon),
                    st.integers(max(1, active), 6),
                ),
                st.builds(
                    lambda t, a: {"at": t, "set": {"endpoint.active_workers": a}},
                    st.floats(0, horizon),
                    st.integers(0, 1),
                ),
            ),
            max_size=4,
        )
    )
    scaler = draw(
        st.sampled_from(
            [{"type": "queue_delay", "value": 1}, {"type": "request_count", "value": 1}, {"type": "per_request"}]
        )
    )
    return {
        "name": "prop-dynamics",
        "horizon": horizon,
        "seed": draw(st.integers(0, 10_000)),
        "endpoint": {
            "gpu": ["H100", "A100"],
            "max_workers": max_workers,
            "active_workers": active,
            "extra_workers": draw(st.integers(0, 3)),
            "idle_timeout": draw(st.floats(1, 30)),
            "concurrency": draw(st.integers(1, 2)),
            "flashboot": draw(st.booleans()),
            "execution_timeout": draw(st.floats(5, 60)),
            "job_ttl": draw(st.floats(30, 2000)),
            "scaler": scaler,
        },
        "cold_start": {
            "image_size": "1GB",
            "registry_bandwidth": "500MB/s",
            "container_start": {"dist": "exponential", "mean": draw(st.floats(0.5, 10))},
            "model": {"placement": "none"},
            "handler_init": draw(st.floats(0, 5)),
            "flashboot_miss_prob": draw(st.sampled_from([0.0, 0.5, 1.0])),
        },
        "hosts": hosts,
        "workload": {
            "arrivals": {"type": "poisson", "rate": draw(st.floats(0.05, 2.0))},
            "service": {"dist": "exponential", "mean": draw(st.floats(0.5, 8))},
            "low_priority_share": draw(st.sampled_from([0.0, 0.3, 1.0])),
            "refresh_share": draw(st.sampled_from([0.0, 0.3, 1.0])),
        },
        "billing": {"preset": draw(st.sampled_from(["seed", "runpod-2026-08"]))},
        "faults": faults,
        "events": [e for e in events if "set" not in e or _valid_set(e, active, max_workers)],
    }


def _valid_set(event: dict[str, Any], active: int, max_workers: int) -> bool:
    """Keep ``set`` events that cannot make active > max on their own (the loader rejects those)."""
    values = event["set"]
    return values.get("endpoint.active_workers", 0) <= 1 and values.get("endpoint.max_workers", 6) >= max(1, active)


def _peak(frame: pd.DataFrame) -> int:
    times = sorted([(s, 1) for s in frame["start_s"]] + [(e, -1) for e in frame["end_s"]], key=lambda x: (x[0], x[1]))
    level = peak = 0
    for _, d in times:
        level += d
        peak = max(peak, level)
    return peak


def _check_jobs_on_ready_workers(jobs: pd.DataFrame, workers: pd.DataFrame) -> None:
    """Every started job's execution lies in busy intervals of running/outdated states of its worker: within
    the worker's life (its intervals tile it, checked apart), and overlapping no other interval (vectorised
    per worker: its intervals are disjoint, so the one bad interval starting last before a job's end decides)."""
    started = jobs[jobs["start_s"].notna() & jobs["end_s"].notna() & (jobs["worker_id"] >= 0)]
    started = started[started["end_s"] > started["start_s"]]
    eps = 1e-9
    ok_state = workers["state"].astype(str).isin(["running", "outdated"]).to_numpy()
    busy = (workers["phase"].astype(str) == "busy").to_numpy()
    w_good = ok_state & busy
    wid_all = workers["worker_id"].to_numpy()
    for wid, g in started.groupby("worker_id"):
        mine = wid_all == wid
        assert mine.any(), f"jobs on worker {wid}, which has no interval"
        ws, we = workers["start_s"].to_numpy()[mine], workers["end_s"].to_numpy()[mine]
        js, je = g["start_s"].to_numpy(), g["end_s"].to_numpy()
        assert (js >= ws.min() - eps).all() and (je <= we.max() + eps).all(), f"a job outside worker {wid}'s life"
        bad = ~w_good[mine]
        bs, be = ws[bad], we[bad]
        order = np.argsort(bs)
        bs, be = bs[order], be[order]
        idx = np.searchsorted(bs, je - eps, side="left") - 1
        hit = (idx >= 0) & (be[np.maximum(idx, 0)] > js + eps)
        assert not hit.any(), f"job {g['job_id'].to_numpy()[hit][0]} ran outside a busy running/outdated interval"


@settings(max_examples=60, deadline=None)
@given(dynamic_scenarios())
def test_invariants_under_random_dynamics(raw: dict[str, Any]) -> None:
    sc = simserve.load_scenario(raw)
    r = simserve.simulate(sc)
    jobs, workers = r.jobs, r.workers
    horizon = sc.horizon
    check_jobs(jobs)
    req = r.summary["requests"]
    assert req["arrived"] == sum(
        req[k] for k in ("completed", "failed", "timed_out", "cancelled", "rejected", "in_flight")
    )
    check_tiling(workers, horizon)
    _check_jobs_on_ready_workers(jobs, workers)
    assert not workers.loc[workers["state"].astype(str).isin(UNBILLED), "billed"].any()
    assert (workers.loc[workers["state"].astype(str).isin(UNBILLED), "cost_usd"] == 0).all()
    caps = [sc.endpoint.worker_cap] + [e.set.get("endpoint.max_workers", 0) for e in sc.events if e.set]
    extras = sc.endpoint.extra_workers
    check_alive_limit(workers, max(caps))
    assert _peak(workers[workers["state"].astype(str).isin(HELD)]) <= max(caps) + extras
    assert np.isclose(workers["cost_usd"].sum(), expected_cost(workers, sc.endpoint.gpus_per_worker), atol=1e-9)
    if sc.faults is not None:
        assert req["retried"] == r.summary["dynamics"]["retries"]
    check_platform_rules(sc, r)


@settings(max_examples=15, deadline=None)
@given(dynamic_scenarios())
def test_same_seed_same_tables(raw: dict[str, Any]) -> None:
    a, b = simserve.simulate(raw), simserve.simulate(raw)
    pd.testing.assert_frame_equal(a.jobs, b.jobs)
    pd.testing.assert_frame_equal(a.workers, b.workers)
