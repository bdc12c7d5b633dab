"""The summary dict of the output contract, computed from the jobs and worker tables.

Owns every figure in ``summary.json`` (requests, latency, queue wait, execution, cold
starts, workers by state, cost, GPU utilisation) and the statistics window: jobs that
arrive before ``warmup`` are excluded, time averages and costs cover [warmup, horizon].
Both engines call ``summarize`` on the same tables, so sim and live are read alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from simserve.jobstats import MINUTE_S, RELATIVE_ACCURACY, JobStats, interval_area
from simserve.records import JOB_STATUSES, PHASES, STATES, STREAM_BLOCK

ALIVE = ("initializing", "running", "outdated")


def _overlap(start: np.ndarray, end: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip(np.minimum(end, hi) - np.maximum(start, lo), 0.0, None)


def peak_concurrent(start: np.ndarray, end: np.ndarray) -> int:
    """Largest number of intervals open at once (touching intervals do not overlap)."""
    if len(start) == 0:
        return 0
    times = np.concatenate([start, end])
    delta = np.concatenate([np.ones(len(start)), -np.ones(len(end))])
    order = np.lexsort((delta, times))  # at equal times, ends (-1) before starts (+1)
    return int(np.max(np.cumsum(delta[order])))


def merge_runs(wid: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge intervals of one worker that touch (rows sorted by worker, then start)."""
    if len(start) == 0:
        return start, end
    cont = (wid[1:] == wid[:-1]) & (start[1:] == end[:-1])
    first = np.r_[True, ~cont]
    last = np.r_[~cont, True]
    return start[first], end[last]


def job_stats(jobs: pd.DataFrame, *, horizon_s: float, warmup_s: float, sketch: bool = False) -> JobStats:
    """``JobStats`` of a whole jobs table, fed in ``STREAM_BLOCK`` blocks by job id exactly as a streamed
    run feeds them, so counts and means agree to the last bit whichever way a run was made."""
    stats = JobStats(warmup_s, horizon_s, sketched=sketch)
    arrival = jobs["arrival_s"].to_numpy(dtype=float)
    start = jobs["start_s"].to_numpy(dtype=float)
    end = jobs["end_s"].to_numpy(dtype=float)
    status = np.asarray(pd.Categorical(jobs["status"], categories=list(JOB_STATUSES)).codes, dtype=np.int64)
    cold = jobs["cold_start"].to_numpy(dtype=bool)
    for a in range(0, len(arrival), STREAM_BLOCK):
        b = a + STREAM_BLOCK
        stats.add_block(arrival[a:b], start[a:b], end[a:b], status[a:b], cold[a:b])
    stats.finish()
    return stats


def summarize(
    jobs: pd.DataFrame | None,
    workers: pd.DataFrame,
    *,
    horizon_s: float,
    warmup_s: float = 0.0,
    gpus_per_worker: int = 1,
    counters: dict[str, Any] | None = None,
    stats: JobStats | None = None,
) -> dict[str, Any]:
    """Summary figures of one run (no provenance keys; the caller adds those).

    The request figures come from ``stats`` (a streamed run's, made as it ran) or from the ``jobs``
    table; percentiles are exact with the table (``quantiles.method: exact``) and from the sketches
    without it (``ddsketch``, within ``quantiles.relative_accuracy``). ``counters`` are the engine's
    notes: when they carry platform-dynamics counts (a run with ``faults``, ``events`` or other
    tenants) the summary gains ``requests.retried`` and a ``dynamics`` section.
    """
    window = max(horizon_s - warmup_s, 1e-12)
    if stats is None:
        assert jobs is not None, "summarize needs the jobs table or the run's JobStats"
        stats = job_stats(jobs, horizon_s=horizon_s, warmup_s=warmup_s)
    exact = jobs is not None
    if exact:
        assert jobs is not None
        j = jobs[jobs["arrival_s"].to_numpy() >= warmup_s]
        done = (j["status"] == "completed").to_numpy()
        lat = j["latency_s"].to_numpy()[done]
        wait = j["queue_wait_s"].to_numpy()[~np.isnan(j["start_s"].to_numpy())]
        execd = j["execution_s"].to_numpy()[done]

        def pct(key: str, q: float) -> float | None:
            v = {"latency": lat, "wait": wait, "exec": execd}[key]
            return float(np.percentile(v, q)) if len(v) else None

    else:

        def pct(key: str, q: float) -> float | None:
            return stats.sketches[key].quantile(q / 100.0)

    requests = {
        "arrived": int(stats.counts.sum()),
        "completed": stats.count("completed"),
        "failed": stats.count("failed"),
        "timed_out": stats.count("timed_out"),
        "cancelled": stats.count("cancelled"),
        "rejected": stats.count("rejected"),
        "in_flight": stats.count("in_queue") + stats.count("in_progress"),
    }
    served, cold_n = stats.served, stats.cold

    w = workers
    ws, we = w["start_s"].to_numpy(), w["end_s"].to_numpy()
    ov = _overlap(ws, we, warmup_s, horizon_s)
    state_code = pd.Categorical(w["state"], categories=list(STATES)).codes
    phase = np.asarray(pd.Categorical(w["phase"], categories=list(PHASES)).codes)
    busy_code, warm_code = PHASES.index("busy"), PHASES.index("warm")
    ov_by_state = np.bincount(state_code, weights=ov, minlength=len(STATES)) if len(ov) else np.zeros(len(STATES))
    by_state = {s: float(ov_by_state[i] / window) for i, s in enumerate(STATES)}
    alive_mask = np.isin(state_code, [STATES.index(s) for s in ALIVE])
    # merge each worker's back-to-back alive intervals (busy/warm toggles), clip to the window
    a_s, a_e = merge_runs(w["worker_id"].to_numpy()[alive_mask], ws[alive_mask], we[alive_mask])
    a_s, a_e = np.maximum(a_s, warmup_s), np.minimum(a_e, horizon_s)
    keep = a_e > a_s
    dur = we - ws
    frac = np.divide(ov, dur, out=np.zeros_like(ov), where=dur > 0)
    cost = w["cost_usd"].to_numpy() * np.where(dur > 0, frac, 1.0)
    billed = w["billed"].to_numpy().astype(bool)
    cost_by = np.bincount(state_code, weights=cost, minlength=len(STATES)) if len(cost) else np.zeros(len(STATES))
    cost_by_state = {s: float(cost_by[i]) for i, s in enumerate(STATES)}
    running = state_code == STATES.index("running")
    total = float(cost.sum())
    busy_gpu_s = float(ov[phase == busy_code].sum()) * gpus_per_worker
    billed_gpu_s = float(ov[billed].sum()) * gpus_per_worker
    out = {
        "requests": requests,
        "latency_s": {
            "mean": stats.mean("latency"),
            "p50": pct("latency", 50),
            "p90": pct("latency", 90),
            "p95": pct("latency", 95),
            "p99": pct("latency", 99),
            "max": stats.max_latency_s,
        },
        "queue_wait_s": {
            "mean": stats.mean("wait"),
            "p50": pct("wait", 50),
            "p95": pct("wait", 95),
            "p99": pct("wait", 99),
        },
        "execution_s": {"mean": stats.mean("exec"), "p50": pct("exec", 50), "p95": pct("exec", 95)},
        "quantiles": {"method": "exact"} if exact else {"method": "ddsketch", "relative_accuracy": RELATIVE_ACCURACY},
        "cold_start": {"requests": cold_n, "fraction": (cold_n / served) if served else 0.0},
        "workers": {
            "mean_alive": float(ov[alive_mask].sum() / window),
            "peak_alive": peak_concurrent(a_s[keep], a_e[keep]),
            "mean_by_state": by_state,
        },
        "cost_usd": {
            "total": total,
            "per_hour": total / window * 3600.0,
            # over requests served (completed), not arrived: an overloaded endpoint must not look cheaper
            "per_1k_requests": (total / requests["completed"] * 1000.0) if requests["completed"] else None,
            "by_state": cost_by_state,
            "running_busy": float(cost[running & (phase == busy_code)].sum()),
            "running_warm": float(cost[running & (phase == warm_code)].sum()),
        },
        "gpu_utilization": (busy_gpu_s / billed_gpu_s) if billed_gpu_s > 0 else 0.0,
    }
    add_dynamics(out, counters or {})
    return out


DYNAMICS_KEYS = (
    "throttle_episodes",
    "throttle_moves",
    "crashes",
    "init_failures",
    "init_timeouts",
    "retries",
    "failed_after_retries",
    "unhealthy_retries",
    "deploys",
    "replaced",
    "settings_changed",
)


def add_dynamics(summary: dict[str, Any], counters: dict[str, Any]) -> None:
    """Add ``requests.retried`` and ``dynamics`` (counts of throttle episodes, crashes, retries, deploys...)."""
    present = [k for k in DYNAMICS_KEYS if k in counters]
    if not present:
        return
    summary["requests"]["retried"] = int(counters.get("retries", 0))
    summary["dynamics"] = {k: int(counters.get(k, 0)) for k in DYNAMICS_KEYS}


def minute_frame(stats: JobStats, workers: pd.DataFrame) -> pd.DataFrame:
    """The per-minute series of a run: the jobs' (``JobStats.minutes``) plus time-averaged workers by state
    and the cost of each minute (an interval's cost spread evenly over it)."""
    frame = stats.minutes.frame()
    n = stats.minutes.n
    ws, we = workers["start_s"].to_numpy(dtype=float), workers["end_s"].to_numpy(dtype=float)
    state = np.asarray(pd.Categorical(workers["state"], categories=list(STATES)).codes)
    for i, name in enumerate(STATES):
        m = state == i
        frame[f"workers_{name}"] = interval_area(ws[m], we[m], n, MINUTE_S) / MINUTE_S
    dur = we - ws
    rate = np.divide(workers["cost_usd"].to_numpy(dtype=float), dur, out=np.zeros_like(dur), where=dur > 0)
    frame["cost_usd"] = interval_area(ws, we, n, MINUTE_S, weight=rate)
    return frame
