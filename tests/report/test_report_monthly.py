"""The monthly cost view and the flex vs active break-even."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import simserve
from simserve.plan.breakeven import break_even, candidate_active_workers
from simserve.report import break_even_point, monthly_cost_figure, monthly_costs

ROOT = Path(__file__).resolve().parents[2]


def test_monthly_costs_scale_the_run(short_results):
    r = short_results["quickstart"]
    t = monthly_costs(r)["value"]
    per_hour = r.summary["cost_usd"]["per_hour"]
    assert t["cost per hour (USD)"] == per_hour
    assert t["cost per month (USD, 730 h)"] == pytest.approx(per_hour * 730)
    arrived = r.summary["requests"]["arrived"]
    assert t["requests per month"] == pytest.approx(arrived / ((900 - 60) / 3600) * 730)
    assert t["cost per 1k requests (USD)"] == r.summary["cost_usd"]["per_1k_requests"]


def test_break_even_table_and_point():
    sc = simserve.load_scenario(ROOT / "scenarios" / "quickstart.yaml", {"horizon": 1800})
    table = break_even(sc, seed=1)
    assert list(table["active_workers"]) == list(range(sc.endpoint.max_workers + 1))
    # each row is the same simulation as a direct call (same seed, common random numbers), summary only
    direct = simserve.simulate(sc, seed=1, overrides={"endpoint.active_workers": 2}, tables=False).summary
    row = table.set_index("active_workers").loc[2]
    assert row["cost_per_hour"] == direct["cost_usd"]["per_hour"]
    assert row["p95_s"] == direct["latency_s"]["p95"]
    best = break_even_point(table)
    assert table.set_index("active_workers").loc[best, "cost_per_month"] == table["cost_per_month"].min()
    # with all workers active the run costs the active rate x max workers around the clock
    full = table.set_index("active_workers").loc[sc.endpoint.max_workers]
    from simserve.billing import price_usd_per_s

    assert full["cost_per_hour"] == pytest.approx(3 * 3600 * price_usd_per_s("H100", "active", 1), rel=1e-3)


def test_break_even_in_one_process_matches_the_pool():
    sc = simserve.load_scenario(ROOT / "scenarios" / "quickstart.yaml", {"horizon": 600})
    done: list[int] = []
    pooled = break_even(sc, [2, 0, 1], seed=3, processes=2, on_done=done.append)
    inline = break_even(sc, [2, 0, 1], seed=3, processes=1)
    assert list(pooled["active_workers"]) == [2, 0, 1]  # the order asked for, whatever order runs finish
    assert sorted(done) == [0, 1, 2]
    assert pooled.equals(inline)


def test_candidate_active_workers_thins_large_caps():
    sc = simserve.load_scenario(ROOT / "scenarios" / "quickstart.yaml", {"endpoint.max_workers": 40})
    counts = candidate_active_workers(sc)
    assert counts[0] == 0 and counts[-1] == sc.endpoint.worker_cap and len(counts) <= 9
    assert counts == sorted(set(counts))


def test_break_even_point_prefers_fewer_on_ties():
    import pandas as pd

    t = pd.DataFrame({"active_workers": [0, 1, 2], "cost_per_month": [5.0, 3.0, 3.0], "p95_s": [9.0, 5.0, 4.0]})
    assert break_even_point(t) == 1


def test_monthly_cost_figure_content():
    import pandas as pd

    t = pd.DataFrame({"active_workers": [0, 1, 2], "cost_per_month": [500.0, 420.0, 610.0], "p95_s": [9.0, 5.0, 4.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = monthly_cost_figure(t, current=0, title="x")
        fig.canvas.draw()
    ax, ax2 = fig.axes
    bars = ax.containers[0]
    assert [b.get_height() for b in bars] == [500.0, 420.0, 610.0]
    assert "break-even at 1 active worker " in ax.get_title()
    assert list(ax2.lines[0].get_ydata()) == [9.0, 5.0, 4.0]
    assert ax.get_xlabel() == "active (always-on) workers"


def test_monthly_figures_say_where_they_come_from(short_results):
    from simserve.report.monthly import month_basis

    r = short_results["quickstart"]
    window_h = (r.scenario.horizon - r.scenario.warmup) / 3600
    assert monthly_costs(r).attrs["basis"] == f"extrapolated from {window_h * 60:.3g} minutes of simulated traffic"
    assert month_basis(720.0).startswith("the simulated month (30 days")
    assert month_basis(719.9).startswith("extrapolated from 719.9 hours")
    assert month_basis(1.0) == "extrapolated from 1 hour of simulated traffic"
    assert month_basis(0.5, measured=True) == "extrapolated from 30 minutes of measured traffic"
    assert month_basis(0.0025) == "extrapolated from 9 seconds of simulated traffic"
