"""``simserve compare`` and ``simserve calibrate``: simulated vs measured, and fitting one to the other.

Owns the two commands' arguments, the rich terminal tables and the exit codes (``compare
--fail-over PCT`` exits 1 when a checked figure's error exceeds PCT; a bad run directory or an
``--out`` that cannot be written is one line and exit 2, checked before any work). The work is done by
``simserve.compare`` and ``simserve.calibrate``.
"""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from simserve.cli import UsageError, app
from simserve.numfmt import change, num

console = Console()
errors = Console(stderr=True)


def _ci(ci: tuple[float, float] | None) -> str:
    return "" if ci is None else f" [{num(ci[0])}, {num(ci[1])}]"


@app.command()
def compare(
    run_a: Path = typer.Argument(..., help="reference run directory (A), e.g. the live run"),
    run_b: Path = typer.Argument(..., help="run directory to compare with it (B)"),
    out: Path | None = typer.Option(None, "--out", "-o", help="write compare.html, compare.csv and PNGs here"),
    fail_over: float | None = typer.Option(
        None, "--fail-over", min=0.0, help="exit 1 when a checked figure's |error| exceeds PCT percent"
    ),
    check: list[str] = typer.Option(
        [], "--check", help="figures --fail-over checks (fnmatch pattern, repeatable; default: the headline figures)"
    ),
    all_rows: bool = typer.Option(False, "--all", help="print every figure, not only the headline ones"),
) -> None:
    """Put two runs side by side: every summary figure, both values and the relative error (B - A)/|A|."""
    from simserve.checks import incomplete_note
    from simserve.compare import checked_keys, compare_runs, write_compare
    from simserve.results.outputs import check_out_dir, read_run

    if out is not None:
        check_out_dir(out, "--out")
    a, b = read_run(run_a), read_run(run_b)  # a bad run directory is one line and exit 2 (RunDirError)
    for run, path in ((a, run_a), (b, run_b)):
        note = incomplete_note(run["summary"], str(path))
        if note is not None:
            errors.print(f"[yellow]warning: {note}[/yellow]", soft_wrap=True)
    if out is not None:
        cmp, page = write_compare(a, b, out, fail_over=fail_over, check=check or None)
    else:
        cmp, page = compare_runs(a, b), None
    checked = checked_keys(cmp, check or None)
    t = Table(title=f"A = {cmp.a_label} ({cmp.a_engine})  vs  B = {cmp.b_label} ({cmp.b_engine})")
    for col, just in (("figure", "left"), ("A", "right"), ("B", "right"), ("B − A", "right"), ("error", "right")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in cmp.rows:
        if not (all_rows or r.key in checked):
            continue
        err = change(r.rel_error)
        if fail_over is not None and r.key in checked and r.rel_error is not None:
            err = f"[red]{err}[/red]" if abs(r.rel_error) * 100 > fail_over else f"[green]{err}[/green]"
        t.add_row(r.key, num(r.a) + _ci(r.a_ci), num(r.b) + _ci(r.b_ci), num(r.diff), err)
    console.print(t)
    if page is not None:
        console.print(f"[dim]wrote {page}, compare.csv and figures[/dim]")
    if fail_over is not None:
        bad = cmp.exceeding(fail_over, sorted(checked))
        if bad:
            worst = max(bad, key=lambda r: abs(r.rel_error or 0.0))
            console.print(
                f"[red]{len(bad)} figure(s) over {fail_over:g}%[/red] (worst {worst.key} "
                f"{change(worst.rel_error)}): " + ", ".join(r.key for r in bad)
            )
            raise typer.Exit(1)
        console.print(f"[green]all {len(checked)} checked figures within {fail_over:g}%[/green]")


@app.command()
def calibrate(
    run: Path = typer.Argument(..., help="run directory to fit (usually a live run)"),
    scenario: Path = typer.Option(..., "--scenario", "-s", help="the scenario the run used (the base to fit)"),
    out: Path = typer.Option(..., "--out", "-o", help="calibrated scenario YAML to write"),
    fold_overheads: bool = typer.Option(
        True,
        "--fold-overheads/--no-fold-overheads",
        help="add measured pickup (dispatch/polling) delay to service time",
    ),
    constant_cv: float = typer.Option(
        0.05, "--constant-cv", min=0.0, help="samples with cv at most this fit a constant"
    ),
) -> None:
    """Fit a scenario's cold-start phases, service time and overheads to a run; write a valid scenario."""
    from simserve.calibrate import calibrate_run, write_calibrated
    from simserve.results.outputs import check_out_file

    check_out_file(out, "--out")
    if not scenario.is_file():
        raise UsageError(f"--scenario {scenario}: expected a scenario file, found none")
    cal = calibrate_run(run, scenario, fold_overheads=fold_overheads, constant_cv=constant_cv)
    sc = write_calibrated(cal, out)
    t = Table(title=f"calibrated {sc.name} from {run}")
    t.add_column("scenario key", no_wrap=True)
    for col in ("fitted", "samples", "why"):
        t.add_column(col)
    for key, f in cal.fits.items():
        t.add_row(key, f.describe(), str(f.n), f.reason)
    for key, (bw, n) in cal.rates.items():
        t.add_row(key, f"{num(bw / 1e6)} MB/s", str(n), "size / mean phase time")
    if cal.engine is not None:
        e = cal.engine
        t.add_row("workload.service (llm engine)", e.describe(), str(e.n), e.source())
    for kind, o in cal.overheads.items():
        if not math.isclose(o["mean_s"], 0.0) or kind == "all":
            if kind == "in_execution":
                t.add_row(
                    "execution_s − requested",
                    f"mean {num(o['mean_s'])} s, p95 {num(o['p95_s'])} s",
                    str(o["n"]),
                    "protocol overhead inside execution_s (trace.csv); already in service",
                )
                continue
            t.add_row(
                f"pickup delay ({kind})",
                f"mean {num(o['mean_s'])} s, p95 {num(o['p95_s'])} s",
                str(o["n"]),
                "folded into service" if fold_overheads and kind == "all" else "measured",
            )
    console.print(t)
    for note in cal.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    console.print(f"[dim]wrote {out} (validated)[/dim]")


__all__ = ["calibrate", "compare"]
