"""The monthly cost view: what the run's traffic costs per hour, month and 1k requests, and
the flex vs active break-even.

``monthly_costs`` scales a run's figures to a month (730 hours) at the same traffic and says
whether they are the simulated month's own (a window of 30 days or more) or extrapolated from
the hours simulated (``month_basis``, in ``table.attrs["basis"]``);
``break_even_point`` picks, from a break-even table (one row per number of always-on
workers, as ``simserve.plan.breakeven.break_even`` computes it), the number of active workers
that minimises monthly cost, and ``monthly_cost_figure`` draws the table. Nothing here
simulates: the table comes in as data.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from simserve.report.data import as_run_data
from simserve.report.style import fmt_s, new_figure
from simserve.units import HOURS_PER_MONTH


def monthly_costs(run: Any) -> pd.DataFrame:
    """Cost per hour / day / month and per 1k requests at the run's traffic (one row per figure)."""
    data = as_run_data(run)
    s = data.summary
    cost = s["cost_usd"]
    window_h = max(data.horizon_s - data.warmup_s, 1e-9) / 3600.0
    per_hour = float(cost.get("per_hour") or 0.0)
    req_per_hour = float(s["requests"]["arrived"]) / window_h
    rows = [
        ("cost per hour (USD)", per_hour),
        ("cost per day (USD)", per_hour * 24),
        ("cost per month (USD, 730 h)", per_hour * HOURS_PER_MONTH),
        ("requests per month", req_per_hour * HOURS_PER_MONTH),
        ("cost per 1k requests (USD)", cost.get("per_1k_requests")),
        ("latency p95 (s)", s["latency_s"].get("p95")),
    ]
    table = pd.DataFrame(rows, columns=["figure", "value"]).set_index("figure")
    table.attrs["basis"] = month_basis(window_h, measured=s.get("engine") == "live")
    return table


#: a statistics window at least this long is a simulated month, not an extrapolation
SIMULATED_MONTH_H = 30 * 24.0


def month_basis(window_h: float, *, measured: bool = False) -> str:
    """Where the monthly figures come from: the month itself, or hours scaled up to 730 (``measured``: a live
    or serve run's traffic, not a simulation's).

    >>> month_basis(2.0), month_basis(1 / 120, measured=True)
    ('extrapolated from 2 hours of simulated traffic', 'extrapolated from 30 seconds of measured traffic')
    """
    what = "measured" if measured else "simulated"
    if window_h >= SIMULATED_MONTH_H:
        return f"the {what} month ({window_h / 24:.0f} days of traffic, scaled to the platform's 730 h month)"
    if window_h >= 1:
        span = f"{window_h:,.4g} hour" + ("" if window_h == 1 else "s")
    elif window_h >= 1 / 60:
        span = f"{window_h * 60:.3g} minutes"
    else:
        span = f"{window_h * 3600:.3g} seconds"
    return f"extrapolated from {span} of {what} traffic"


def break_even_point(table: pd.DataFrame) -> int:
    """Active workers with the lowest monthly cost (the fewest among equals): how many pay off."""
    best = table["cost_per_month"].min()
    cheapest = table[table["cost_per_month"] <= best * (1 + 1e-9)]
    return int(cheapest["active_workers"].min())


def monthly_cost_figure(table: pd.DataFrame, *, current: int | None = None, title: str = "") -> Figure:
    """Monthly cost (bars) and p95 latency (line, twin axis) against the number of active workers.

    The cheapest bar is the break-even point and is labelled; ``current`` outlines the run's own
    setting.
    """
    fig = new_figure(8, 4.5)
    ax = fig.add_subplot()
    x = table["active_workers"].to_numpy()
    cost = table["cost_per_month"].to_numpy(dtype=float)
    best = break_even_point(table)
    colors = ["#2ca02c" if n == best else "#9ecae1" for n in x]
    bars = ax.bar(
        x,
        cost,
        color=colors,
        edgecolor=["black" if n == current else "none" for n in x],
        linewidth=1.5,
        label="cost per month (USD)",
    )
    ax.bar_label(bars, labels=[f"${c:,.0f}" for c in cost], fontsize="x-small", padding=2)
    ax.set_xlabel("active (always-on) workers")
    ax.set_ylabel("cost per month (USD, 730 h)")
    ax.set_xticks(x)
    ax.set_ylim(0, float(cost.max()) * 1.15 if len(cost) and cost.max() > 0 else 1.0)
    ax2 = ax.twinx()
    p95 = table["p95_s"].astype(float).to_numpy()
    ax2.plot(x, p95, "o-", color="#d62728", label="latency p95 (s)")
    ax2.set_ylabel("latency p95 (s)")
    ax2.set_ylim(bottom=0)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="lower left", fontsize="small")
    row = table[table["active_workers"] == best].iloc[0]
    ax.set_title(
        f"{title + ': ' if title else ''}break-even at {best} active worker"
        f"{'s' if best != 1 else ''} (${row['cost_per_month']:,.0f}/month, p95 {fmt_s(row['p95_s'])})"
    )
    return fig
