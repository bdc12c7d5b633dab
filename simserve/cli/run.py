"""``simserve run``, ``validate`` and ``schema``: the simulator's commands.

Owns loading with overrides, replications with a progress bar, writing the run directory
(tables streamed by default for a run of millions of arrivals: ``simserve.cli.defaults``) and the
readable terminal summary, which ends with the answers of ``simserve.cli.answers`` (monthly bill,
latency, next commands, the first cold start's warning). Library work is delegated to ``simserve.api``,
``simserve.results.replicate``, ``simserve.results.outputs`` and, for ``--report``, ``simserve.report`` with
the break-even sweep of ``simserve.plan.breakeven``.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from simserve.cli import UsageError, app
from simserve.numfmt import num, pct, usd
from simserve.scenario import ScenarioError, load_scenario, scenario_json_schema
from simserve.workload import check_files

console = Console(stderr=False)


def _fmt(v: Any, unit: str = "") -> str:
    return "-" if v is None else f"{num(v)}{unit}"


def _with_ci(node: dict[str, Any], key: str, unit: str = "") -> str:
    text = _fmt(node.get(key), unit)
    ci = node.get(f"{key}_ci")
    if ci and ci[0] is not None:
        text += f"  [{_fmt(ci[0])}, {_fmt(ci[1])}]"
    return text


def _usd_ci(node: dict[str, Any], key: str) -> str:
    text = usd(node.get(key))
    ci = node.get(f"{key}_ci")
    if ci and ci[0] is not None:
        text += f"  [{usd(ci[0])}, {usd(ci[1])}]"
    return text


def render_warnings(summary: dict[str, Any], extra: tuple[str | None, ...] = ()) -> None:
    """Print the summary's ``warnings`` and the ``extra`` ones (None: none) on stderr, one yellow
    ``warning: ...`` line each.

    On stderr so that they show with ``--quiet`` too (a run's warnings say its figures may
    mislead, like errors they are never silenced) and never mix into output a script parses.
    """
    from rich.markup import escape

    from simserve.checks import summary_warnings

    sys.stdout.flush()  # what the summary printed comes first, also when both streams go to one pipe
    err = Console(stderr=True)
    for line in [*summary_warnings(summary), *(w for w in extra if w)]:
        err.print(f"[yellow]warning: {escape(line)}[/yellow]", highlight=False, soft_wrap=True)


def render_summary(
    summary: dict[str, Any],
    out_dir: Path | None = None,
    *,
    warnings: bool = True,
    window_s: float | None = None,
    steps: list[tuple[str, str]] | None = None,
    tail_warning: str | None = None,
) -> None:
    """Print the readable summary of a run (sim or live), then the answers it ends with (monthly bill and
    its basis, latency percentiles, ``steps``: the next commands; ``simserve.cli.answers``), then its
    warnings (``render_warnings`` and ``tail_warning``, on stderr) unless ``warnings=False``.

    ``window_s``: the statistics window the monthly bill is projected from (default: the horizon)."""
    req, lat, cost, wk = summary["requests"], summary["latency_s"], summary["cost_usd"], summary["workers"]
    title = f"{summary.get('scenario')} · {summary.get('engine')} · seed {summary.get('seed')}"
    if summary.get("replications", 1) > 1:
        title += f" · {summary['replications']} replications (95% CI)"
    t = Table(title=title, show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold cyan", no_wrap=True)
    t.add_column()
    t.add_row("requests", ", ".join(f"{k} {_fmt(v)}" for k, v in req.items() if not k.endswith("_ci")))
    for key in ("p50", "p95", "p99", "mean"):
        t.add_row(f"latency {key}", _with_ci(lat, key, " s"))
    t.add_row("queue wait p95", _with_ci(summary["queue_wait_s"], "p95", " s"))
    if "ttft_s" in summary:  # an LLM run
        for name in ("ttft", "tpot"):
            part = summary[f"{name}_s"]
            t.add_row(f"{name.upper()} p50/p95", f"{_with_ci(part, 'p50', ' s')} / {_with_ci(part, 'p95', ' s')}")
        tok = summary["tokens"]
        t.add_row(
            "tokens",
            f"{_fmt(tok['input'])} in, {_fmt(tok['output'])} out ({_fmt(tok['output_per_s'])} out/s), "
            f"{usd(cost.get('per_1m_output_tokens'))} per 1M output tokens",
        )
    t.add_row(
        "cold starts",
        f"{_fmt(summary['cold_start']['requests'])} requests ({pct(summary['cold_start']['fraction'] or 0)})",
    )
    t.add_row("workers", f"mean alive {_with_ci(wk, 'mean_alive')}, peak {_fmt(wk['peak_alive'])}")
    states = ", ".join(
        f"{s} {num(v, 3)}"
        for s, v in wk["mean_by_state"].items()
        if not s.endswith("_ci") and isinstance(v, (int, float)) and v > 0
    )
    t.add_row("  by state", states or "-")
    t.add_row(
        "cost",
        f"{_usd_ci(cost, 'total')} total, {usd(cost['per_hour'])}/h, {usd(cost['per_1k_requests'])} per 1k requests",
    )
    by = ", ".join(
        f"{s} {usd(v)}"
        for s, v in cost["by_state"].items()
        if not s.endswith("_ci") and isinstance(v, (int, float)) and v > 0
    )
    t.add_row("  by state", by or "-")
    t.add_row("GPU utilization", f"{pct(summary['gpu_utilization'] or 0)} of billed GPU time busy")
    console.print(t)
    if out_dir is not None:
        names = ("summary.json", "jobs.csv", "workers.csv", "jobs.parquet", "workers.parquet", "minutes.csv")
        wrote = ", ".join(n for n in names if (out_dir / n).is_file())
        console.print(f"[dim]wrote {out_dir}/{wrote}[/dim]", soft_wrap=True)
    from simserve.cli.answers import render_answers

    window = float(summary.get("horizon_s") or 0.0) if window_s is None else window_s
    render_answers(console, summary, window_s=window, steps=steps or [])
    if warnings:
        render_warnings(summary, (tail_warning,))


@app.command()
def run(
    scenario: Path = typer.Argument(..., help="scenario YAML file"),
    out: Path | None = typer.Option(None, "--out", "-o", help="output directory (default runs/<name>)"),
    seed: int | None = typer.Option(None, "--seed", min=0, help="override the scenario's seed (an integer >= 0)"),
    replications: int | None = typer.Option(
        None, "--replications", "-r", min=1, help="independent replications (95% CIs when > 1)"
    ),
    set_: list[str] = typer.Option([], "--set", help="override a field: dotted.key=value (repeatable)"),
    report: bool = typer.Option(False, "--report", help="also write report.html"),
    svg: bool = typer.Option(False, "--svg", help="also write plots as SVG"),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="write PNG plots"),
    replay: Path | None = typer.Option(
        None, "--replay", help="drive the simulator with a live run's arrivals and service times"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="print nothing but errors and warnings"),
    tables: str | None = typer.Option(
        None,
        "--tables",
        help="jobs and workers tables: csv (in memory, then written), parquet (streamed) or none (summary, "
        "minutes.csv); parquet and none keep memory flat. Default: csv, or parquet for a run of over 1M "
        "arrivals (none with replications)",
    ),
) -> None:
    """Simulate a scenario and write summary.json, minutes.csv and the tables (jobs, workers)."""
    import pandas as pd

    from simserve.api import run_replications
    from simserve.interrupts import SIGNAL_EXIT, Terminated, sigterm_raises
    from simserve.results.outputs import (
        TABLE_FORMATS,
        check_out_dir,
        default_out_dir,
        staged_out_dir,
        write_frame,
        write_run,
    )
    from simserve.results.replicate import combine

    if tables is not None and tables not in TABLE_FORMATS:
        raise UsageError(f"--tables: expected one of {', '.join(TABLE_FORMATS)}; got {tables!r}")
    sc = load_scenario(scenario, set_)
    check_files(sc)  # trace and tenants CSVs: bad rows are one line and exit 2, before any work
    reps = replications or sc.replications
    # a path that cannot be a writable directory is one line and exit 2, before any work
    out_dir = check_out_dir(out or default_out_dir("runs", sc.name), "--out" if out is not None else "output directory")
    jobs = None
    if replay is not None:
        from simserve.calibrate import load_replay
        from simserve.results.outputs import read_run

        jobs = load_replay(replay)
        if not any(o.partition("=")[0].strip() == "horizon" for o in set_):
            # replaying a run: simulate exactly the span it covered (unless --set horizon says otherwise)
            horizon = read_run(replay)["summary"].get("horizon_s")
            if horizon:
                sc = load_scenario(sc.model_dump(), {"horizon": horizon, "warmup": min(sc.warmup, horizon / 2)})
    if tables is None:  # a run of millions of arrivals streams its tables unless asked otherwise, and says so
        from simserve.cli.defaults import default_tables

        tables, note = default_tables(sc, reps, replay is not None)
        if note and not quiet:
            console.print(f"[dim]{note}[/dim]", highlight=False)
    if jobs is not None and tables != "csv":
        raise UsageError("--tables: a --replay run keeps its tables in memory; use --tables csv (the default)")
    # the whole run is written into a private directory beside out_dir, renamed into place at the end:
    # Ctrl-C (exit 130) or SIGTERM (exit 143) leave out_dir as it was
    try:
        with sigterm_raises(), staged_out_dir(out_dir) as work:
            if reps == 1 and jobs is None and tables != "csv":
                results = [_streamed(sc, seed, work, tables, quiet)]
                summary = results[0].summary
            elif reps == 1 or jobs is not None:
                from simserve.api import simulate

                results = [simulate(sc, seed=seed, jobs=jobs)]
                summary = results[0].summary
            else:
                from rich.progress import Progress

                with Progress(console=console, transient=True, disable=quiet or not console.is_terminal) as progress:
                    task = progress.add_task(f"{reps} replications", total=reps)
                    results = run_replications(
                        sc, reps, seed, on_done=lambda i: progress.advance(task), tables=tables != "none"
                    )
                summary = combine([r.summary for r in results])
                # figures only: the warnings (the same scenario's) are in summary.json, not a CSV column
                per_rep = pd.json_normalize([{k: v for k, v in r.summary.items() if k != "warnings"} for r in results])
                per_rep.insert(0, "replication", range(reps))
                write_frame(work / "replications.csv", per_rep)
            write_run(work, results[0], summary, tables=tables)
            if (plots or svg) and results[0].minutes is not None:
                from simserve.report.minutes import minutes_timeline

                fig = minutes_timeline(results[0].minutes, title=f"{sc.name}: per-minute series")
                for ext in ("png", "svg") if svg else ("png",):
                    fig.savefig(work / f"minutes_timeline.{ext}", dpi=100 if ext == "png" else None)
            if (plots or svg or report) and not results[0].has_jobs:
                if not quiet:
                    console.print(
                        "[dim]the other plots and the report need the jobs table: drawn with --tables csv "
                        "(minutes_timeline.png is drawn from minutes.csv)[/dim]"
                    )
                plots = svg = report = False
            if plots or svg or report:
                from simserve.report import write_plots

                write_plots(results[0], work, svg=svg)
            if report:
                from simserve.cli.report import break_even_table
                from simserve.report.html import write_report

                # the break-even sweep re-simulates the scenario (same seed) with 0..max active workers
                write_report(work, break_even=break_even_table(sc, int(summary.get("seed", sc.seed)), quiet=quiet))
    except Terminated:
        print(f"stopped by signal; {out_dir} left as it was", file=sys.stderr)
        raise typer.Exit(SIGNAL_EXIT[signal.SIGTERM]) from None
    from simserve.cli.answers import next_commands
    from simserve.cli.startup import startup_tail, startup_tail_streamed
    from simserve.results.result import statistics_warmup

    warmup = statistics_warmup(sc, float(summary.get("horizon_s") or sc.horizon))
    if results[0].has_jobs:
        tail = startup_tail(results[0].jobs, results[0].summary, warmup)
    elif results[0].startup is not None:  # a streamed run: the jobs that waited, kept apart as they came
        tail = startup_tail_streamed(results[0].startup, results[0].summary)
    else:
        tail = None
    if tail is not None and len(results) > 1:
        tail = f"in replication 0, {tail}"
    if quiet:
        render_warnings(summary, (tail,))  # warnings show with --quiet too (stderr)
    else:
        # the report reads the jobs table back: not offered for a streamed run (millions of rows)
        report_dir = out_dir if results[0].has_jobs else None
        p95 = summary["latency_s"].get("p95")
        steps = next_commands(scenario, sc, report_dir, p95, set_, big=not results[0].has_jobs)
        render_summary(
            summary,
            out_dir,
            window_s=float(summary.get("horizon_s") or sc.horizon) - warmup,
            steps=steps,
            tail_warning=tail,
        )


def _streamed(sc: Any, seed: int | None, out_dir: Path, tables: str, quiet: bool) -> Any:
    """One streamed run (``--tables parquet|none``): jobs.parquet written block by block, progress in the
    terminal (simulated time, jobs, rate, ETA; nothing when not a terminal)."""
    import time

    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from simserve.api import simulate
    from simserve.results.outputs import ParquetJobs, ParquetWorkers, prepare_out_dir

    writers = (
        (ParquetJobs(prepare_out_dir(out_dir), llm=sc.workload.llm is not None), ParquetWorkers(out_dir))
        if tables == "parquet"
        else None
    )
    t0 = time.perf_counter()
    columns = (
        TextColumn("simulated {task.completed:,.0f} of {task.total:,.0f} s"),
        BarColumn(),
        TextColumn("{task.fields[jobs]:,} jobs, {task.fields[rate]:,.0f} jobs/s"),
        TimeRemainingColumn(),
    )
    with Progress(
        *columns, console=Console(stderr=True), transient=True, disable=quiet or not console.is_terminal
    ) as progress:
        task = progress.add_task("run", total=sc.horizon, jobs=0, rate=0.0)

        def on_block(n_jobs: int, now_s: float) -> None:
            rate = n_jobs / max(time.perf_counter() - t0, 1e-9)
            progress.update(task, completed=min(now_s, sc.horizon), jobs=n_jobs, rate=rate)

        try:
            result = simulate(
                sc,
                seed=seed,
                tables=False,
                job_writer=writers[0] if writers else None,
                worker_writer=writers[1] if writers else None,
                on_block=on_block,
            )
        except BaseException:
            for w in writers or ():
                w.abort()
            raise
    for w in writers or ():
        w.close()
    return result


@app.command()
def validate(
    scenarios: list[Path] = typer.Argument(..., help="scenario YAML files"),
    set_: list[str] = typer.Option([], "--set", help="override a field in each file: dotted.key=value (repeatable)"),
) -> None:
    """Check scenario files, the files they name and the simulator's bounds; exit 2 on the first bad one."""
    for path in scenarios:
        sc = load_scenario(path, set_)
        check_files(sc)
        console.print(f"[green]ok[/green] {path} ({sc.name})")
        from simserve.checks import scenario_warnings

        render_warnings({"warnings": scenario_warnings(sc)})


@app.command()
def schema() -> None:
    """Print the JSON schema of the scenario format (for editors)."""
    typer.echo(json.dumps(scenario_json_schema(), indent=2))


__all__ = ["ScenarioError", "UsageError", "render_summary", "render_warnings", "run", "schema", "validate"]
