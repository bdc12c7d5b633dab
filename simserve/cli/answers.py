"""The answers a run ends with on the terminal: the monthly bill and its basis, the latency
percentiles and what to run next (the first cold start's warning is ``simserve.cli.startup``'s).

Owns ``answer_rows`` (bill and latency, as label/text rows), ``next_commands`` and
``render_answers``. The monthly bill and its basis are those of
``simserve.report.monthly.monthly_costs`` (the HTML report's: the cost per hour over the statistics
window times the platform's 730 h month); nothing here computes a cost of its own or writes a file.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from simserve.numfmt import num, step_up, usd


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
            slo = step_up(float(p95_s)) if isinstance(p95_s, (int, float)) and p95_s > 0 else 10
            most = min(2, int(sc.endpoint.max_workers))
            cmd += f' --slo "latency_p95<={num(slo)}s" --vary endpoint.active_workers=0..{most}'
        cmd += "".join(f" --set {shlex.quote(o)}" for o in overrides)
        why = "the cheapest setup that meets a latency target"
        steps.append((cmd, f"{why}; each candidate is a run this size, several times" if big else why))
    return steps


def render_answers(
    console: Console,
    summary: dict[str, Any],
    *,
    window_s: float,
    steps: list[tuple[str, str]],
) -> None:
    """Print the bill and latency rows and the next commands (a command is one line, whatever the width,
    so that it can be copied). ``simserve.cli.startup``'s warning goes with the run's other warnings (stderr)."""
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold green", no_wrap=True)
    t.add_column()
    for label, text in answer_rows(summary, window_s):
        t.add_row(label, escape(text))
    console.print(t)
    for cmd, why in steps:
        console.print(f"next: [bold]{escape(cmd)}[/bold]  [dim]# {escape(why)}[/dim]", soft_wrap=True, highlight=False)


__all__ = ["answer_rows", "next_commands", "render_answers"]
