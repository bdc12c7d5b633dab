"""``report.html``: one self-contained page per run directory, something to send a colleague.

Owns the page layout: the run's warnings (a box under the title, ``summary["warnings"]``),
the headline figures, the summary with 95% intervals (when the run had replications), the
monthly cost view with the flex vs active break-even (a table the caller computed with
``simserve.plan.breakeven``; this module never simulates), every standard plot embedded as a
base64 PNG, and the resolved scenario. Reads only the run
directory (``simserve.results.outputs.read_run`` + ``scenario.resolved.yaml``); no network, no
external assets.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from matplotlib.figure import Figure

from simserve.numfmt import num
from simserve.report.data import RunData, as_run_data

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1000px;color:#222}
h1{margin-bottom:0.1em} .sub{color:#666;margin-top:0}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
td,th{padding:3px 12px;border-bottom:1px solid #ddd;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums} th{background:#f4f4f4}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:1em 0} .card{background:#f4f7fb;border-radius:8px;padding:10px 16px}
.card b{display:block;font-size:1.4em} img{max-width:100%;border:1px solid #eee;margin:0.5em 0 1.5em}
pre{background:#f7f7f7;padding:1em;overflow-x:auto;font-size:0.85em} .note{color:#666;font-size:0.9em}
.warnings{background:#fff8e1;border:1px solid #f0c36d;border-radius:8px;padding:8px 16px;margin:1em 0}
.warnings ul{margin:0.3em 0;padding-left:1.2em}
"""


_TITLES = {
    "latency_cdf": "Latency",
    "cost_by_state": "Cost by worker state",
    "worker_timeline": "Worker states",
    "queue_timeline": "Queue, workers and arrivals",
    "cold_start_breakdown": "Cold starts by phase",
}


def figure_to_base64(fig: Figure, dpi: int = 100) -> str:
    """PNG bytes of ``fig``, base64-encoded for an ``<img src="data:...">``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _num(v: Any) -> str:
    """A summary value in a cell: a number in the terminal's style (``simserve.numfmt``), text escaped."""
    if v is None or isinstance(v, bool):
        return "-" if v is None else str(v)
    if isinstance(v, (int, float)):
        return num(v)
    return html.escape(str(v))


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, Any, list[Any] | None]]:
    """Flatten the summary into ``(dotted key, value, ci or None)`` rows (provenance keys left out)."""
    rows: list[tuple[str, Any, list[Any] | None]] = []
    skip = {
        "scenario",
        "seed",
        "seeds",
        "engine",
        "horizon_s",
        "simserve_version",
        "scenario_digest",
        "replications",
        "counters",
    }

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, value in node.items():
            if key.endswith("_ci") or (not prefix and key in skip):
                continue
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(value, name + ".")
            elif isinstance(value, (int, float)) or value is None:
                rows.append((name, value, node.get(f"{key}_ci")))

    walk(summary, "")
    return rows


def _summary_table(summary: dict[str, Any]) -> str:
    rows = summary_rows(summary)
    has_ci = any(ci for _, _, ci in rows)
    head = "<tr><th>figure</th><th>value</th>" + ("<th>95% interval</th>" if has_ci else "") + "</tr>"
    body = []
    for name, value, ci in rows:
        cell = "" if not has_ci else f"<td class='n'>[{_num(ci[0])}, {_num(ci[1])}]</td>" if ci else "<td></td>"
        body.append(f"<tr><td>{html.escape(name)}</td><td class='n'>{_num(value)}</td>{cell}</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _cards(s: dict[str, Any]) -> str:
    items = [
        ("latency p95", f"{_num(s['latency_s'].get('p95'))} s"),
        ("latency p50", f"{_num(s['latency_s'].get('p50'))} s"),
        ("cold-start requests", f"{100 * float(s['cold_start'].get('fraction') or 0):.2f}%"),
        ("cost per hour", f"${_num(s['cost_usd'].get('per_hour'))}"),
        ("cost per 1k requests", f"${_num(s['cost_usd'].get('per_1k_requests'))}"),
        ("requests", _num(s["requests"].get("arrived"))),
    ]
    return "<div class='cards'>" + "".join(f"<div class='card'>{k}<b>{v}</b></div>" for k, v in items) + "</div>"


def _warnings_box(s: dict[str, Any]) -> str:
    """The run's warnings as a visible box; empty when there are none."""
    from simserve.checks import summary_warnings

    lines = summary_warnings(s)
    if not lines:
        return ""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    title = "Warning" if len(lines) == 1 else f"{len(lines)} warnings"
    return f"<div class='warnings' role='alert'><b>{title}</b><ul>{items}</ul></div>"


def _active_workers(data: RunData) -> int | None:
    """The run's own number of always-on workers (from its scenario), or None when unknown."""
    if data.scenario is not None:
        return int(data.scenario.endpoint.active_workers)
    value = (data.resolved.get("endpoint") or {}).get("active_workers")
    return None if value is None else int(value)


def _monthly_section(data: RunData, break_even: pd.DataFrame | None) -> str:
    from simserve.report.monthly import monthly_cost_figure, monthly_costs

    table = monthly_costs(data)
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td class='n'>{_num(v)}</td></tr>" for k, v in table["value"].items())
    basis = html.escape(str(table.attrs.get("basis", "")))
    out = [f"<h2>Monthly cost at this traffic</h2><p class='note'>Monthly figures: {basis}.</p><table>{rows}</table>"]
    if break_even is None:
        return "".join(out)
    current = _active_workers(data)
    fig = monthly_cost_figure(break_even, current=current, title=data.name)
    cols = ["active_workers", "cost_per_hour", "cost_per_month", "per_1k_requests", "p95_s", "cold_start_fraction"]
    head = "".join(f"<th>{c}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td class='n'>{_num(r[c])}</td>" for c in cols) + "</tr>"
        for r in break_even[cols].to_dict("records")
    )
    uses = f" This run uses {current}." if current is not None else ""
    out.append(
        "<h3>Flex vs active break-even</h3><p class='note'>The same jobs (same seed) simulated with "
        "0 to max always-on active workers; the cheapest is where active workers stop paying off."
        f"{uses}</p>"
    )
    out.append(f"<img alt='break-even' src='data:image/png;base64,{figure_to_base64(fig)}'>")
    out.append(f"<table><tr>{head}</tr>{body}</table>")
    return "".join(out)


def render_report(run: Any, *, break_even: pd.DataFrame | None = None) -> str:
    """The HTML text of a run's report (``run``: a run directory, ``read_run`` dict or result).

    ``break_even``: a break-even table (``simserve.plan.breakeven.break_even``) to show under
    the monthly cost view; without one the page has no break-even section.
    """
    from simserve.report import PLOTS

    data = as_run_data(run)
    s = data.summary
    reps = int(s.get("replications", 1) or 1)
    sub = (
        f"engine {s.get('engine', 'sim')} · seed {s.get('seed')} · horizon {_num(data.horizon_s)} s · "
        f"warmup {_num(data.warmup_s)} s · simserve {html.escape(str(s.get('simserve_version', '')))}"
    )
    if reps > 1:
        sub += f" · {reps} replications (figures are means with 95% intervals; plots show replication 0)"
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>simserve report: {html.escape(data.name)}"
        f"</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(data.name)}</h1><p class='sub'>{sub}</p>",
        _warnings_box(s),
        _cards(s),
    ]
    for stem, fn in PLOTS.items():
        fig = fn(data)
        parts.append(
            f"<h2>{_TITLES.get(stem, stem)}</h2><img alt='{stem}' src='data:image/png;base64,{figure_to_base64(fig)}'>"
        )
    parts.append(_monthly_section(data, break_even))
    parts.append("<h2>Summary</h2>" + _summary_table(s))
    if data.resolved:
        text = yaml.safe_dump(data.resolved, sort_keys=False)
        parts.append(f"<h2>Scenario</h2><pre>{html.escape(text)}</pre>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(
    run: str | Path | RunData, *, out: str | Path | None = None, break_even: pd.DataFrame | None = None
) -> Path:
    """Write ``report.html`` into the run directory (or to ``out``); returns its path.

    ``run``: a run directory or its ``RunData``; ``break_even`` as for ``render_report``.
    """
    data = as_run_data(run)
    if out is not None:
        path = Path(out)
    elif data.run_dir is not None:
        path = data.run_dir / "report.html"
    else:
        raise ValueError("write_report: give out= for a run that has no run directory")
    text = render_report(data, break_even=break_even)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
