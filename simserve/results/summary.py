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

from simserve.records import JOB_STATUSES, PHASES, STATES, STREAM_BLOCK
from simserve.results.jobstats import RELATIVE_ACCURACY, JobStats
from simserve.results.workerstats import WorkerStats


def job_stats(jobs: pd.DataFrame, *, horizon_s: float, warmup_s: float, sketch: bool = False) -> JobStats:
    """``JobStats`` of a whole jobs table, fed in ``STREAM_BLOCK`` blocks by job id exactly as a streamed
    run feeds them, so counts and means agree to the last bit whichever way a run was made."""
    stats = JobStats(warmup_s, horizon_s, sketched=sketch)
    arrival = jobs["arrival_s"].to_numpy(dtype=float)
    start = jobs["start_s"].to_numpy(dtype=float)
    end = jobs["end_s"].to_numpy(dtype=float)
    status = np.asarray(pd.Categorical(jobs["status"], categories=list(JOB_STATUSES)).codes, dtype=np.int64)
    cold = jobs["cold_start"].to_numpy(dtype=bool)
    llm = "ttft_s" in jobs.columns
    if llm:
        tin = jobs["input_tokens"].to_numpy(dtype=np.int64)
        tout = jobs["output_tokens"].to_numpy(dtype=np.int64)
        first = arrival + jobs["ttft_s"].to_numpy(dtype=float)
    for a in range(0, len(arrival), STREAM_BLOCK):
        b = a + STREAM_BLOCK
        tokens = (tin[a:b], tout[a:b], first[a:b]) if llm else None
        stats.add_block(arrival[a:b], start[a:b], end[a:b], status[a:b], cold[a:b], tokens)
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
    wstats: WorkerStats | None = None,
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
        values = {"latency": lat, "wait": wait, "exec": execd}
        for key in ("ttft", "tpot"):
            if f"{key}_s" in j.columns:
                v = j[f"{key}_s"].to_numpy(dtype=float)
                values[key] = v[~np.isnan(v)]

        #: the percentiles the summary reports, one partition per column (the same values as one call per q)
        qs = (50.0, 90.0, 95.0, 99.0)
        at = {k: dict(zip(qs, np.percentile(v, qs).tolist(), strict=True)) for k, v in values.items() if len(v)}

        def pct(key: str, q: float) -> float | None:
            return at[key][q] if key in at else None

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

    if wstats is None:
        wstats = worker_stats(workers, horizon_s=horizon_s, warmup_s=warmup_s, gpus_per_worker=gpus_per_worker)
    wpart = wstats.summary_part(window)
    total = wpart["cost_usd"]["total"]
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
        "workers": wpart["workers"],
        "cost_usd": {
            "total": total,
            "per_hour": wpart["cost_usd"]["per_hour"],
            # over requests served (completed), not arrived: an overloaded endpoint must not look cheaper
            "per_1k_requests": (total / requests["completed"] * 1000.0) if requests["completed"] else None,
            "by_state": wpart["cost_usd"]["by_state"],
            "running_busy": wpart["cost_usd"]["running_busy"],
            "running_warm": wpart["cost_usd"]["running_warm"],
        },
        "gpu_utilization": wpart["gpu_utilization"],
    }
    if stats.tokens is not None:
        add_tokens(out, stats, pct, window)
    add_dynamics(out, counters or {})
    return out


def add_tokens(out: dict[str, Any], stats: JobStats, pct: Any, window_s: float) -> None:
    """An LLM run's ``ttft_s``, ``tpot_s``, ``tokens`` (totals and per second over the statistics window, of
    completed requests) and ``cost_usd.per_1m_output_tokens``."""
    assert stats.tokens is not None
    for key in ("ttft", "tpot"):
        out[f"{key}_s"] = {
            "mean": stats.mean(key),
            "p50": pct(key, 50),
            "p90": pct(key, 90),
            "p95": pct(key, 95),
            "p99": pct(key, 99),
        }
    tin, tout = stats.tokens["input"], stats.tokens["output"]
    out["tokens"] = {"input": tin, "output": tout, "input_per_s": tin / window_s, "output_per_s": tout / window_s}
    total = out["cost_usd"]["total"]
    out["cost_usd"]["per_1m_output_tokens"] = (total / tout * 1e6) if tout else None


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


def worker_stats(workers: pd.DataFrame, *, horizon_s: float, warmup_s: float, gpus_per_worker: int) -> WorkerStats:
    """``WorkerStats`` of a whole billed workers table (sorted by worker, start), fed as one chunk."""
    w = WorkerStats(warmup_s, horizon_s, gpus_per_worker)
    w.add(
        workers["worker_id"].to_numpy(dtype=np.int64),
        np.asarray(pd.Categorical(workers["state"], categories=list(STATES)).codes, dtype=np.int64),
        np.asarray(pd.Categorical(workers["phase"], categories=list(PHASES)).codes, dtype=np.int64),
        workers["start_s"].to_numpy(dtype=float),
        workers["end_s"].to_numpy(dtype=float),
        workers["billed"].to_numpy(dtype=bool),
        workers["cost_usd"].to_numpy(dtype=float),
    )
    return w


def minute_frame(stats: JobStats, wstats: WorkerStats) -> pd.DataFrame:
    """The per-minute series of a run: the jobs' (``JobStats.minutes``) plus time-averaged workers by state
    and the cost of each minute (an interval's cost spread evenly over it), from ``WorkerStats``."""
    frame = stats.minutes.frame()
    # one concat, not a column at a time: each insert rebuilds the (string) column index, ~1 ms a column
    return pd.concat([frame, pd.DataFrame(wstats.minute_columns(), index=frame.index)], axis=1)
