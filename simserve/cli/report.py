"""``simserve report DIR``: turn a run directory into one self-contained ``report.html``.

Thin: checks the directory (``simserve.results.outputs.read_run``) and that the page and plots can be
written (``check_out_file`` / ``check_out_dir``; either is one line and exit 2), re-loads the
run's scenario and computes the flex vs active break-even with ``simserve.plan.breakeven``
(unless ``--no-break-even``), calls
``simserve.report.html.write_report`` with it (optionally writing the PNG/SVG plots next to
it) and prints where the page went. ``break_even_table`` is shared with ``simserve run --report``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from simserve.cli import app
from simserve.scenario import Scenario, ScenarioError, load_scenario

if TYPE_CHECKING:
    import pandas as pd

console = Console()


def break_even_table(sc: Scenario, seed: int, *, quiet: bool = False) -> pd.DataFrame:
    """The break-even sweep of ``sc`` under ``seed`` on the local cores, with a progress bar."""
    from rich.progress import Progress

    from simserve.plan.breakeven import break_even, candidate_active_workers

    counts = candidate_active_workers(sc)
    with Progress(console=console, transient=True, disable=quiet or not console.is_terminal) as progress:
        task = progress.add_task(f"break-even: {len(counts)} runs", total=len(counts))
        return break_even(sc, counts, seed=seed, on_done=lambda i: progress.advance(task))


def run_scenario(run_dir: Path, resolved: dict[str, Any]) -> Scenario | None:
    """A run's scenario re-validated from its resolved YAML (files relative to the run or the
    current directory), or None when it cannot be."""
    for base in (str(run_dir), "."):
        try:
            return load_scenario({**resolved, "base_dir": base})
        except ScenarioError:
            continue
    return None


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="run directory written by `simserve run` or `simserve live`"),
    out: Path | None = typer.Option(None, "--out", "-o", help="HTML file to write (default DIR/report.html)"),
    plots: bool = typer.Option(False, "--plots", help="also (re)write the PNG plots into DIR"),
    svg: bool = typer.Option(False, "--svg", help="with --plots, also write SVG"),
    break_even: bool = typer.Option(
        True, "--break-even/--no-break-even", help="re-simulate with 0..max active workers for the break-even"
    ),
) -> None:
    """Write a self-contained HTML report (summary, intervals, plots) for a run directory."""
    from simserve.report.data import as_run_data
    from simserve.report.html import write_report
    from simserve.results.outputs import check_out_dir, check_out_file, read_run

    run = read_run(run_dir)  # a bad run directory is one line and exit 2 (RunDirError), before any work
    if out is not None:
        check_out_file(out, "--out")
    if out is None or plots or svg:
        check_out_dir(run_dir, "run directory")
    data = as_run_data(run)
    if plots or svg:
        from simserve.report import write_plots

        write_plots(data, run_dir, svg=svg)
    table = None
    if break_even:
        sc = run_scenario(run_dir, data.resolved) if data.resolved else None
        if sc is None:
            console.print(
                f"[yellow]no break-even: {run_dir}/scenario.resolved.yaml is missing or no longer loads[/yellow]"
            )
        else:
            table = break_even_table(sc, int(data.summary.get("seed", sc.seed)))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
    path = write_report(data, out=out, break_even=table)
    console.print(f"wrote {path} ({path.stat().st_size / 1024:,.0f} KiB)")
