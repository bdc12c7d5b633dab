"""The input every report function accepts: a run, whether in memory or on disk.

Owns ``RunData`` and ``as_run_data``, which turn a ``RunResult``, a ``read_run`` dict or a
run-directory path into the same normalised tables (string states/phases/statuses, ``""``
for no phase) plus the statistics window, and the derived series the plots share: jobs in
queue and workers alive over time, arrival rate, cost per time bin and cold-start episodes.
Imports pandas/numpy and simserve's records/outputs only (no matplotlib).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from simserve.records import COLD_PHASES
from simserve.results.result import statistics_warmup

ALIVE_STATES = ("initializing", "running", "outdated")


@dataclass
class RunData:
    """One run's tables and summary, normalised for plotting."""

    name: str
    summary: dict[str, Any]
    jobs: pd.DataFrame
    workers: pd.DataFrame
    horizon_s: float
    warmup_s: float
    scenario: Any = None  # a Scenario when available (in memory, or re-loaded from the run dir)
    resolved: dict[str, Any] = field(default_factory=dict)  # the resolved scenario as plain data
    run_dir: Path | None = None


def _norm_jobs(jobs: pd.DataFrame) -> pd.DataFrame:
    j = jobs.copy()
    j["status"] = j["status"].astype(str)
    j["cold_start"] = j["cold_start"].astype(bool)
    return j


def _norm_workers(workers: pd.DataFrame) -> pd.DataFrame:
    w = workers.copy()
    w["state"] = w["state"].astype(str)
    w["phase"] = w["phase"].astype(object).where(w["phase"].notna(), "").astype(str)
    w.loc[w["phase"] == "nan", "phase"] = ""
    return w


def as_run_data(run: Any) -> RunData:
    """Normalise a ``RunResult``, a ``read_run`` dict, a ``RunData`` or a run-directory path."""
    if isinstance(run, RunData):
        return run
    if isinstance(run, (str, Path)):
        from simserve.results.outputs import read_run

        run = read_run(run)
    if isinstance(run, dict):
        d = Path(run["dir"]) if run.get("dir") is not None else None
        resolved: dict[str, Any] = {}
        if d is not None and (d / "scenario.resolved.yaml").is_file():
            resolved = yaml.safe_load((d / "scenario.resolved.yaml").read_text()) or {}
        summary = run["summary"]
        horizon = float(summary.get("horizon_s") or resolved.get("horizon") or 0.0)
        return RunData(
            name=str(summary.get("scenario") or resolved.get("name") or "run"),
            summary=summary,
            jobs=_norm_jobs(run["jobs"]),
            workers=_norm_workers(run["workers"]),
            horizon_s=horizon,
            warmup_s=float(resolved.get("warmup") or 0.0),
            scenario=None,
            resolved=resolved,
            run_dir=d,
        )
    # a RunResult (duck-typed so live results work too)
    sc = run.scenario
    resolved = sc.model_dump(mode="json")
    resolved.pop("base_dir", None)
    horizon = float(run.summary.get("horizon_s") or sc.horizon)
    return RunData(
        name=str(run.summary.get("scenario") or sc.name),
        summary=run.summary,
        jobs=_norm_jobs(run.jobs),
        workers=_norm_workers(run.workers),
        horizon_s=horizon,
        warmup_s=float(statistics_warmup(sc, horizon)),
        scenario=sc,
        resolved=resolved,
    )


# ----------------------------------------------------------------------------- derived series
def step_count(starts: np.ndarray, ends: np.ndarray, horizon_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Number of [start, end) intervals open over time: ``(times, counts)`` for a post-step plot.

    ``counts[i]`` holds on ``[times[i], times[i+1])``; an end at the same time as a start is
    applied first. Intervals with no end (NaN) stay open until ``horizon_s``.
    """
    s = np.asarray(starts, dtype=float)
    e = np.where(np.isnan(np.asarray(ends, dtype=float)), horizon_s, ends)
    keep = e > s
    s, e = s[keep], e[keep]
    times = np.concatenate([[0.0], s, e])
    delta = np.concatenate([[0.0], np.ones(len(s)), -np.ones(len(e))])
    order = np.lexsort((delta, times))
    times, counts = times[order], np.cumsum(delta[order])
    # keep the last value at each distinct time
    last = np.r_[times[1:] != times[:-1], True]
    times, counts = times[last], counts[last]
    # the last point only closes the plot at the horizon: it repeats the count held before it
    inside = times < horizon_s
    inside[0] = True
    times, counts = times[inside], counts[inside]
    return np.r_[times, horizon_s], np.r_[counts, counts[-1]].astype(int)


def queue_series(data: RunData) -> tuple[np.ndarray, np.ndarray]:
    """Jobs waiting in the queue over time (arrival until start of execution)."""
    j = data.jobs
    arrival = j["arrival_s"].to_numpy(dtype=float)
    start = j["start_s"].to_numpy(dtype=float)
    end = j["end_s"].to_numpy(dtype=float)
    # a job that never started leaves the queue when it ends (rejected, timed out) or stays
    leave = np.where(np.isnan(start), end, start)
    return step_count(arrival, leave, data.horizon_s)


def alive_series(data: RunData) -> tuple[np.ndarray, np.ndarray]:
    """Workers alive (initializing, running or outdated) over time."""
    w = data.workers
    m = w["state"].isin(ALIVE_STATES).to_numpy()
    return step_count(w["start_s"].to_numpy(dtype=float)[m], w["end_s"].to_numpy(dtype=float)[m], data.horizon_s)


def arrival_rate(data: RunData, bins: int = 60) -> tuple[np.ndarray, np.ndarray, float]:
    """Arrivals per second in ``bins`` equal bins over the horizon: ``(edges, rate_per_s, width_s)``."""
    edges = np.linspace(0.0, data.horizon_s, bins + 1)
    counts, _ = np.histogram(data.jobs["arrival_s"].to_numpy(dtype=float), bins=edges)
    width = float(edges[1] - edges[0])
    return edges, counts / width, width


def cost_categories(workers: pd.DataFrame) -> np.ndarray:
    """Cost category of each interval: the state, with running split into busy and warm."""
    state = workers["state"].to_numpy(dtype=object)
    phase = workers["phase"].to_numpy(dtype=object)
    out = state.copy()
    run = state == "running"
    out[run & (phase == "busy")] = "running (busy)"
    out[run & (phase != "busy")] = "running (warm)"
    return out


COST_ORDER = ("initializing", "running (busy)", "running (warm)", "outdated", "idle", "throttled", "unhealthy")


def cost_by_bin(data: RunData, bins: int = 24) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """USD per category in equal time bins over the statistics window (interval cost prorated).

    Returns ``(edges_s, {category: usd per bin})`` for the categories with any cost; the
    grand total equals the summary's ``cost_usd.total`` (same proration, same window).
    """
    w = data.workers
    edges = np.linspace(data.warmup_s, data.horizon_s, bins + 1)
    start = w["start_s"].to_numpy(dtype=float)
    end = w["end_s"].to_numpy(dtype=float)
    cost = w["cost_usd"].to_numpy(dtype=float)
    dur = end - start
    cats = cost_categories(w)
    out: dict[str, np.ndarray] = {}
    for cat in COST_ORDER:
        m = (cats == cat) & (cost != 0)
        if not m.any():
            continue
        s, e, c, d = start[m], end[m], cost[m], dur[m]
        per_bin = np.zeros(bins)
        point = d <= 0  # zero-length intervals carrying cost (rounding): counted in their bin, as summarize does
        home = np.clip(np.searchsorted(edges, s[point], side="right") - 1, 0, bins - 1)
        np.add.at(per_bin, home, c[point])
        s, e, c, d = s[~point], e[~point], c[~point], d[~point]
        for b in range(bins):
            ov = np.clip(np.minimum(e, edges[b + 1]) - np.maximum(s, edges[b]), 0.0, None)
            per_bin[b] += float((c * ov / d).sum())
        if per_bin.any():
            out[cat] = per_bin
    return edges, out


def cold_start_episodes(workers: pd.DataFrame) -> pd.DataFrame:
    """One row per cold start (a run of consecutive initializing intervals of one worker).

    Columns: ``worker_id``, ``start_s``, ``kind`` (``full`` with an image pull, ``cached image``
    without one, ``flashboot`` for a FlashBoot resume) and one column of seconds per phase.
    """
    w = workers[workers["state"] == "initializing"]
    cols = ["worker_id", "start_s", "kind", *COLD_PHASES]
    if w.empty:
        return pd.DataFrame(columns=cols)
    wid = w["worker_id"].to_numpy()
    s = w["start_s"].to_numpy(dtype=float)
    e = w["end_s"].to_numpy(dtype=float)
    new = np.r_[True, (wid[1:] != wid[:-1]) | (s[1:] != e[:-1])]
    episode = np.cumsum(new) - 1
    frame = pd.DataFrame({"episode": episode, "phase": w["phase"].to_numpy(), "dur": e - s})
    wide = frame.pivot_table(index="episode", columns="phase", values="dur", aggfunc="sum", fill_value=0.0)
    wide = wide.reindex(columns=list(COLD_PHASES), fill_value=0.0)
    kind = np.where(wide["pull"] > 0, "full", np.where(wide["flashboot_resume"] > 0, "flashboot", "cached image"))
    out = pd.DataFrame({"worker_id": wid[new], "start_s": s[new], "kind": kind})
    for p in COLD_PHASES:
        out[p] = wide[p].to_numpy()
    return out


def bin_mean(times: np.ndarray, counts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Time-weighted mean of a post-step series (as from ``step_count``) over each bin."""
    t = np.asarray(times, dtype=float)
    c = np.asarray(counts, dtype=float)
    # cumulative integral at each step time, then interpolate it at the bin edges
    integral = np.r_[0.0, np.cumsum(c[:-1] * np.diff(t))]
    at_edges = np.interp(edges, t, integral)
    return np.diff(at_edges) / np.diff(edges)
