"""``simserve plan``: the cheapest endpoint configuration that meets the SLOs.

Owns the command's options (``--slo``, ``--vary``, ``--cluster``, replications), the progress
bar and the ranked table on the terminal. The search lives in ``simserve.plan``; bad SLO or
``--vary`` syntax, or an ``--out`` that cannot be a writable directory, becomes a one-line
usage error (exit 2) before any run.
"""

from __future__ import annotations

import math
import re
import shlex
import signal
import sys
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from simserve.cli import UsageError, app
from simserve.numfmt import num

console = Console()


def _pm(mean: Any, lo: Any, hi: Any, money: bool = False) -> str:
    """``mean ±half-width`` of a 95% interval, compact for the terminal (``simserve.numfmt`` style)."""

    def bad(v: Any) -> bool:
        return v is None or (isinstance(v, float) and not math.isfinite(v))

    if bad(mean):
        return "-"
    f = (lambda v: f"{v:,.0f}") if money else (lambda v: num(v, 3))
    return f(mean) if bad(lo) or bad(hi) else f"{f(mean)} ±{f((hi - lo) / 2)}"


def _header(slo_text: str) -> str:
    """An SLO column's header on two lines (figure, then bound), so that it is no wider than its values."""
    found = re.search(r"(<=|>=|<|>|==)", slo_text)
    return slo_text if found is None else f"{slo_text[: found.start()]}\n{slo_text[found.start() :]}"


def plan_table(result: Any, table: Any, top: int) -> tuple[Table, list[str]]:
    """The ranked candidates as a table with no column that wraps or is cut, and the lines that say why
    the shown candidates that are not feasible are not (``#6, #7 not run: ...``, one per reason): reasons
    are sentences, a column of them would be cut at 80 columns."""
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    slo_names = [s.text for s in result.slos]
    headers = ["#", "config", "status", "reps", "$/month\n±95%", *[_header(s) for s in slo_names]]
    for col in headers:
        t.add_column(col, no_wrap=True, justify="left" if col in ("config", "status") else "right")
    why: dict[tuple[str, str], list[str]] = {}  # (status, reason) -> candidates, in table order
    for _, row in table.head(top).iterrows():
        style = "green" if row["status"] == "feasible" else ("dim" if row["status"] in ("not run", "invalid") else "")
        t.add_row(
            str(row["candidate"]),
            " ".join(str(row[d.key]) for d in result.dims),
            str(row["status"]),
            str(row["replications"]),
            _pm(row.get("cost_per_month"), row.get("cost_per_month_lo"), row.get("cost_per_month_hi"), True),
            *[_pm(row.get(s), row.get(f"{s} lo"), row.get(f"{s} hi")) for s in slo_names],
            style=style + (" bold" if row["recommended"] else ""),
        )
        reason = " ".join(str(row.get("reason") or "").split())
        if row["status"] != "feasible" and reason and reason != "nan":
            why.setdefault((str(row["status"]), reason), []).append(f"#{row['candidate']}")
    return t, [f"{', '.join(ids)} {status}: {reason}" for (status, reason), ids in why.items()]


def render_plan(result: Any, table: Any, top: int) -> None:
    """Print the ranked candidates and the recommendation. The table is as wide as its values; where that
    is wider than the terminal (or the 80 columns of a pipe), each candidate is printed as one line."""
    from simserve.plan.report import balance_tier

    dims = " / ".join(d.key.split(".")[-1] for d in result.dims)
    console.print(
        f"[bold]plan for {result.base.get('name')}[/bold]: top {min(top, len(table))} of {len(table)} "
        f"candidates (config = {dims})",
        highlight=False,
    )
    t, why = plan_table(result, table, top)
    if Measurement.get(console, console.options.update(max_width=1 << 16), t).maximum <= console.width:
        console.print(t)
    else:  # too wide even unwrapped: one line per candidate, wrapped at spaces
        for row in _rows_as_text(t):
            console.print(row, highlight=False)
    for line in why:
        console.print(f"[dim]{escape(line)}[/dim]", highlight=False)
    console.print(
        f"runs used: {result.runs_used:,} (full grid: {result.full_grid_runs:,} = "
        f"{sum(1 for c in result.candidates if c.error is None):,} valid candidates x "
        f"{result.spec.replications} replications), {result.rounds} rounds"
    )
    if result.recommended is None:
        console.print("[red]no candidate meets every SLO at the requested confidence[/red]")
        return
    v = result.verdicts[result.recommended]
    chosen = ", ".join(f"{k}={val}" for k, val in result.recommended_overrides.items())
    console.print(
        f"[bold green]recommended[/bold green] #{result.recommended}: {chosen}: "
        f"${v.cost.mean:,.0f}/month [{v.cost.lo:,.0f}, {v.cost.hi:,.0f}]"
    )
    tier = balance_tier(result)
    if tier:
        console.print(f"balance: {tier['text']}")


def _rows_as_text(t: Table) -> list[str]:
    """Each row of ``t`` as ``#N, header value, header value, ...`` (an SLO's header back on one line)."""
    heads = [re.sub(r"\n(?=[<>=])", "", str(c.header)).replace("\n", " ") for c in t.columns]
    cells = [list(c.cells) for c in t.columns]
    n = len(cells[0]) if cells else 0
    return [
        ", ".join([f"#{cells[0][i]}", *(f"{h} {col[i]}" for h, col in zip(heads[1:], cells[1:], strict=True))])
        for i in range(n)
    ]


@app.command()
def plan(
    scenario: Path = typer.Argument(..., help="scenario YAML file (its plan: section is the default search)"),
    slo: list[str] = typer.Option([], "--slo", help='objective, e.g. "latency_p95<=8s" or "failed<=0.1%" (repeatable)'),
    vary: list[str] = typer.Option(
        [],
        "--vary",
        help="search dimension, e.g. endpoint.max_workers=3,5,10 or endpoint.active_workers=0..4 (repeatable)",
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="output directory (default plans/<name>)"),
    cluster: str | None = typer.Option(None, "--cluster", help="Dask scheduler address, e.g. tcp://host:8786"),
    replications: int | None = typer.Option(None, "--replications", "-r", help="replications per candidate (>= 2)"),
    max_replications: int | None = typer.Option(None, "--max-replications", help="most replications for a close call"),
    search: str | None = typer.Option(None, "--search", help="smart (default) or grid (every point)"),
    seed: int | None = typer.Option(None, "--seed", min=0, help="override the scenario's seed (an integer >= 0)"),
    processes: int | None = typer.Option(None, "--processes", "-j", help="local processes (default: all cores)"),
    set_: list[str] = typer.Option([], "--set", help="override a field: dotted.key=value (repeatable)"),
    top: int = typer.Option(15, "--top", help="rows of the ranked table to print"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="print nothing but errors"),
) -> None:
    """Find the cheapest configuration that meets every SLO; write plan.csv, plan.json, recommended.yaml, pareto.png."""
    from simserve.interrupts import SIGNAL_EXIT, Terminated, sigterm_raises
    from simserve.plan.report import ranked_table, write_plan
    from simserve.results.outputs import check_out_dir, default_out_dir, staged_out_dir
    from simserve.scenario import load_scenario
    from simserve.workload import check_files

    if search not in (None, "smart", "grid"):
        raise UsageError(f"--search {search!r}: expected smart or grid")
    if replications is not None and replications < 2:
        raise UsageError(f"--replications {replications}: expected 2 or more (intervals need two runs)")
    sc = load_scenario(scenario, set_)
    check_files(sc)  # trace and tenants CSVs: bad rows are one line and exit 2, before any work
    # an output path that cannot be a writable directory is one line and exit 2, before any work
    out_dir = check_out_dir(
        out or default_out_dir("plans", sc.name), "--out" if out is not None else "output directory"
    )
    try:
        # SIGTERM ends the plan as Ctrl-C does (the pool's processes terminated); then exit 143
        with sigterm_raises():
            result, source = _search(
                scenario, sc, set_, slo, vary, replications, search, max_replications, cluster, processes, seed, quiet
            )
            with staged_out_dir(out_dir) as work:  # plan.csv and friends appear together, or not at all
                paths = write_plan(work, result, source)
    except Terminated:
        print(f"stopped by signal; {out_dir} left as it was", file=sys.stderr)
        raise typer.Exit(SIGNAL_EXIT[signal.SIGTERM]) from None
    if not quiet:
        render_plan(result, ranked_table(result), top)
        console.print(f"[dim]wrote {', '.join(str(out_dir / p.name) for p in paths.values())}[/dim]")
        if "scenario" in paths:  # a candidate met every SLO: its scenario runs as it stands
            cmd = f"simserve run {shlex.quote(str(out_dir / paths['scenario'].name))}"
            console.print(
                f"next: [bold]{escape(cmd)}[/bold]  [dim]# the recommended setup: monthly bill, latency, plots[/dim]",
                soft_wrap=True,
                highlight=False,
            )


def _search(
    scenario: Path,
    sc: Any,
    set_: list[str],
    slo: list[str],
    vary: list[str],
    replications: int | None,
    search: str | None,
    max_replications: int | None,
    cluster: str | None,
    processes: int | None,
    seed: int | None,
    quiet: bool,
) -> tuple[Any, Any]:
    """Resolve the plan's spec and run the search with a progress bar; ``(result, scenario source)``.
    A bad spec is a ``UsageError``."""
    import yaml
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from simserve.plan.executors import make_executor
    from simserve.plan.search import plan as run_plan, resolve_spec
    from simserve.planspec import PlanError
    from simserve.scenario import parse_override

    try:
        spec = resolve_spec(
            sc, slo=slo, vary=vary, replications=replications, search=search, max_replications=max_replications
        )
        source = yaml.safe_load(scenario.read_text())
        for item in set_:
            key, value = parse_override(item)
            node = source
            for k in key.split(".")[:-1]:
                node = node.setdefault(k, {})
            node[key.split(".")[-1]] = value
        with (
            make_executor(cluster, processes) as ex,
            Progress(
                TextColumn("planning"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("runs"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
                disable=quiet or not console.is_terminal,  # a pipe gets the table only
            ) as progress,
        ):
            task = progress.add_task("plan", total=None)
            result = run_plan(
                sc,
                spec,
                executor=ex,
                seed=seed,
                on_progress=lambda done, known: progress.update(task, completed=done, total=known),
            )
    except PlanError as exc:
        raise UsageError(str(exc)) from None
    return result, source


__all__ = ["plan", "render_plan"]
