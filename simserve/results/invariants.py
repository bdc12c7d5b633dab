"""Invariants every run's tables must satisfy, sim or live: usable in tests and on real runs.

Owns independent re-computations (not the code paths that produced the tables): job states
and time order, worker intervals tiling each worker's life, the bill recomputed session by
session, and the worker cap. Each check raises ``AssertionError`` with the offending id.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from simserve.billing import price_usd_per_s

TERMINAL = {"completed", "failed", "cancelled", "timed_out", "rejected"}


def check_jobs(jobs: pd.DataFrame) -> None:
    """Every job is in exactly one state; terminal jobs have an end; times are ordered."""
    status = jobs["status"].astype(str)
    assert status.isin(TERMINAL | {"in_queue", "in_progress"}).all()
    ended = status.isin(TERMINAL)
    assert jobs.loc[ended, "end_s"].notna().all()
    assert jobs.loc[~ended, "end_s"].isna().all()
    started = jobs["start_s"].notna()
    assert (jobs.loc[started, "start_s"] >= jobs.loc[started, "arrival_s"] - 1e-9).all()
    done = status == "completed"
    assert (jobs.loc[done, "end_s"] >= jobs.loc[done, "start_s"] - 1e-9).all()
    assert (status[~started] != "completed").all()


def check_tiling(workers: pd.DataFrame, horizon_s: float) -> None:
    """Each worker's intervals are contiguous, positive, and end at the horizon or its retirement."""
    for wid, g in workers.groupby("worker_id", sort=True):
        s, e = g["start_s"].to_numpy(), g["end_s"].to_numpy()
        assert (e > s).all(), f"worker {wid}: empty interval"
        assert np.allclose(s[1:], e[:-1], rtol=0, atol=1e-9), f"worker {wid}: gap or overlap"
        assert e[-1] <= horizon_s + 1e-9
        if e[-1] < horizon_s - 1e-9:
            assert g["state"].astype(str).iloc[-1] == "idle", f"worker {wid} ended early while not idle"


def expected_cost(workers: pd.DataFrame, gpus_per_worker: int, pricing: dict | None = None) -> float:
    """Σ over billing sessions of rate × ceil(session seconds), computed independently of billing.py."""
    total = 0.0
    for _, g in workers.groupby("worker_id", sort=True):
        session, rate, prev_end, prev_host = 0.0, 0.0, None, None
        for row in g.itertuples():
            contiguous = prev_end is not None and abs(row.start_s - prev_end) < 1e-12 and row.host == prev_host
            if not (row.billed and contiguous and session > 0):
                total += rate * math.ceil(round(session, 9))  # close the open session (0 when none)
                session = 0.0
            if row.billed:
                rate = price_usd_per_s(row.gpu, row.kind, gpus_per_worker, pricing)
                session += row.end_s - row.start_s
            prev_end, prev_host = row.end_s, row.host
        total += rate * math.ceil(round(session, 9))
    return total


def check_alive_limit(workers: pd.DataFrame, cap: int) -> None:
    """Workers in initializing/running/outdated never exceed the cap at any instant."""
    alive = workers[workers["state"].astype(str).isin(["initializing", "running", "outdated"])]
    events = sorted([(s, 1) for s in alive["start_s"]] + [(e, -1) for e in alive["end_s"]], key=lambda x: (x[0], x[1]))
    level = peak = 0
    for _, d in events:
        level += d
        peak = max(peak, level)
    assert peak <= cap, f"{peak} alive > cap {cap}"
