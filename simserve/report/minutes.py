"""The per-minute view of a run, drawn from ``minutes.csv`` alone: what a streamed run
(``--tables none|parquet``, no jobs table in memory) and a month-long one are plotted from.

``minutes_timeline(minutes)`` takes the per-minute frame (``RunResult.minutes`` or the CSV read
back) and returns a ``Figure`` with three panels over the run: arrivals per second and mean queue
length, workers by state (time-averaged, stacked), latency p50/p95 by arrival minute and the cost
per hour. Long runs are averaged into coarser buckets so a month stays readable.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simserve.records import STATES
from simserve.report.style import new_figure, time_unit

#: at most this many points along the time axis (a month of minutes is averaged into buckets)
MAX_POINTS = 2000


def _coarsen(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    k = max(1, int(np.ceil(len(frame) / MAX_POINTS)))
    if k == 1:
        return frame, 1
    group = np.arange(len(frame)) // k
    agg = frame.groupby(group).mean(numeric_only=True)
    # percentiles of coarser buckets: the mean of the minutes' percentiles, weighted by requests
    w = frame["latency_count"].to_numpy(dtype=float)
    for col in ("latency_p50_s", "latency_p95_s"):
        v = frame[col].to_numpy(dtype=float)
        ok = ~np.isnan(v)
        num = np.bincount(group[ok], weights=(v * w)[ok], minlength=len(agg))
        den = np.bincount(group[ok], weights=w[ok], minlength=len(agg))
        agg[col] = np.divide(num, den, out=np.full(len(agg), np.nan), where=den > 0)
    return agg, k


def minutes_timeline(minutes: pd.DataFrame, title: str = "") -> Figure:
    """Traffic and queue, workers by state, latency and cost per hour over the run, minute by minute."""
    frame, k = _coarsen(minutes)
    horizon_s = float(minutes["minute_start_s"].iloc[-1] + 60.0) if len(minutes) else 60.0
    unit, scale = time_unit(horizon_s)
    t = frame["minute_start_s"].to_numpy(dtype=float) / scale
    fig = new_figure(9.0, 7.0)
    ax1, ax2, ax3 = fig.subplots(3, 1, sharex=True)
    ax1.plot(t, frame["arrivals"] / 60.0, lw=0.8, label="arrivals per second")
    ax1.plot(t, frame["queue_mean"], lw=0.8, label="mean queue length")
    ax1.legend(loc="upper right", fontsize=8)
    ax1.set_title(title or "per-minute series" + (f" ({k}-minute averages)" if k > 1 else ""))
    stack = [frame[f"workers_{s}"].to_numpy(dtype=float) for s in STATES]
    ax2.stackplot(t, *stack, labels=list(STATES), lw=0)
    ax2.set_ylabel("workers")
    ax2.legend(loc="upper right", fontsize=7, ncol=3)
    ax3.plot(t, frame["latency_p50_s"], lw=0.8, label="latency p50 (s)")
    ax3.plot(t, frame["latency_p95_s"], lw=0.8, label="latency p95 (s)")
    ax3.set_ylabel("seconds")
    cost = ax3.twinx()
    cost.plot(t, frame["cost_usd"] * 60.0, lw=0.8, color="0.4", label="cost (USD/h)")
    cost.set_ylabel("USD per hour")
    ax3.legend(loc="upper left", fontsize=8)
    cost.legend(loc="upper right", fontsize=8)
    ax3.set_xlabel(f"time ({unit})")
    return fig
