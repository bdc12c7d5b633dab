"""The planner against brute force: same choice on a small grid, common random numbers,
fewer runs, and outputs a user can run (ranked table, recommended YAML, Pareto figure)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
import yaml
from scipy import stats

from simserve.api import simulate
from simserve.plan.executors import LocalExecutor
from simserve.plan.report import balance_tier, pareto_figure, pareto_front, ranked_table, write_plan
from simserve.plan.search import plan
from simserve.planspec import parse_values
from simserve.results.replicate import replication_seed
from simserve.scenario import ScenarioError, load_scenario


def _figure(summary: dict[str, Any], slo: str) -> float:
    """The test's own reading of a summary (not the planner's)."""
    name = slo.split("<")[0]
    if name == "failed":
        r = summary["requests"]
        return (r["failed"] + r["timed_out"] + r["rejected"]) / max(r["arrived"], 1)
    section = "latency_s" if name.startswith("latency_") else "queue_wait_s"
    v = summary[section][name.rsplit("_", 1)[1]]
    return math.inf if v is None else float(v)


def _threshold(slo: str) -> float:
    raw = slo.split("<=")[1]
    return float(raw[:-1]) / 100 if raw.endswith("%") else float(raw.rstrip("s"))


def _interval(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values)
    if not np.all(np.isfinite(arr)):
        return math.inf, math.inf
    half = stats.t.ppf(0.975, len(arr) - 1) * arr.std(ddof=1) / math.sqrt(len(arr))
    return arr.mean() - half, arr.mean() + half


def _futile(lo: float, hi: float, threshold: float, n: int, rmax: int) -> bool:
    """A close call whose interval at ``rmax`` replications would still straddle the threshold."""
    if not lo <= threshold <= hi or not math.isfinite(hi):
        return False
    sd = (hi - lo) / 2 * math.sqrt(n) / stats.t.ppf(0.975, n - 1)
    return abs((lo + hi) / 2 - threshold) < stats.t.ppf(0.975, rmax - 1) * sd / math.sqrt(rmax)


def brute_force(data: dict[str, Any], slos: list[str], r0: int, rmax: int) -> tuple[int | None, int]:
    """Run every point (adding replications while a point is too close to call and more could
    settle it, as the planner's rule says); return the cheapest feasible point and runs used."""
    seed = load_scenario(data).seed
    vary = {k: parse_values(k, v) for k, v in data["plan"]["vary"].items()}
    best: tuple[float, int] | None = None
    runs = 0
    for index, combo in enumerate(itertools.product(*vary.values())):
        overrides = dict(zip(vary, combo, strict=True))
        try:
            load_scenario(data, overrides)
        except ScenarioError:
            continue
        summaries: list[dict[str, Any]] = []
        n = r0
        while True:
            while len(summaries) < n:
                run_seed = replication_seed(seed, len(summaries))
                summaries.append(simulate(data, seed=run_seed, overrides=overrides).summary)
                runs += 1
            bounds = [_interval([_figure(s, slo) for s in summaries]) for slo in slos]
            met = all(hi <= _threshold(slo) for (_lo, hi), slo in zip(bounds, slos, strict=True))
            violated = any(lo > _threshold(slo) for (lo, _hi), slo in zip(bounds, slos, strict=True))
            if (
                met
                or violated
                or n >= rmax
                or any(_futile(lo, hi, _threshold(slo), n, rmax) for (lo, hi), slo in zip(bounds, slos, strict=True))
            ):
                break
            n = min(rmax, n + r0)
        if met:
            cost = float(np.mean([s["cost_usd"]["per_hour"] * 730 for s in summaries]))
            best = min(best, (cost, index)) if best else (cost, index)
    return (best[1] if best else None), runs


@pytest.mark.parametrize(
    "slos",
    [
        ["latency_p95<=8s", "failed<=0.1%"],
        ["latency_p95<=7s"],
        ["queue_wait_p95<=3s"],
        ["latency_p99<=12s"],
        ["latency_p95<=4s"],
    ],
)
def test_choice_equals_brute_force(tiny: dict, slos: list[str]) -> None:
    tiny["plan"]["slo"] = slos
    want, brute_runs = brute_force(tiny, slos, 3, 6)
    with LocalExecutor(1) as ex:
        result = plan(tiny, executor=ex)
    print(slos, "planner", result.recommended, result.runs_used, "brute force", want, brute_runs)
    assert result.recommended == want
    assert result.runs_used <= brute_runs


def test_common_random_numbers_and_sampling(tiny: dict) -> None:
    with LocalExecutor(1) as ex:
        result = plan(tiny, executor=ex)
    seeds = [replication_seed(3, i) for i in range(len(result.seeds))]
    assert result.seeds == seeds
    for summaries in result.summaries.values():
        assert [s["seed"] for s in summaries] == seeds[: len(summaries)]  # every candidate, same seeds
    reps = {v.replications for v in result.verdicts.values()}
    assert 3 in reps and max(reps) <= 6  # sequential sampling only where needed


def test_outputs(tiny: dict, tmp_path) -> None:
    with LocalExecutor(1) as ex:
        result = plan(tiny, executor=ex)
    assert result.recommended is not None
    table = ranked_table(result)
    assert table.iloc[0]["recommended"] and table.iloc[0]["status"] == "feasible"
    feasible = table[table["status"] == "feasible"]
    assert list(feasible["cost_per_month"]) == sorted(feasible["cost_per_month"])
    assert set(table["status"]) <= {"feasible", "infeasible", "undecided", "not run", "invalid"}
    assert (table[table["status"] != "feasible"]["reason"].str.len() > 0).all()
    fig = pareto_figure(result)
    assert fig.axes and pareto_front(result)
    paths = write_plan(tmp_path, result, tiny)
    rec = yaml.safe_load(paths["scenario"].read_text())
    assert "plan" not in rec
    sc = load_scenario(rec)  # ready to run
    for key, value in result.recommended_overrides.items():
        section, field = key.split(".")
        assert rec[section][field] == value
    assert simulate(sc, seed=0).summary["requests"]["arrived"] > 0
    tier = balance_tier(result)
    assert tier["max_workers"] == sc.endpoint.max_workers and tier["balance_usd"] == 0.0
    assert paths["plot"].stat().st_size > 1000


def test_local_pool_matches_one_process(tiny: dict) -> None:
    with LocalExecutor(1) as one, LocalExecutor(2) as two:
        a, b = plan(tiny, executor=one), plan(tiny, executor=two)
    assert ranked_table(a).equals(ranked_table(b))
