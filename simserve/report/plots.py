"""Figures about requests and money: latency CDF, cost by worker state, cold-start breakdown.

Each function takes a run (``RunResult``, ``read_run`` dict, run-directory path or ``RunData``)
and returns a matplotlib ``Figure``; nothing is shown or written here. Figures read the same
statistics window as ``summary.json`` (jobs arriving after warmup, cost over [warmup,
horizon]), so the numbers drawn match the numbers printed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from simserve.records import COLD_PHASES
from simserve.report.data import as_run_data, cold_start_episodes, cost_by_bin
from simserve.report.style import PHASE_COLORS, PHASE_LABELS, STATE_COLORS, fmt_s, new_figure, time_unit

PERCENTILES = (50, 95, 99)
_PCT_STYLE = {50: ("#1f77b4", ":"), 95: ("#d62728", "--"), 99: ("#7f7f7f", "-.")}


def completed_latencies(run: Any) -> np.ndarray:
    """Latencies (s) of completed jobs that arrived after warmup: the set summary.json uses."""
    data = as_run_data(run)
    j = data.jobs
    m = (j["status"] == "completed").to_numpy() & (j["arrival_s"].to_numpy(dtype=float) >= data.warmup_s)
    return np.sort(j["latency_s"].to_numpy(dtype=float)[m])


def latency_cdf(run: Any) -> Figure:
    """Empirical CDF of request latency with p50, p95 and p99 marked (one line each)."""
    data = as_run_data(run)
    lat = completed_latencies(data)
    fig = new_figure(8, 4.5)
    ax = fig.add_subplot()
    ax.set_xlabel("latency, arrival to completion (s)")
    ax.set_ylabel("fraction of completed requests")
    ax.set_title(f"{data.name}: latency CDF ({len(lat):,} completed requests)")
    if len(lat) == 0:
        ax.text(0.5, 0.5, "no completed requests", ha="center", va="center", transform=ax.transAxes)
        return fig
    y = np.arange(1, len(lat) + 1) / len(lat)
    ax.step(np.r_[lat[0], lat], np.r_[0.0, y], where="post", color="#333333", lw=1.6, label="CDF")
    for q in PERCENTILES:
        v = float(np.percentile(lat, q))
        color, ls = _PCT_STYLE[q]
        ax.axvline(v, color=color, ls=ls, lw=1.3, label=f"p{q} = {fmt_s(v)}")
    if lat[0] > 0 and lat[-1] / lat[0] > 50:
        ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    return fig


def cost_by_state(run: Any, bins: int = 24) -> Figure:
    """Cost rate (USD/hour) over time, stacked by worker state, running split busy / warm.

    One bar series per state with any cost; bar heights times the bin width sum to the
    summary's total cost.
    """
    data = as_run_data(run)
    edges, series = cost_by_bin(data, bins)
    label, unit = time_unit(data.horizon_s)
    width_s = float(edges[1] - edges[0])
    fig = new_figure(8, 4.5)
    ax = fig.add_subplot()
    left = edges[:-1] / unit
    bottom = np.zeros(bins)
    total = sum(float(v.sum()) for v in series.values())
    for cat, usd in series.items():
        rate = usd / width_s * 3600.0
        ax.bar(
            left,
            rate,
            width=width_s / unit,
            bottom=bottom,
            align="edge",
            color=STATE_COLORS[cat],
            edgecolor="white",
            linewidth=0.4,
            label=f"{cat}: ${usd.sum():,.2f}",
        )
        bottom = bottom + rate
    ax.set_xlabel(f"time ({label})")
    ax.set_ylabel("cost rate (USD/hour)")
    ax.set_title(f"{data.name}: cost by worker state (total ${total:,.2f})")
    if series:
        ax.legend(loc="upper left", fontsize="small")
    else:
        ax.text(0.5, 0.5, "nothing billed", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlim(edges[0] / unit, edges[-1] / unit)
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def cold_start_breakdown(run: Any) -> Figure:
    """Mean seconds per cold-start phase, one stacked bar per kind of start (full / cached / FlashBoot)."""
    data = as_run_data(run)
    eps = cold_start_episodes(data.workers)
    fig = new_figure(8, 3.8)
    ax = fig.add_subplot()
    ax.set_xlabel("mean seconds per start")
    ax.set_title(f"{data.name}: cold-start breakdown by phase")
    if eps.empty:
        ax.text(0.5, 0.5, "no cold starts in this run", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
        return fig
    kinds = [k for k in ("full", "cached image", "flashboot") if (eps["kind"] == k).any()]
    means = eps.groupby("kind")[list(COLD_PHASES)].mean().reindex(kinds)
    counts = eps["kind"].value_counts().reindex(kinds)
    ypos = np.arange(len(kinds))
    left = np.zeros(len(kinds))
    for phase in COLD_PHASES:
        vals = means[phase].to_numpy(dtype=float)
        if not vals.any():
            continue
        ax.barh(
            ypos, vals, left=left, color=PHASE_COLORS[phase], edgecolor="white", height=0.6, label=PHASE_LABELS[phase]
        )
        left = left + vals
    for y, total in zip(ypos, left, strict=True):
        ax.text(float(total), float(y), f"  {fmt_s(float(total))}", va="center", fontsize="small")
    ax.set_yticks(ypos, [f"{k}\n(n={int(counts[k]):,})" for k in kinds])
    ax.invert_yaxis()
    ax.set_xlim(0, float(left.max()) * 1.18 or 1.0)
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(True, axis="x", alpha=0.3)
    return fig
