"""Figures over time: the worker-state timeline and the queue / workers / arrival-rate chart.

``worker_timeline`` draws one row per worker with its state intervals coloured (cold-start
phases in their own colours, running split into busy and warm); ``queue_timeline`` draws jobs
in queue and workers alive as step lines with the arrival rate on a second axis. Both take
any run form ``as_run_data`` accepts and return a ``Figure``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from simserve.records import COLD_PHASES
from simserve.report.data import alive_series, arrival_rate, as_run_data, bin_mean, queue_series
from simserve.report.style import PHASE_COLORS, PHASE_LABELS, STATE_COLORS, new_figure, time_unit

#: timeline categories in legend order -> colour
TIMELINE_COLORS: dict[str, str] = {
    **{p: PHASE_COLORS[p] for p in COLD_PHASES},
    "running (busy)": STATE_COLORS["running (busy)"],
    "running (warm)": STATE_COLORS["running (warm)"],
    "idle": STATE_COLORS["idle"],
    "throttled": STATE_COLORS["throttled"],
    "outdated": STATE_COLORS["outdated"],
    "unhealthy": STATE_COLORS["unhealthy"],
}


def timeline_category(state: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Timeline category per interval: the cold-start phase while initializing, else the state."""
    out = state.astype(object).copy()
    init = state == "initializing"
    out[init] = np.where(np.isin(phase[init], COLD_PHASES), phase[init], "handler_init")
    run = state == "running"
    out[run] = np.where(phase[run] == "busy", "running (busy)", "running (warm)")
    return out


def merged_intervals(workers: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Intervals with consecutive same-category pieces of one worker merged: (worker, cat, start, end)."""
    wid = workers["worker_id"].to_numpy()
    cat = timeline_category(workers["state"].to_numpy(dtype=object), workers["phase"].to_numpy(dtype=object))
    s = workers["start_s"].to_numpy(dtype=float)
    e = workers["end_s"].to_numpy(dtype=float)
    if len(wid) == 0:
        return wid, cat, s, e
    new = np.r_[True, (wid[1:] != wid[:-1]) | (cat[1:] != cat[:-1]) | (s[1:] != e[:-1])]
    group = np.cumsum(new) - 1
    ends = np.zeros(group[-1] + 1)
    np.maximum.at(ends, group, e)
    return wid[new], cat[new], s[new], ends


def interval_boxes(x0: np.ndarray, x1: np.ndarray, y: np.ndarray, half: float = 0.38) -> Sequence[np.ndarray]:
    """Rectangles ``[x0, x1] x [y - half, y + half]`` as polygons for a ``PolyCollection``."""
    verts = np.stack([np.c_[x0, y - half], np.c_[x0, y + half], np.c_[x1, y + half], np.c_[x1, y - half]], axis=1)
    # one (n, 4, 2) array, which matplotlib takes whole (its fast path); its stub only names Sequence
    return cast("Sequence[np.ndarray]", verts)


def worker_timeline(run: Any, max_workers_shown: int = 60) -> Figure:
    """One row per worker (up to ``max_workers_shown``), state intervals coloured by category.

    One ``PolyCollection`` per category present, labelled with the category name.
    """
    data = as_run_data(run)
    wid, cat, s, e = merged_intervals(data.workers)
    ids = np.unique(wid)[:max_workers_shown]
    row = {w: i for i, w in enumerate(ids)}
    label, unit = time_unit(data.horizon_s)
    height = min(9.0, 1.6 + 0.28 * max(len(ids), 1))
    fig = new_figure(9, height)
    ax = fig.add_subplot()
    shown = np.isin(wid, ids)
    handles = []
    for name, color in TIMELINE_COLORS.items():
        m = shown & (cat == name)
        if not m.any():
            continue
        y = np.array([row[w] for w in wid[m]], dtype=float)
        x0, x1 = s[m] / unit, e[m] / unit
        ax.add_collection(PolyCollection(interval_boxes(x0, x1, y), facecolors=color, edgecolors="none", label=name))
        handles.append(Patch(color=color, label=PHASE_LABELS.get(name, name)))
    ax.set_xlim(0, data.horizon_s / unit)
    ax.set_ylim(len(ids) - 0.5, -0.5)
    ax.set_yticks(range(len(ids)), [f"w{w}" for w in ids], fontsize="small" if len(ids) < 25 else "x-small")
    ax.set_xlabel(f"time ({label})")
    ax.set_ylabel("worker")
    extra = f" (first {len(ids)} of {len(np.unique(wid))})" if len(np.unique(wid)) > len(ids) else ""
    ax.set_title(f"{data.name}: worker states over time{extra}")
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False)
    else:
        ax.text(0.5, 0.5, "no workers started", ha="center", va="center", transform=ax.transAxes)
    return fig


def queue_timeline(run: Any, bins: int = 60) -> Figure:
    """Jobs in queue and workers alive over time, arrival rate per second on a twin axis.

    Each count is drawn exactly (faint steps, labels starting with ``_``) and as its
    time-weighted mean per bin (bold, in the legend); the arrival rate uses the same bins.
    """
    data = as_run_data(run)
    label, unit = time_unit(data.horizon_s)
    fig = new_figure(9, 4.5)
    ax = fig.add_subplot()
    tq, q = queue_series(data)
    ta, a = alive_series(data)
    edges, rate, width = arrival_rate(data, bins)
    for (t, n), color, name in (((tq, q), "#d62728", "jobs in queue"), ((ta, a), "#1f77b4", "workers alive")):
        faint = max(0.06, 0.35 * min(1.0, 1500 / max(len(t), 1)))  # long runs: a lighter haze
        ax.step(t / unit, n, where="post", color=color, lw=0.6, alpha=faint, label=f"_{name} (exact)")
        mean = bin_mean(t, n, edges)
        ax.step(edges / unit, np.r_[mean, mean[-1:]], where="post", color=color, lw=1.8, label=f"{name} (mean per bin)")
    ax.set_xlabel(f"time ({label})")
    ax.set_ylabel("count")
    ax.set_xlim(0, data.horizon_s / unit)
    ax.set_ylim(bottom=0)
    ax2 = ax.twinx()
    ax2.step(
        edges / unit,
        np.r_[rate, rate[-1:]],
        where="post",
        color="#2ca02c",
        lw=1.0,
        alpha=0.8,
        label=f"arrival rate (per s, {width:.0f} s bins)",
    )
    ax2.set_ylabel("arrivals per second")
    ax2.set_ylim(bottom=0)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", fontsize="small")
    ax.set_title(f"{data.name}: queue, workers and arrivals")
    ax.grid(True, alpha=0.3)
    return fig
