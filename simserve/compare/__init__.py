"""Simulated vs measured: compare any two run directories (sim/sim, sim/live, live/live).

``compare_runs(a, b)`` reads both runs and returns a ``Comparison`` (every summary figure,
both values, the relative error of B against A, intervals where replications exist);
``write_compare`` writes ``compare.html`` (self-contained), ``compare.csv`` and the four
figures as PNGs. The table logic lives in ``table``, figures in ``plots``, the page in
``html``. Library code only: no printing.
"""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from simserve.compare.table import HEADLINE, Comparison, Row, compare_summaries, flatten, relative_error
from simserve.results.outputs import prepare_out_dir, read_run, write_frame, write_text


def _label(run: dict[str, Any]) -> str:
    return Path(run["dir"]).name if run.get("dir") is not None else str(run["summary"].get("scenario", "run"))


def compare_runs(a: str | Path | dict[str, Any], b: str | Path | dict[str, Any]) -> Comparison:
    """Compare run ``a`` (the reference) with run ``b``: directories or ``read_run`` dicts."""
    ra = read_run(a) if not isinstance(a, dict) else a
    rb = read_run(b) if not isinstance(b, dict) else b
    la, lb = _label(ra), _label(rb)
    if la == lb:
        la, lb = f"A: {la}", f"B: {lb}"
    return compare_summaries(ra["summary"], rb["summary"], la, lb)


def checked_keys(cmp: Comparison, patterns: list[str] | tuple[str, ...] | None = None) -> set[str]:
    """Figure keys matching ``patterns`` (fnmatch; default ``HEADLINE``)."""
    pats = tuple(patterns) if patterns else HEADLINE
    return {r.key for r in cmp.rows if any(fnmatch(r.key, p) for p in pats)}


def write_compare(
    a: str | Path | dict[str, Any],
    b: str | Path | dict[str, Any],
    out_dir: str | Path,
    *,
    fail_over: float | None = None,
    check: list[str] | None = None,
    plots: bool = True,
) -> tuple[Comparison, Path]:
    """Compare two run directories and write ``out_dir/compare.html``, ``compare.csv`` and PNGs.

    ``a`` and ``b``: run directories or ``read_run`` dicts. Returns the comparison and the HTML
    path. ``fail_over`` (percent) and ``check`` (fnmatch patterns) only mark figures on the page;
    the exit code is the CLI's business. ``RunDirError`` on a bad run directory and
    ``OutPathError`` when ``out_dir`` cannot be a writable directory, both before writing anything.
    """
    ra = read_run(a) if not isinstance(a, dict) else a
    rb = read_run(b) if not isinstance(b, dict) else b
    cmp = compare_runs(ra, rb)
    out = prepare_out_dir(out_dir)
    write_frame(out / "compare.csv", cmp.frame())
    figures: dict[str, tuple[str, Any]] = {}
    if (
        plots
        and ra["jobs"] is not None
        and rb["jobs"] is not None
        and ra["workers"] is not None
        and rb["workers"] is not None
    ):
        from simserve.compare.plots import COMPARE_PLOTS

        labels = (cmp.a_label, cmp.b_label)
        for stem, (title, fn) in COMPARE_PLOTS.items():
            fig = fn(ra, rb, labels)
            fig.savefig(out / f"{stem}.png", dpi=100)
            figures[stem] = (title, fig)
    from simserve.compare.html import render_compare

    page = out / "compare.html"
    write_text(page, render_compare(cmp, figures, fail_over=fail_over, checked=checked_keys(cmp, check)))
    return cmp, page


__all__ = [
    "HEADLINE",
    "Comparison",
    "Row",
    "checked_keys",
    "compare_runs",
    "compare_summaries",
    "flatten",
    "relative_error",
    "write_compare",
]
