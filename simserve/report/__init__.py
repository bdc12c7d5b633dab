"""Reports: matplotlib figures, the monthly cost view and the self-contained HTML page.

Every plot function takes a run (``RunResult``, a ``simserve.results.outputs.read_run`` dict, a run
directory or ``RunData``) and returns a ``Figure`` (never shown), so the CLI, the HTML report
and notebooks share them. ``write_plots`` writes the standard set after ``simserve run``;
``simserve.report.html.write_report`` builds ``report.html``. Reports draw what they are
given and never simulate: the flex vs active break-even table comes from
``simserve.plan.breakeven.break_even`` (the CLI computes it and passes it in).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from simserve.report.data import RunData, as_run_data
from simserve.report.monthly import break_even_point, monthly_cost_figure, monthly_costs
from simserve.report.plots import cold_start_breakdown, cost_by_state, latency_cdf
from simserve.report.timeline import queue_timeline, worker_timeline
from simserve.report.tokens import has_tokens, ttft_tpot

#: file stem -> plot function, in the order reports show them
PLOTS: dict[str, Callable[[Any], Figure]] = {
    "latency_cdf": latency_cdf,
    "cost_by_state": cost_by_state,
    "worker_timeline": worker_timeline,
    "queue_timeline": queue_timeline,
    "cold_start_breakdown": cold_start_breakdown,
}


def write_plots(result: Any, out_dir: str | Path, svg: bool = False) -> list[Path]:
    """Write every standard plot of a run as ``<name>.png`` (and ``.svg``) in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = as_run_data(result)
    written: list[Path] = []
    plots = dict(PLOTS)
    if has_tokens(data):
        plots["ttft_tpot"] = ttft_tpot
    for stem, fn in plots.items():
        fig = fn(data)
        for ext in ("png", "svg") if svg else ("png",):
            path = out / f"{stem}.{ext}"
            fig.savefig(path, dpi=100 if ext == "png" else None)
            written.append(path)
    return written


__all__ = [
    "PLOTS",
    "RunData",
    "as_run_data",
    "break_even_point",
    "cold_start_breakdown",
    "cost_by_state",
    "latency_cdf",
    "monthly_cost_figure",
    "monthly_costs",
    "queue_timeline",
    "ttft_tpot",
    "worker_timeline",
    "write_plots",
]
