"""Warnings users see (``simserve.checks``): in summary.json, on stderr, carried through replications;
and replication intervals clipped to what a figure can be (``simserve.results.replicate``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import simserve
from simserve.api import run_replications
from simserve.checks import offered_load, scenario_warnings
from simserve.cli import main
from simserve.results.replicate import combine, figure_bounds, t_interval

QUICK = "scenarios/quickstart.yaml"
CAP = (
    "endpoint.max_workers: 60 asked, 10 granted by account_balance_usd=$150 "
    "(the platform's balance table; $900+ grants 60)"
)


def _run(tmp_path: Path, *args: str) -> dict[str, object]:
    out = tmp_path / "run"
    assert main(["run", QUICK, "--out", str(out), "--no-plots", "--set", "horizon=10min", *args]) == 0
    summary: dict[str, object] = json.loads((out / "summary.json").read_text())
    return summary


def test_balance_cap_warns_in_summary_and_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = _run(tmp_path, "--set", "endpoint.max_workers=60", "--set", "endpoint.account_balance_usd=150")
    assert summary["warnings"] == [CAP]
    printed = capsys.readouterr()
    assert f"warning: {CAP}" in " ".join(printed.err.split())  # on stderr, one line each
    assert "warning" not in printed.out and "latency p95" in printed.out


def test_overload_warns_even_when_quiet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = _run(tmp_path, "--quiet", "--set", "workload.arrivals.rate=10/s")
    expected = (
        "overload: offered load 20 workers (10 req/s x 2 s) exceeds max workers x concurrency = 3 x 1 = 3; "
        "the queue grows for the whole run"
    )
    assert summary["warnings"] == [expected]
    printed = capsys.readouterr()
    assert printed.out == ""
    assert f"warning: {expected}" in " ".join(printed.err.split())


def test_quickstart_has_no_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(tmp_path)["warnings"] == []
    err = capsys.readouterr().err.splitlines()
    # the one warning the terminal gives (not summary.json): its p99 is the first cold start's (#27)
    assert [line for line in err if "warning" in line and "set by the first cold start" not in line] == []


def test_replications_carry_the_warnings_through(tmp_path: Path) -> None:
    summary = _run(
        tmp_path, "-q", "-r", "2", "--set", "endpoint.max_workers=60", "--set", "endpoint.account_balance_usd=150"
    )
    assert summary["replications"] == 2 and summary["warnings"] == [CAP]
    a = {"warnings": ["x", "y"], "requests": {"arrived": 1}}
    b = {"warnings": ["y", "z"], "requests": {"arrived": 3}}
    assert combine([a, b])["warnings"] == ["x", "y", "z"]  # each distinct line once, in order; never averaged


def test_capacity_counts_concurrency_and_timeline_caps() -> None:
    sc = simserve.load_scenario(QUICK, {"workload.arrivals.rate": 2.5, "endpoint.concurrency": 2})
    assert scenario_warnings(sc) == []  # 5 workers of load, 3 x 2 = 6 slots
    sc = simserve.load_scenario(QUICK, {"workload.arrivals.rate": 3, "endpoint.concurrency": 2})
    assert "exceeds max workers x concurrency = 3 x 2 = 6;" in scenario_warnings(sc)[0]  # rho = 1 already grows
    lam = simserve.load_scenario("scenarios/lambda-style.yaml", {"endpoint.max_workers": 1})
    assert scenario_warnings(lam)[0].endswith("requests beyond it are rejected for the whole run")  # no queue
    sc = simserve.load_scenario(
        QUICK,
        {
            "workload.arrivals.rate": 3,
            "endpoint.max_workers": 60,
            "endpoint.account_balance_usd": 0,
            "events": [{"at": 3600, "set": {"endpoint.account_balance_usd": 1000}}],
        },
    )
    warnings = scenario_warnings(sc)
    assert warnings[0].startswith("endpoint.max_workers: 60 asked, 5 granted by account_balance_usd=$0 ")
    assert warnings[1].startswith("overload from 0s to 3600s: offered load 6 workers")
    assert len(warnings) == 2
    sc = simserve.load_scenario(QUICK, {"events": [{"at": 600, "set": {"endpoint.account_balance_usd": 150}}]})
    assert scenario_warnings(sc) == []  # 3 asked, 10 allowed: no cap
    sc = simserve.load_scenario(
        QUICK, {"events": [{"at": 600, "set": {"endpoint.max_workers": 70, "endpoint.account_balance_usd": 1000}}]}
    )
    assert scenario_warnings(sc) == [
        "events: set at 600s: endpoint.max_workers: 70 asked, 60 granted by account_balance_usd=$1,000 "
        "(the platform's balance table; no balance grants more than 60)"
    ]


def test_offered_load_of_each_arrival_process() -> None:
    bursty = {"type": "bursty", "base_rate": 1, "burst_rate": 11, "mean_burst": "1min", "mean_gap": "4min"}
    load = offered_load(simserve.load_scenario(QUICK, {"workload.arrivals": bursty}))
    assert load is not None and load.rate == pytest.approx(3.0)  # (1 x 4 + 11 x 1) / 5
    assert scenario_warnings(simserve.load_scenario(QUICK, {"workload.arrivals": bursty}))[0].startswith(
        "overload: offered load 6 workers (3 req/s x 2 s, bursty, time-weighted mean)"
    )
    # a diurnal mean under capacity whose peak is over it: 1 req/s x 2 s mean, peak 1.6 x 2 = 3.2 >= 3
    diurnal = {"type": "diurnal", "mean_rate": 1, "peak_to_trough": 4, "period": "1h", "phase": "30min"}
    warnings = scenario_warnings(simserve.load_scenario(QUICK, {"workload.arrivals": diurnal}))
    assert warnings == [
        "overload at the diurnal peak: 3.2 workers (1.6 req/s x 2 s) exceeds max workers x concurrency = 3 x 1 = 3; "
        "the queue grows around each peak"
    ]
    # a peak the run never reaches does not warn
    short = simserve.load_scenario(QUICK, {"workload.arrivals": diurnal, "horizon": "10min"})
    assert scenario_warnings(short) == []
    trace = offered_load(simserve.load_scenario("scenarios/trace-replay.yaml"))
    assert trace is not None and trace.rate > 0 and trace.how.startswith("trace")


def test_intervals_never_go_below_zero_or_above_one() -> None:
    # a count that is 0 in most replications and 1 in one: the plain t-interval reaches below 0
    sc = simserve.load_scenario(QUICK, {"horizon": "10min", "endpoint.execution_timeout": "8s"})
    runs = run_replications(sc, 5, processes=1)
    counts = [r.summary["requests"]["timed_out"] for r in runs]
    assert counts.count(0) == 4 and max(counts) > 0
    assert t_interval(counts)[0] < 0
    merged = combine([r.summary for r in runs])
    lo, hi = merged["requests"]["timed_out_ci"]
    assert lo == 0.0 and hi > max(counts) / 5
    assert all(0.0 <= v <= 1.0 for v in merged["gpu_utilization_ci"] + merged["cold_start"]["fraction_ci"])
    # fractions are clipped at 1 too
    near_one = [{"gpu_utilization": v, "cold_start": {"fraction": v}} for v in (1.0, 1.0, 0.9)]
    merged = combine(near_one)
    assert merged["gpu_utilization_ci"][1] == 1.0 and merged["cold_start"]["fraction_ci"][1] == 1.0
    assert figure_bounds("cost_usd.total") == (0.0, float("inf"))
    assert figure_bounds("cold_start.fraction") == figure_bounds("gpu_utilization") == (0.0, 1.0)


def test_validate_prints_the_scenarios_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "scenarios/quickstart.yaml", "--set", "workload.arrivals.rate=10"]) == 0
    captured = capsys.readouterr()
    assert "ok scenarios/quickstart.yaml" in captured.out
    assert "warning: overload: offered load 20 workers (10 req/s x 2 s)" in captured.err
    assert main(["validate", "scenarios/quickstart.yaml"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_all_low_priority_without_a_worker_that_stays_is_warned_and_serves_nothing(tmp_path: Path) -> None:
    summary = _run(tmp_path, "--set", "workload.low_priority_share=1")
    warned = [w for w in summary["warnings"] if str(w).startswith("workload.low_priority_share:")]  # type: ignore[attr-defined]
    assert len(warned) == 1 and "no job ever starts a worker" in str(warned[0])
    requests = summary["requests"]
    assert isinstance(requests, dict) and requests["completed"] == 0 and requests["arrived"] > 0
    # one active worker serves them: no warning, and jobs complete
    sc = simserve.load_scenario(QUICK, {"workload.low_priority_share": 1, "endpoint.active_workers": 1})
    assert not [w for w in scenario_warnings(sc) if w.startswith("workload.low_priority_share:")]
    sc = simserve.load_scenario(QUICK, {"workload.low_priority_share": 0.99})
    assert not [w for w in scenario_warnings(sc) if w.startswith("workload.low_priority_share:")]
