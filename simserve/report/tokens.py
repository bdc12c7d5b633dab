"""The token view of an LLM run: time to first token and time per output token.

``ttft_tpot(run)`` draws, from the jobs table's ``ttft_s`` and ``tpot_s`` columns (runs whose
service is ``type: llm``), the CDF of each with p50 and p95 marked, and their p50/p95 by arrival
minute over the run, so a user sees both the distribution an SLO is judged on and when it slips.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simserve.report.data import as_run_data
from simserve.report.style import new_figure, time_unit

_COLORS = {"ttft_s": "#1f77b4", "tpot_s": "#d62728"}
_LABELS = {"ttft_s": "TTFT (arrival to first token)", "tpot_s": "TPOT (per output token after the first)"}


def has_tokens(run: Any) -> bool:
    """Whether the run's jobs table carries the LLM columns."""
    return "ttft_s" in as_run_data(run).jobs.columns


def ttft_tpot(run: Any) -> Figure:
    """CDFs of TTFT and TPOT (top) and their p50/p95 by arrival minute (bottom)."""
    data = as_run_data(run)
    j = data.jobs
    fig = new_figure(10, 7)
    axes = fig.subplots(2, 2)
    fig.suptitle(f"{data.name}: time to first token and time per output token")
    keep = j[j["arrival_s"].to_numpy(dtype=float) >= data.warmup_s]
    unit, per = time_unit(data.horizon_s)
    for col, (top, bottom) in zip(("ttft_s", "tpot_s"), axes.T, strict=True):
        v = keep[col].to_numpy(dtype=float)
        v = np.sort(v[~np.isnan(v)])
        top.set_title(_LABELS[col])
        top.set_xlabel("seconds")
        top.set_ylabel("fraction of requests")
        bottom.set_xlabel(f"arrival time ({unit})")
        bottom.set_ylabel("seconds")
        if not len(v):
            top.text(0.5, 0.5, "no values", ha="center", va="center", transform=top.transAxes)
            continue
        y = np.arange(1, len(v) + 1) / len(v)
        top.step(v, y, where="post", color=_COLORS[col], lw=1.5)
        for q, ls in ((50, ":"), (95, "--")):
            x = float(np.percentile(v, q))
            top.axvline(x, color="#333333", ls=ls, lw=1.1, label=f"p{q} = {x * 1000:.0f} ms")
        if v[0] > 0 and v[-1] / v[0] > 50:
            top.set_xscale("log")
        top.set_ylim(0, 1.02)
        top.grid(True, alpha=0.3)
        top.legend(loc="lower right")
        minute = (keep["arrival_s"].to_numpy(dtype=float) // 60.0).astype(np.int64)
        frame = pd.DataFrame({"minute": minute, "v": keep[col].to_numpy(dtype=float)}).dropna()
        by = frame.groupby("minute")["v"]
        p50, p95 = by.quantile(0.5), by.quantile(0.95)
        t = (p50.index.to_numpy() * 60.0 + 30.0) / per
        bottom.plot(t, p50.to_numpy(), color=_COLORS[col], ls=":", lw=1.3, label="p50 by minute")
        bottom.plot(t, p95.to_numpy(), color=_COLORS[col], ls="-", lw=1.3, label="p95 by minute")
        bottom.set_yscale("log")
        bottom.grid(True, alpha=0.3)
        bottom.legend(loc="upper right")
    return fig
