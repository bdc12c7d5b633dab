"""The command line and the scenario library: every example validates and runs; run writes the contract."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import simserve
from simserve.cli import main
from simserve.records import JOB_COLUMNS, WORKER_COLUMNS
from simserve.results.invariants import check_jobs, check_tiling

SCENARIOS = sorted(Path("scenarios").glob("*.yaml"))
SUMMARY_KEYS = {
    "requests",
    "latency_s",
    "queue_wait_s",
    "execution_s",
    "cold_start",
    "workers",
    "cost_usd",
    "gpu_utilization",
    "scenario",
    "seed",
    "engine",
    "horizon_s",
    "simserve_version",
}


def test_library_has_the_required_scenarios() -> None:
    names = {p.name for p in SCENARIOS}
    assert {"quickstart.yaml", "flex-vs-active.yaml", "lambda-style.yaml"} <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_example_scenario_runs(path: Path) -> None:
    text = path.read_text()
    assert text.startswith("# Covers:"), f"{path} must open with a '# Covers:' comment"
    sc = simserve.load_scenario(path)
    short = min(sc.horizon, 4 * 3600.0)
    r = simserve.simulate(sc, overrides={"horizon": short, "warmup": min(sc.warmup, short / 2)})
    check_jobs(r.jobs)
    check_tiling(r.workers, short)
    assert r.summary["requests"]["arrived"] > 0
    assert r.summary["cost_usd"]["total"] > 0


def test_run_writes_the_output_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "q"
    assert (
        main(
            [
                "run",
                "scenarios/quickstart.yaml",
                "--out",
                str(out),
                "--seed",
                "3",
                "--set",
                "endpoint.max_workers=5",
                "--no-plots",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "latency p95" in printed and "cost" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) >= SUMMARY_KEYS
    assert set(summary["requests"]) >= {
        "arrived",
        "completed",
        "failed",
        "timed_out",
        "cancelled",
        "rejected",
        "in_flight",
    }
    assert set(summary["latency_s"]) == {"mean", "p50", "p90", "p95", "p99", "max"}
    assert set(summary["queue_wait_s"]) == {"mean", "p50", "p95", "p99"}
    assert set(summary["execution_s"]) == {"mean", "p50", "p95"}
    assert set(summary["cold_start"]) == {"requests", "fraction"}
    assert {"mean_alive", "peak_alive", "mean_by_state"} <= set(summary["workers"])
    assert {"total", "per_hour", "per_1k_requests", "by_state"} <= set(summary["cost_usd"])
    assert summary["seed"] == 3 and summary["engine"] == "sim"
    assert list(pd.read_csv(out / "jobs.csv").columns) == list(JOB_COLUMNS)
    assert list(pd.read_csv(out / "workers.csv").columns) == list(WORKER_COLUMNS)
    resolved = simserve.load_scenario(out / "scenario.resolved.yaml")
    assert resolved.endpoint.max_workers == 5


def test_replications_add_confidence_intervals(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert (
        main(
            [
                "run",
                "scenarios/quickstart.yaml",
                "--out",
                str(out),
                "-r",
                "3",
                "--quiet",
                "--no-plots",
                "--set",
                "horizon=30min",
            ]
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["replications"] == 3
    lo, hi = summary["latency_s"]["p95_ci"]
    assert lo <= summary["latency_s"]["p95"] <= hi
    reps = pd.read_csv(out / "replications.csv")
    assert len(reps) == 3 and reps["seed"].nunique() == 3
    # replication 0 is the plain run with the scenario's seed
    plain = simserve.simulate("scenarios/quickstart.yaml", overrides={"horizon": "30min"})
    assert reps.loc[0, "latency_s.p95"] == pytest.approx(plain.summary["latency_s"]["p95"])


def test_schema_command_prints_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "endpoint" in schema["properties"] and "workload" in schema["required"]


def test_python_api_matches_cli(tmp_path: Path) -> None:
    r = simserve.simulate("scenarios/quickstart.yaml", seed=3)
    main(["run", "scenarios/quickstart.yaml", "--out", str(tmp_path), "--seed", "3", "--quiet", "--no-plots"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["latency_s"]["p95"] == pytest.approx(r.summary["latency_s"]["p95"])
    assert r.cost_by_state().sum() == pytest.approx(r.summary["cost_usd"]["total"])


def test_cost_per_1k_requests_is_over_requests_served() -> None:
    """An overloaded endpoint (1 worker, far too much traffic) must not look cheaper per request."""
    r = simserve.simulate(
        "scenarios/quickstart.yaml",
        overrides={"endpoint.max_workers": 1, "endpoint.job_ttl": "60s", "horizon": "20min"},
    )
    req, cost = r.summary["requests"], r.summary["cost_usd"]
    assert req["completed"] < req["arrived"]  # really overloaded: requests timed out or wait
    assert cost["per_1k_requests"] == pytest.approx(cost["total"] / req["completed"] * 1000.0)
