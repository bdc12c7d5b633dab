"""``compare.html``: one self-contained page putting two runs side by side.

Owns the page: which run is which, the figure table (both values, difference, relative error
of B against A, 95% intervals where the runs had replications; errors over the threshold
highlighted) and the four comparison figures as base64 PNGs. No network, no external assets.
"""

from __future__ import annotations

import html
from typing import Any

from simserve.compare.table import HEADLINE, Comparison, Row
from simserve.numfmt import change, num
from simserve.report.html import figure_to_base64

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1050px;color:#222}
h1{margin-bottom:0.1em} .sub{color:#666;margin-top:0}
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.92em}
td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums} th{background:#f4f4f4}
tr.head td:first-child{font-weight:600} td.bad{background:#fde2e1;font-weight:600} td.ok{color:#2a7a2a}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0 1.5em} .note{color:#666;font-size:0.9em}
"""


def fmt_ci(ci: tuple[float, float] | None) -> str:
    return "" if ci is None else f" [{num(ci[0])}, {num(ci[1])}]"


def _row_html(r: Row, fail_over: float | None, checked: bool) -> str:
    cls = ""
    if fail_over is not None and checked and r.rel_error is not None:
        cls = "bad" if abs(r.rel_error) * 100 > fail_over else "ok"
    overlap = "" if r.ci_overlap is None else ("yes" if r.ci_overlap else "no")
    return (
        f"<tr class='{'head' if r.key in HEADLINE else ''}'><td>{html.escape(r.key)}</td>"
        f"<td class='n'>{num(r.a)}{fmt_ci(r.a_ci)}</td><td class='n'>{num(r.b)}{fmt_ci(r.b_ci)}</td>"
        f"<td class='n'>{num(r.diff)}</td><td class='n {cls}'>{change(r.rel_error)}</td>"
        f"<td>{overlap}</td></tr>"
    )


def render_compare(
    cmp: Comparison,
    figures: dict[str, tuple[str, Any]],
    *,
    fail_over: float | None = None,
    checked: set[str] | None = None,
) -> str:
    """The HTML page. ``figures``: stem -> (title, Figure); ``checked``: keys ``--fail-over`` applies to."""
    checked = checked if checked is not None else set(HEADLINE)
    rows = "\n".join(_row_html(r, fail_over, r.key in checked) for r in cmp.rows)
    bad = cmp.exceeding(fail_over, sorted(checked)) if fail_over is not None and checked else []
    verdict = ""
    if fail_over is not None:
        verdict = (
            f"<p><b>{len(bad)} checked figure(s) differ by more than {fail_over:g}%</b>: "
            f"{html.escape(', '.join(r.key for r in bad))}</p>"
            if bad
            else f"<p class='ok'>All checked figures within {fail_over:g}%.</p>"
        )
    imgs = "\n".join(
        f"<h2>{html.escape(title)}</h2><img alt='{stem}' src='data:image/png;base64,{figure_to_base64(fig)}'>"
        for stem, (title, fig) in figures.items()
    )
    a, b = html.escape(cmp.a_label), html.escape(cmp.b_label)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>simserve compare: {a} vs {b}</title>
<style>{_CSS}</style></head><body>
<h1>Simulated vs measured</h1>
<p class="sub">A = {a} ({html.escape(cmp.a_engine)}), the reference &nbsp;·&nbsp;
B = {b} ({html.escape(cmp.b_engine)})</p>
{verdict}
<table><tr><th>figure</th><th>A</th><th>B</th><th>B − A</th><th>error (B − A)/|A|</th><th>95% CIs overlap</th></tr>
{rows}
</table>
<p class="note">Headline figures (bold) are the ones <code>--fail-over</code> checks by default. Intervals in
brackets are 95% confidence intervals from replications.</p>
{imgs}
</body></html>
"""


__all__ = ["fmt_ci", "render_compare"]
