"""What a plan shows: the ranked table, the cost-latency Pareto front, the recommended YAML.

Owns ``ranked_table(result)`` (a DataFrame: one row per candidate, feasible ones first by
monthly cost, with each SLO figure and its interval and why a candidate is out),
``pareto_front``, ``pareto_figure`` (a matplotlib Figure, Agg, never shown),
``balance_tier`` and ``write_plan`` (plan.csv, plan.json, recommended.yaml, pareto.png).
No printing; the CLI renders.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from simserve import catalog
from simserve.plan.search import PlanResult
from simserve.plan.verdict import FEASIBLE, UNDECIDED, interval
from simserve.planspec import METRICS
from simserve.scenario import load_scenario
from simserve.units import HOURS_PER_MONTH


def _num(v: float) -> float | None:
    return None if v is None or math.isinf(v) or math.isnan(v) else float(v)


def latency_metric(result: PlanResult) -> str:
    """The latency figure the Pareto front uses: the first latency SLO, else latency_p95."""
    return next((s.metric for s in result.slos if s.metric.startswith("latency_")), "latency_p95")


def _latency(result: PlanResult, index: int) -> float:
    get = METRICS[latency_metric(result)][0]
    return interval([get(s) for s in result.summaries.get(index, [])] or [math.nan], result.spec.confidence).mean


def ranked_table(result: PlanResult) -> pd.DataFrame:
    """One row per candidate: feasible by cost, then the rest; intervals as _lo/_hi columns."""
    rows = []
    for c in result.candidates:
        v = result.verdicts.get(c.index)
        row: dict[str, Any] = {"candidate": c.index}
        row.update({d.key: c.overrides[d.key] for d in result.dims})
        if c.error:
            row.update(status="invalid", reason=c.error, replications=0)
        elif v is None:
            row.update(status="not run", reason=result.notes.get(c.index, ""), replications=0)
        else:
            status, reason = v.status, v.reason
            if v.status == UNDECIDED and c.index in result.notes:
                status, reason = "infeasible", f"{result.notes[c.index]} ({v.reason})"
            elif v.status == UNDECIDED:
                reason += " (stopped: cost above the recommended with confidence)"
            row.update(status=status, reason=reason, replications=v.replications)
            row.update(
                cost_per_month=_num(v.cost.mean), cost_per_month_lo=_num(v.cost.lo), cost_per_month_hi=_num(v.cost.hi)
            )
            for text, fig in v.figures.items():
                row.update({text: _num(fig.mean), f"{text} lo": _num(fig.lo), f"{text} hi": _num(fig.hi)})
        row["cost_floor_per_month"] = round(c.floor_usd_per_hour * HOURS_PER_MONTH, 2) if not c.error else None
        row["recommended"] = c.index == result.recommended
        rows.append(row)
    order = {FEASIBLE: 0, UNDECIDED: 1, "infeasible": 2, "not run": 3, "invalid": 4}
    frame = pd.DataFrame(rows)
    frame["_k"] = frame["status"].map(order)
    frame["_c"] = frame.get("cost_per_month", pd.Series(dtype=float)).fillna(math.inf)
    frame = frame.sort_values(["_k", "_c", "cost_floor_per_month", "candidate"], kind="stable")
    frame = frame.drop(columns=["_k", "_c"]).reset_index(drop=True)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame


def pareto_front(result: PlanResult) -> list[int]:
    """Indices of run candidates no other run candidate beats on both cost and latency."""
    pts = []
    for i, v in result.verdicts.items():
        lat = _latency(result, i)
        if math.isfinite(v.cost.mean) and math.isfinite(lat):
            pts.append((v.cost.mean, lat, i))
    front, best_lat = [], math.inf
    for _cost, lat, i in sorted(pts):
        if lat < best_lat:
            front.append(i)
            best_lat = lat
    return front


def pareto_figure(result: PlanResult) -> Any:
    """Cost per month against latency for every run candidate, the front and the choice."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    name = latency_metric(result)
    for status, color, marker, label in (
        (FEASIBLE, "tab:green", "o", "feasible"),
        ("other", "tab:gray", "x", "infeasible / undecided"),
    ):
        xs, ys = [], []
        for i, v in sorted(result.verdicts.items()):
            if (v.status == FEASIBLE) == (status == FEASIBLE):
                lat = _latency(result, i)
                if math.isfinite(lat) and math.isfinite(v.cost.mean):
                    xs.append(v.cost.mean)
                    ys.append(lat)
        ax.scatter(xs, ys, s=28, alpha=0.8, c=color, marker=marker, label=label)
    front = pareto_front(result)
    if front:
        ax.step(
            [result.verdicts[i].cost.mean for i in front],
            [_latency(result, i) for i in front],
            where="post",
            c="tab:blue",
            lw=1.2,
            label="Pareto front",
        )
    for slo in result.slos:
        if slo.metric == name:
            ax.axhline(slo.threshold, ls="--", c="tab:red", lw=1, label=f"SLO {slo.text}")
    if result.recommended is not None:
        v = result.verdicts[result.recommended]
        ax.errorbar(
            [v.cost.mean],
            [_latency(result, result.recommended)],
            xerr=[[v.cost.mean - v.cost.lo], [v.cost.hi - v.cost.mean]],
            fmt="*",
            ms=14,
            c="tab:orange",
            label=f"recommended #{result.recommended}",
        )
    ax.set_xlabel("cost (USD per month)")
    ax.set_ylabel(f"{name} (s), mean of replications")
    ax.set_title(
        f"{result.base.get('name', 'plan')}: cost vs latency "
        f"({result.runs_used} runs, full grid {result.full_grid_runs})",
        fontsize=10,
    )
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def balance_tier(result: PlanResult) -> dict[str, Any] | None:
    """The account balance the recommended max workers needs (``catalog.balance_needed``)."""
    if result.recommended is None:
        return None
    sc = load_scenario(result.base, result.recommended_overrides)
    needed = catalog.balance_needed(sc.endpoint.max_workers)
    return {
        "max_workers": sc.endpoint.max_workers,
        "balance_usd": needed,
        "text": (
            f"max workers {sc.endpoint.max_workers} needs an account balance of ${needed:,.0f}+"
            if needed
            else f"max workers {sc.endpoint.max_workers} fits the default cap (any balance)"
            if needed is not None
            else f"max workers {sc.endpoint.max_workers} exceeds every balance tier (largest cap "
            f"{catalog.BALANCE_CAPS[0][1]})"
        ),
    }


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    keys = dotted.split(".")
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = value


def recommended_yaml(result: PlanResult, source: dict[str, Any] | None = None) -> str | None:
    """A ready-to-run scenario YAML: ``source`` (the file as written) with the chosen overrides."""
    overrides = result.recommended_overrides
    if result.recommended is None or overrides is None:
        return None
    data = copy.deepcopy(source if source is not None else result.base)
    data.pop("plan", None)
    data.pop("base_dir", None)
    for key, value in overrides.items():
        _set(data, key, value)
    arrivals = (data.get("workload") or {}).get("arrivals") or {}
    if arrivals.get("type") == "trace" and not Path(arrivals["path"]).is_absolute():
        arrivals["path"] = str((Path(result.base.get("base_dir", ".")) / arrivals["path"]).resolve())
    load_scenario(data)  # it must run as written
    v = result.verdicts[result.recommended]
    chosen = ", ".join(f"{k}={val}" for k, val in overrides.items())
    tier = balance_tier(result)
    head = [
        f"# Covers: the configuration `simserve plan` recommends for {result.base.get('name')}: the cheapest",
        f"#   meeting {', '.join(s.text for s in result.slos) or 'no SLO'} at {result.spec.confidence:.0%} "
        f"confidence ({v.replications} replications).",
        f"# Scenario: {chosen}; ${v.cost.mean:,.0f}/month [{v.cost.lo:,.0f}, {v.cost.hi:,.0f}];",
        f"#   {tier['text'] if tier else ''}.",
    ]
    return "\n".join(head) + "\n" + yaml.safe_dump(data, sort_keys=False)


def plan_document(result: PlanResult, table: pd.DataFrame) -> dict[str, Any]:
    """The JSON record of a plan (settings, seeds, runs used, the choice, every candidate)."""
    rec = None
    if result.recommended is not None:
        v = result.verdicts[result.recommended]
        rec = {
            "candidate": result.recommended,
            "overrides": result.recommended_overrides,
            "cost_per_month": [v.cost.mean, v.cost.lo, v.cost.hi],
            "slo": {k: [f.mean, f.lo, f.hi] for k, f in v.figures.items()},
            "replications": v.replications,
        }
    return {
        "scenario": result.base.get("name"),
        "spec": result.spec.model_dump(),
        "seeds": result.seeds,
        "search": result.spec.search,
        "runs_used": result.runs_used,
        "full_grid_runs": result.full_grid_runs,
        "rounds": result.rounds,
        "screened": result.screened,
        "candidates": len(result.candidates),
        "valid_candidates": sum(1 for c in result.candidates if c.error is None),
        "recommended": rec,
        "balance": balance_tier(result),
        "pareto_front": pareto_front(result),
        "table": table.to_dict(orient="records"),
    }


def write_plan(out_dir: str | Path, result: PlanResult, source: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write plan.csv, plan.json, recommended.yaml (when one is feasible) and pareto.png."""
    from simserve.results.outputs import write_frame, write_json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = ranked_table(result)
    paths = {"table": out / "plan.csv", "json": out / "plan.json", "plot": out / "pareto.png"}
    write_frame(paths["table"], table)
    write_json(paths["json"], plan_document(result, table))
    text = recommended_yaml(result, source)
    if text is not None:
        paths["scenario"] = out / "recommended.yaml"
        paths["scenario"].write_text(text)
    fig = pareto_figure(result)
    fig.savefig(paths["plot"], dpi=110)
    return paths
