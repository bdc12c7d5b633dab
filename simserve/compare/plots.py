"""Figures that put two runs side by side (each returned, never shown).

Owns ``latency_cdfs`` (both latency CDFs overlaid), ``cost_by_state_pair`` (billed cost per
worker state, bars side by side), ``timelines_pair`` (each run's worker-state timeline, one
above the other on a shared time axis) and ``cold_start_phases_pair`` (mean seconds per
cold-start phase episode, side by side, with episode counts). Inputs are anything
``simserve.report.as_run_data`` accepts; colours come from ``simserve.report.style``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from simserve.calibrate.measure import phase_samples
from simserve.records import COLD_PHASES, STATES
from simserve.report.data import RunData, as_run_data
from simserve.report.style import PHASE_LABELS, new_figure, time_unit
from simserve.report.timeline import TIMELINE_COLORS, interval_boxes, merged_intervals

PAIR_COLORS = ("#1f77b4", "#d62728")  # run A, run B


def _label(data: RunData, label: str | None) -> str:
    return label or f"{data.name} ({data.summary.get('engine', '?')})"


def latency_cdfs(a: Any, b: Any, labels: tuple[str, str] | None = None) -> Figure:
    """Empirical CDFs of completed jobs' latency (s) of both runs on one log-x axis."""
    runs = [as_run_data(a), as_run_data(b)]
    fig = new_figure(8, 4.5)
    ax = fig.add_subplot()
    any_data = False
    for i, d in enumerate(runs):
        lat = np.sort(d.jobs.loc[d.jobs["status"] == "completed", "latency_s"].to_numpy(float))
        lat = lat[np.isfinite(lat)]
        name = _label(d, labels[i] if labels else None)
        if len(lat):
            any_data = True
            y = np.arange(1, len(lat) + 1) / len(lat)
            ax.step(
                lat,
                y,
                where="post",
                color=PAIR_COLORS[i],
                lw=1.6,
                label=f"{name}: p50 {np.percentile(lat, 50):.3g} s, p95 {np.percentile(lat, 95):.3g} s",
            )
    if any_data:
        ax.set_xscale("log")
        ax.legend(loc="lower right", fontsize="small")
    else:
        ax.text(0.5, 0.5, "no completed jobs", ha="center", va="center", transform=ax.transAxes)
    for q in (0.5, 0.95):
        ax.axhline(q, color="#999", lw=0.6, ls=":")
    ax.set_xlabel("latency, arrival to completion (s)")
    ax.set_ylabel("fraction of completed jobs")
    ax.set_ylim(0, 1.01)
    ax.set_title("Latency CDF")
    return fig


def cost_by_state_pair(a: Any, b: Any, labels: tuple[str, str] | None = None) -> Figure:
    """Billed USD per worker state (running split into busy and warm), both runs side by side."""
    runs = [as_run_data(a), as_run_data(b)]
    cats = [
        "initializing",
        "running (busy)",
        "running (warm)",
        *[s for s in STATES if s not in ("initializing", "running")],
    ]
    values = []
    for d in runs:
        c = d.summary.get("cost_usd", {})
        by = c.get("by_state", {})
        row = {s: float(by.get(s) or 0.0) for s in STATES}
        busy, warm = c.get("running_busy"), c.get("running_warm")
        if busy is None or warm is None:
            busy, warm = row["running"], 0.0
        row["running (busy)"], row["running (warm)"] = float(busy), float(warm)
        values.append([row[k] for k in cats])
    keep = [i for i, _ in enumerate(cats) if values[0][i] > 0 or values[1][i] > 0] or [0]
    fig = new_figure(8, 4.2)
    ax = fig.add_subplot()
    x = np.arange(len(keep))
    for i, d in enumerate(runs):
        total = d.summary.get("cost_usd", {}).get("total") or 0.0
        ys = [values[i][k] for k in keep]
        bars = ax.bar(
            x + (i - 0.5) * 0.38,
            ys,
            0.38,
            color=PAIR_COLORS[i],
            label=f"{_label(d, labels[i] if labels else None)}: ${total:,.4g} total",
        )
        ax.bar_label(bars, [f"${v:,.3g}" for v in ys], fontsize="x-small", padding=2)
    ax.set_xticks(x, [cats[k] for k in keep], fontsize="small")
    ax.set_ylabel("billed cost (USD)")
    ax.set_title("Cost by worker state")
    ax.legend(fontsize="small")
    ax.margins(y=0.15)
    return fig


def _draw_timeline(ax: Any, d: RunData, unit: float, max_workers: int) -> set[str]:
    if d.workers.empty:
        ax.text(0.5, 0.5, "no workers started", ha="center", va="center", transform=ax.transAxes)
        return set()
    wid, cat, s, e = merged_intervals(d.workers)
    ids = np.unique(wid)[:max_workers]
    row = {w: i for i, w in enumerate(ids)}
    shown = np.isin(wid, ids)
    seen: set[str] = set()
    for name, color in TIMELINE_COLORS.items():
        m = shown & (cat == name)
        if not m.any():
            continue
        seen.add(name)
        y = np.array([row[w] for w in wid[m]], dtype=float)
        x0, x1 = s[m] / unit, e[m] / unit
        ax.add_collection(PolyCollection(interval_boxes(x0, x1, y), facecolors=color, edgecolors="none"))
    ax.set_ylim(len(ids) - 0.5, -0.5)
    ax.set_yticks(range(len(ids)), [f"w{w}" for w in ids], fontsize="x-small")
    return seen


def timelines_pair(a: Any, b: Any, labels: tuple[str, str] | None = None, max_workers: int = 30) -> Figure:
    """Worker-state timelines of both runs, one above the other, sharing the time axis."""
    runs = [as_run_data(a), as_run_data(b)]
    horizon = max(*(d.horizon_s for d in runs), 1e-9)
    label, unit = time_unit(horizon)
    n_rows = [min(max(d.workers["worker_id"].nunique() if not d.workers.empty else 1, 1), max_workers) for d in runs]
    fig = new_figure(9, min(11.0, 2.2 + 0.22 * sum(n_rows)))
    axes = fig.subplots(2, 1, sharex=True, height_ratios=[max(n, 2) for n in n_rows])
    seen: set[str] = set()
    for i, (ax, d) in enumerate(zip(axes, runs, strict=True)):
        seen |= _draw_timeline(ax, d, unit, max_workers)
        ax.set_title(_label(d, labels[i] if labels else None), fontsize="medium", loc="left")
        ax.set_ylabel("worker")
    axes[-1].set_xlim(0, horizon / unit)
    axes[-1].set_xlabel(f"time ({label})")
    handles = [Patch(color=c, label=PHASE_LABELS.get(n, n)) for n, c in TIMELINE_COLORS.items() if n in seen]
    if handles:
        fig.legend(handles=handles, loc="outside right upper", fontsize="small", frameon=False)
    return fig


def cold_start_phases_pair(a: Any, b: Any, labels: tuple[str, str] | None = None) -> Figure:
    """Mean seconds per cold-start phase episode, both runs side by side (n above each bar)."""
    runs = [as_run_data(a), as_run_data(b)]
    samples = [phase_samples(d.workers, d.horizon_s or None) for d in runs]
    phases = [p for p in COLD_PHASES if p in samples[0] or p in samples[1]]
    fig = new_figure(8, 4.2)
    ax = fig.add_subplot()
    if not phases:
        ax.text(0.5, 0.5, "no cold starts in either run", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    x = np.arange(len(phases))
    for i, d in enumerate(runs):
        means = [float(np.mean(samples[i][p])) if p in samples[i] else 0.0 for p in phases]
        sds = [float(np.std(samples[i][p])) if p in samples[i] else 0.0 for p in phases]
        bars = ax.bar(
            x + (i - 0.5) * 0.38,
            means,
            0.38,
            yerr=sds,
            capsize=3,
            color=PAIR_COLORS[i],
            label=_label(d, labels[i] if labels else None),
        )
        ax.bar_label(bars, [f"n={len(samples[i].get(p, []))}" for p in phases], fontsize="x-small", padding=2)
    ax.set_xticks(x, [PHASE_LABELS.get(p, p) for p in phases], fontsize="small")
    ax.set_ylabel("seconds per episode (mean ± sd)")
    ax.set_title("Cold-start phases")
    ax.legend(fontsize="small")
    ax.margins(y=0.15)
    return fig


#: file stem -> (title, figure function), in the order the page shows them
COMPARE_PLOTS = {
    "compare_latency_cdf": ("Latency CDFs", latency_cdfs),
    "compare_cost_by_state": ("Cost by worker state", cost_by_state_pair),
    "compare_worker_timelines": ("Worker states over time", timelines_pair),
    "compare_cold_start_phases": ("Cold-start phases", cold_start_phases_pair),
}

__all__ = ["COMPARE_PLOTS", "cold_start_phases_pair", "cost_by_state_pair", "latency_cdfs", "timelines_pair"]
