"""``simserve report DIR``: turn a run directory into one self-contained ``report.html``.

Thin: checks the directory, calls ``simserve.report.html.write_report`` (optionally writing
the PNG/SVG plots next to it) and prints where the page went.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from simserve.cli import UsageError, app

console = Console()


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="run directory written by `simserve run` or `simserve live`"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="HTML file to write (default DIR/report.html)"),
    plots: bool = typer.Option(False, "--plots", help="also (re)write the PNG plots into DIR"),
    svg: bool = typer.Option(False, "--svg", help="with --plots, also write SVG"),
    break_even: bool = typer.Option(True, "--break-even/--no-break-even",
                                    help="re-simulate with 0..max active workers for the break-even"),
) -> None:
    """Write a self-contained HTML report (summary, intervals, plots) for a run directory."""
    from simserve.report.html import write_report

    if not (run_dir / "summary.json").is_file():
        raise UsageError(f"{run_dir}: not a run directory (no summary.json); run `simserve run` first")
    if plots or svg:
        from simserve.report import write_plots
        from simserve.outputs import read_run

        write_plots(read_run(run_dir), run_dir, svg=svg)
    path = write_report(run_dir, out=out, break_even=break_even)
    console.print(f"wrote {path} ({path.stat().st_size / 1024:,.0f} KiB)")
