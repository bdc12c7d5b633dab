"""What a run measured, as samples: cold-start phase durations and per-job pickup delays.

Owns reading the worker state-interval table into one duration per cold-start phase episode
(contiguous rows of one worker in the same state and phase are merged; a phase still open at
the horizon is censored and dropped) and the per-job *pickup delay*: the time from the moment
both the job and its worker were available (job arrived, worker ready and done with its
previous job) to the job's start. The simulator's pickup delay is exactly 0; a live run's is
the platform overhead (dispatch, the Runpod protocol's polling). Imports numpy and pandas only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simserve.records import COLD_PHASES


def merged_intervals(workers: pd.DataFrame) -> pd.DataFrame:
    """Worker intervals with contiguous same-state, same-phase rows of a worker merged.

    Columns: worker_id, state, phase, start_s, end_s, last (the worker's last row).
    """
    if workers is None or workers.empty:
        return pd.DataFrame(columns=["worker_id", "state", "phase", "start_s", "end_s", "last"])
    w = workers.assign(state=workers["state"].astype(str), phase=workers["phase"].fillna("").astype(str))
    w = w.sort_values(["worker_id", "start_s", "end_s"], kind="mergesort").reset_index(drop=True)
    wid = w["worker_id"].to_numpy()
    key = (w["state"] + "." + w["phase"]).to_numpy()
    start, end = w["start_s"].to_numpy(float), w["end_s"].to_numpy(float)
    new = np.ones(len(w), dtype=bool)
    if len(w) > 1:
        new[1:] = (wid[1:] != wid[:-1]) | (key[1:] != key[:-1]) | (np.abs(start[1:] - end[:-1]) > 1e-9)
    group = np.cumsum(new)
    out = pd.DataFrame(
        {"worker_id": wid, "state": w["state"], "phase": w["phase"], "start_s": start, "end_s": end, "g": group}
    )
    out = (
        out.groupby("g", sort=True)
        .agg(
            worker_id=("worker_id", "first"),
            state=("state", "first"),
            phase=("phase", "first"),
            start_s=("start_s", "min"),
            end_s=("end_s", "max"),
        )
        .reset_index(drop=True)
    )
    wid_m = out["worker_id"].to_numpy()
    last = np.ones(len(out), dtype=bool)
    if len(out) > 1:
        last[:-1] = wid_m[:-1] != wid_m[1:]
    out["last"] = last
    return out


def phase_samples(workers: pd.DataFrame, horizon_s: float | None = None) -> dict[str, np.ndarray]:
    """Durations (s) of each cold-start phase episode, keyed by phase name (only phases seen).

    A worker's last interval that ends at the horizon was cut short and is left out.
    """
    m = merged_intervals(workers)
    if m.empty:
        return {}
    horizon = float(m["end_s"].max()) if horizon_s is None else horizon_s
    censored = m["last"].to_numpy() & (m["end_s"].to_numpy() >= horizon - 1e-9)
    init = m[(m["state"] == "initializing") & ~censored]
    out: dict[str, np.ndarray] = {}
    for phase in COLD_PHASES:
        d = init.loc[init["phase"] == phase, "end_s"] - init.loc[init["phase"] == phase, "start_s"]
        if len(d):
            out[phase] = d.to_numpy(float)
    return out


def pickup_delays(jobs: pd.DataFrame, workers: pd.DataFrame) -> pd.DataFrame:
    """Per started job: ``job_id``, ``kind`` and ``delay_s`` (start minus availability, >= 0).

    ``kind`` is ``cold`` (it waited on its worker's cold start), ``dispatch`` (its worker was
    free when it arrived) or ``queued`` (it waited for its worker's previous job: the gap is
    the worker's turnaround, e.g. the Runpod SDK's job-take polling). Exact for concurrency 1;
    with concurrency > 1 the previous job on the worker is the one started before it.
    """
    cols = ["job_id", "kind", "delay_s"]
    if jobs is None or jobs.empty:
        return pd.DataFrame(columns=cols)
    j = jobs[jobs["start_s"].notna() & (jobs["worker_id"] >= 0)]
    j = j.sort_values(["worker_id", "start_s", "job_id"], kind="mergesort")
    if j.empty:
        return pd.DataFrame(columns=cols)
    prev_end = j.groupby("worker_id")["end_s"].shift(1).to_numpy(float)
    start = j["start_s"].to_numpy(float)
    wid = j["worker_id"].to_numpy()
    ready = np.full(len(j), -np.inf)
    if workers is not None and not workers.empty:
        init = workers[workers["state"].astype(str) == "initializing"]
        ends = {w: np.sort(g["end_s"].to_numpy(float)) for w, g in init.groupby("worker_id")}
        for w in np.unique(wid):
            e = ends.get(w)
            if e is None:
                continue
            idx = np.flatnonzero(wid == w)
            k = np.searchsorted(e, start[idx] + 1e-9, side="right") - 1
            ready[idx] = np.where(k >= 0, e[np.clip(k, 0, None)], -np.inf)
    free_since = np.fmax(np.nan_to_num(prev_end, nan=-np.inf), ready)
    arrival = j["arrival_s"].to_numpy(float)
    delay = np.clip(start - np.maximum(arrival, free_since), 0.0, None)
    cold = j["cold_start"].astype(bool).to_numpy()
    kind = np.where(cold, "cold", np.where(arrival >= free_since, "dispatch", "queued"))
    out = pd.DataFrame({"job_id": j["job_id"].to_numpy(), "kind": kind, "delay_s": delay})
    return out.sort_values("job_id", kind="mergesort").reset_index(drop=True)


def overhead_summary(delays: pd.DataFrame) -> dict[str, dict[str, float]]:
    """``{kind: {n, mean_s, p50_s, p95_s}}`` for each pickup-delay kind seen, plus ``all``."""
    out: dict[str, dict[str, float]] = {}
    groups = [("all", delays)] + [(k, g) for k, g in delays.groupby("kind", sort=True)]
    for kind, g in groups:
        d = g["delay_s"].to_numpy(float)
        if len(d):
            out[str(kind)] = {
                "n": len(d),
                "mean_s": float(d.mean()),
                "p50_s": float(np.percentile(d, 50)),
                "p95_s": float(np.percentile(d, 95)),
            }
    return out


def cold_start_episodes(workers: pd.DataFrame) -> pd.DataFrame:
    """One row per cold start (consecutive initializing intervals of one worker).

    Columns: ``worker_id``, ``start_s``, ``restart`` (the worker had an earlier episode) and
    one boolean column per cold-start phase (the episode went through it).
    """
    m = merged_intervals(workers)
    cols = ["worker_id", "start_s", "restart", *COLD_PHASES]
    if m.empty:
        return pd.DataFrame(columns=cols)
    m = m.assign(init=m["state"] == "initializing")
    wid, init = m["worker_id"].to_numpy(), m["init"].to_numpy()
    prev_init = np.r_[False, init[:-1]] & np.r_[False, wid[1:] == wid[:-1]]
    m["episode"] = np.cumsum(init & ~prev_init)
    e = m[m["init"]]
    rows = []
    for _, g in e.groupby("episode", sort=True):
        phases = set(g["phase"])
        rows.append(
            {
                "worker_id": int(g["worker_id"].iloc[0]),
                "start_s": float(g["start_s"].min()),
                **{p: p in phases for p in COLD_PHASES},
            }
        )
    out = pd.DataFrame(rows, columns=["worker_id", "start_s", *COLD_PHASES])
    out.insert(2, "restart", out.groupby("worker_id").cumcount().to_numpy() > 0)
    return out[cols]


__all__ = ["cold_start_episodes", "merged_intervals", "overhead_summary", "phase_samples", "pickup_delays"]
