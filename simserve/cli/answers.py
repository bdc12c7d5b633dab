"""The answers a run ends with on the terminal: the monthly bill and its basis, the latency
percentiles, a warning when the first cold start sets a tail percentile, and what to run next.

Owns ``answer_rows`` (bill and latency, as label/text rows), ``startup_tail`` (the warning),
``next_commands`` and ``render_answers``. The monthly bill and its basis are those of
``simserve.report.monthly.monthly_costs`` (the HTML report's: the cost per hour over the statistics
window times the platform's 730 h month); nothing here computes a cost of its own or writes a file.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from simserve.cli.fmt import num, usd

#: a tail percentile is "set by the first cold start" when it is at least this many times what it is without
#: the jobs that waited for it (and at least STARTUP_MIN_S seconds more)
STARTUP_FACTOR = 2.0
STARTUP_MIN_S = 1.0
TAILS = (("p99", 99.0), ("p95", 95.0))


def answer_rows(summary: dict[str, Any], window_s: float) -> list[tuple[str, str]]:
    """``[("monthly bill", ...), ("latency", ...)]``: the bill at this traffic for the platform's month and
    where it comes from, as ``simserve.report.monthly.monthly_costs`` has them (``window_s``: the statistics
    window, horizon minus warmup), and p50/p95/p99."""
    import pandas as pd

    from simserve.report.data import RunData
    from simserve.report.monthly import monthly_costs

    rows = []
    if summary["cost_usd"].get("per_hour") is not None:
        data = RunData("run", summary, pd.DataFrame(), pd.DataFrame(), horizon_s=max(window_s, 1e-9), warmup_s=0.0)
        table = monthly_costs(data)
        month = table.loc["cost per month (USD, 730 h)", "value"]
        hour = table.loc["cost per hour (USD)", "value"]
        rows.append(("monthly bill", f"{usd(month)} a month at this traffic, {usd(hour)}/h; {table.attrs['basis']}"))
    lat = summary["latency_s"]
    figures = [f"{k} {num(lat[k])} s" if lat.get(k) is not None else f"{k} -" for k in ("p50", "p95", "p99")]
    rows.append(("latency", ", ".join(figures)))
    return rows


def startup_tail(jobs: Any, summary: dict[str, Any], warmup_s: float) -> str | None:
    """A warning when a tail percentile of latency is set by the jobs that waited for the run's first cold
    start, else None.

    Those jobs are the completed ones (in the statistics window, as the summary counts them) that arrived
    before any job started: until the first worker was ready, nothing could serve them. The percentile is
    "set by them" when it is at least ``STARTUP_FACTOR`` times (and ``STARTUP_MIN_S`` more than) the same
    percentile without them. Each such percentile is named.
    """
    if jobs is None or len(jobs) == 0 or "start_s" not in jobs:
        return None
    start = jobs["start_s"].to_numpy(dtype=float)
    if not np.isfinite(start).any():
        return None
    first_start = float(np.nanmin(start))
    arrival = jobs["arrival_s"].to_numpy(dtype=float)
    done = (jobs["status"].astype(str) == "completed").to_numpy() & (arrival >= warmup_s)
    latency = jobs["latency_s"].to_numpy(dtype=float)
    waited = done & (arrival < first_start)
    rest = latency[done & ~waited]
    if not waited.any():
        return None
    if len(rest) == 0:
        return (
            f"every completed job arrived before the first worker was ready at t = {num(first_start)} s: the "
            "latency figures are the first cold start's; a longer horizon (or a warmup past it) measures the rest"
        )
    flagged = []
    for name, q in TAILS:
        with_them = summary["latency_s"].get(name)
        without = float(np.percentile(rest, q))
        if with_them is not None and with_them >= STARTUP_FACTOR * without and with_them - without >= STARTUP_MIN_S:
            flagged.append((name, float(with_them), without))
    if not flagged:
        return None
    flagged.sort()  # p95 before p99
    n = int(waited.sum())
    names = " and ".join(name for name, _, _ in flagged)
    were = " and ".join(f"{num(w)} s" for _, w, _ in flagged)
    now = " and ".join(f"{num(wo)} s" for _, _, wo in flagged)
    return (
        f"latency {names} ({were}) {'are' if len(flagged) > 1 else 'is'} set by the first cold start: "
        f"{n:,} job{'s' if n != 1 else ''} arrived before the first worker was ready at t = {num(first_start)} s "
        f"and waited for it; without them {names} {'are' if len(flagged) > 1 else 'is'} {now}. "
        f"--set warmup={num(_round_up(first_start))}s leaves them out of the figures; "
        "endpoint.active_workers >= 1 keeps a worker ready (and billed) from the start"
    )


def next_commands(
    path: Path | None, sc: Any, out_dir: Path | None, p95_s: Any, overrides: Sequence[str] = (), *, big: bool = False
) -> list[tuple[str, str]]:
    """The one or two commands worth running next, with what each gives: the HTML report of this run
    (``out_dir``), and a plan for the scenario at ``path`` (its own ``plan:`` section, or an SLO near this
    run's p95 over 0..2 active workers), with the run's ``--set`` ``overrides``; ``big``: a run of millions
    of arrivals, and the plan says that each of its candidates is one."""
    steps = []
    if out_dir is not None:
        steps.append((f"simserve report {shlex.quote(str(out_dir))}", "the HTML report: plots, break-even"))
    if path is not None:
        cmd = f"simserve plan {shlex.quote(str(path))}"
        if sc.plan is None:
            slo = _round_up(float(p95_s)) if isinstance(p95_s, (int, float)) and p95_s > 0 else 10
            most = min(2, int(sc.endpoint.max_workers))
            cmd += f' --slo "latency_p95<={num(slo)}s" --vary endpoint.active_workers=0..{most}'
        cmd += "".join(f" --set {shlex.quote(o)}" for o in overrides)
        why = "the cheapest setup that meets a latency target"
        steps.append((cmd, f"{why}; each candidate is a run this size, several times" if big else why))
    return steps


def _round_up(x: float) -> float:
    """The next 1-2-5 step at or above ``x`` (8.2 -> 10, 0.31 -> 0.5)."""
    step = 10.0 ** np.floor(np.log10(x))
    return float(next(m * step for m in (1, 2, 5, 10) if m * step >= x))


def render_answers(
    console: Console,
    summary: dict[str, Any],
    *,
    window_s: float,
    steps: list[tuple[str, str]],
) -> None:
    """Print the bill and latency rows and the next commands (a command is one line, whatever the width,
    so that it can be copied). ``startup_tail``'s warning goes with the run's other warnings (stderr)."""
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold green", no_wrap=True)
    t.add_column()
    for label, text in answer_rows(summary, window_s):
        t.add_row(label, escape(text))
    console.print(t)
    for cmd, why in steps:
        console.print(f"next: [bold]{escape(cmd)}[/bold]  [dim]# {escape(why)}[/dim]", soft_wrap=True, highlight=False)


__all__ = ["answer_rows", "next_commands", "render_answers", "startup_tail"]
