"""``simserve calibrate`` and ``--replay``: family choice by goodness of fit, recovery of known
parameters from a synthetic run, pickup delays, and an exact replay of a run's arrivals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simserve.api import simulate
from simserve.calibrate import calibrate_run, fit_duration, load_replay, pickup_delays, replay_jobs, write_calibrated
from simserve.cli import main
from simserve.compare import compare_runs
from simserve.dists import Exponential, Gamma, LogNormal
from simserve.results.outputs import read_run, write_run
from simserve.scenario import load_scenario

from .conftest import BASE


@pytest.mark.parametrize(
    "dist",
    [
        LogNormal(dist="lognormal", mean=2.0, cv=0.5),
        Gamma(dist="gamma", mean=2.0, cv=0.5),
        Exponential(dist="exponential", mean=2.0),
    ],
)
def test_fit_picks_the_family_and_parameters(dist: object) -> None:
    x = dist.sample(np.random.default_rng(11), 3000)  # type: ignore[attr-defined]
    f = fit_duration(x)
    assert f is not None and f.family == dist.dist  # type: ignore[attr-defined]
    assert f.spec["mean"] == pytest.approx(2.0, rel=0.05)
    if "cv" in f.spec:
        assert f.spec["cv"] == pytest.approx(0.5, rel=0.08)
    assert set(f.aic) == {"exponential", "lognormal", "gamma"} and f.ks_pvalue is not None


def test_fit_constant_empirical_and_empty() -> None:
    rng = np.random.default_rng(2)
    f = fit_duration(np.full(40, 3.0))
    assert f is not None and f.spec == {"dist": "constant", "value": 3.0}
    assert fit_duration(3 + rng.normal(0, 0.01, 50)).family == "constant"  # type: ignore[union-attr]
    bimodal = np.r_[np.full(500, 1.0), np.full(500, 5.0)] + rng.normal(0, 0.05, 1000)
    f = fit_duration(bimodal, max_empirical=100)
    assert f is not None and f.family == "empirical" and len(f.spec["values"]) == 100
    assert fit_duration([]) is None
    few = fit_duration([1.0, 4.0, 2.0])
    assert few is not None and few.family == "empirical" and few.spec["values"] == [1.0, 2.0, 4.0]


def test_calibrate_recovers_the_synthetic_run(synthetic_run: tuple[Path, Path], tmp_path: Path) -> None:
    run, scenario = synthetic_run
    cal = calibrate_run(run, scenario)
    svc = cal.fits["workload.service"]
    assert svc.family == "lognormal"
    assert svc.spec["mean"] == pytest.approx(2.0, rel=0.05) and svc.spec["cv"] == pytest.approx(0.5, rel=0.1)
    assert cal.fits["cold_start.handler_init"].spec == {"dist": "constant", "value": 3.0}
    cs = cal.fits["cold_start.container_start"]
    assert cs.family in ("gamma", "lognormal") and cs.n > 100
    assert cs.spec["mean"] == pytest.approx(2.0, rel=0.05) and cs.spec["cv"] == pytest.approx(0.3, rel=0.15)
    sc = write_calibrated(cal, tmp_path / "out" / "synthetic.calibrated.yaml")
    assert sc == load_scenario(tmp_path / "out" / "synthetic.calibrated.yaml")
    assert sc.cold_start.registry_bandwidth == pytest.approx(200e6, rel=1e-5)
    assert sc.cold_start.model.bandwidth == pytest.approx(400e6, rel=1e-5)
    assert sc.name == "synthetic-live-calibrated" and sc.seed == 3
    assert cal.overheads["all"]["mean_s"] == 0.0  # the simulator has no pickup delay
    # the calibrated scenario reproduces the run
    out = write_run(tmp_path / "recal", simulate(sc))
    cmp = compare_runs(run, out)
    for key in ("latency_s.p50", "latency_s.p95", "cost_usd.total"):
        assert abs(cmp.row(key).rel_error) < 0.10, key  # type: ignore[arg-type]
    assert abs(cmp.row("cold_start.fraction").diff) < 0.05  # type: ignore[arg-type]


def test_pickup_delays_by_kind() -> None:
    jobs = pd.DataFrame(
        {
            "job_id": [0, 1, 2],
            "arrival_s": [5.0, 20.0, 21.0],
            "start_s": [10.2, 20.3, 23.3],
            "end_s": [12.0, 22.3, 24.0],
            "status": ["completed"] * 3,
            "worker_id": [0, 0, 0],
            "cold_start": [True, False, False],
            "execution_s": [1.8, 2.0, 0.7],
        }
    )
    workers = pd.DataFrame(
        {
            "worker_id": [0, 0, 0],
            "state": ["initializing", "initializing", "running"],
            "phase": ["container_start", "handler_init", "warm"],
            "start_s": [0.0, 4.0, 10.0],
            "end_s": [4.0, 10.0, 30.0],
        }
    )
    d = pickup_delays(jobs, workers)
    assert d["kind"].tolist() == ["cold", "dispatch", "queued"]
    assert d["delay_s"].to_numpy() == pytest.approx([0.2, 0.3, 1.0])
    folded = replay_jobs(jobs, d["delay_s"].to_numpy())
    assert folded.service_s == pytest.approx([2.0, 2.3, 1.7])


def test_replay_round_trip_is_exact(run_pair: tuple[Path, Path, Path], tmp_path: Path) -> None:
    a, _, _ = run_pair
    jobs = load_replay(a)
    src = read_run(a)["jobs"]
    assert np.array_equal(jobs.arrival_s, src["arrival_s"].to_numpy())
    assert np.array_equal(jobs.service_s, src["execution_s"].to_numpy())
    out = write_run(tmp_path / "replayed", simulate(BASE, jobs=jobs))
    before = (a / "jobs.csv").read_text().splitlines()
    after = (out / "jobs.csv").read_text().splitlines()
    assert [r.split(",")[1] for r in after] == [r.split(",")[1] for r in before]  # arrival_s, text-identical
    assert compare_runs(a, out).exceeding(1e-3, ["*"]) == []  # CSVs keep 9 digits


def test_replay_fallbacks() -> None:
    jobs = pd.DataFrame(
        {
            "job_id": [0, 1, 2, 3, 4],
            "arrival_s": [0.0, 1.0, 2.0, 3.0, 4.0],
            "start_s": [0.5, 1.5, 2.5, np.nan, 4.5],
            "end_s": [1.5, 4.5, 3.0, 3.0, np.nan],
            "status": ["completed", "completed", "timed_out", "rejected", "in_progress"],
            "execution_s": [1.0, 3.0, 0.5, np.nan, np.nan],
        }
    )
    j = replay_jobs(jobs)
    assert j.service_s.tolist() == [1.0, 3.0, np.inf, 2.0, 2.0]  # timed out -> inf; unmeasured -> median


def test_cli_calibrate_and_replay(synthetic_run: tuple[Path, Path], tmp_path: Path) -> None:
    run, scenario = synthetic_run
    out = tmp_path / "s.calibrated.yaml"
    assert main(["calibrate", str(run), "--scenario", str(scenario), "--out", str(out)]) == 0
    assert load_scenario(out).workload.service.dist == "lognormal"
    assert main(["calibrate", str(run), "--scenario", str(tmp_path / "nope.yaml"), "--out", str(out)]) == 2
    rep = tmp_path / "replay"
    assert main(["run", str(scenario), "--replay", str(run), "--out", str(rep), "-q", "--no-plots"]) == 0
    src, got = read_run(run)["jobs"], read_run(rep)["jobs"]
    assert np.array_equal(src["arrival_s"].to_numpy(), got["arrival_s"].to_numpy())


def test_replay_prefers_a_live_trace_for_unmeasured_jobs(tmp_path: Path) -> None:
    from simserve.calibrate.replay import requested_service

    jobs = pd.DataFrame(
        {
            "job_id": [0, 1],
            "arrival_s": [0.0, 1.0],
            "start_s": [0.5, np.nan],
            "end_s": [1.5, 2.0],
            "status": ["completed", "cancelled"],
            "execution_s": [1.0, np.nan],
        }
    )
    (tmp_path / "trace.csv").write_text("arrival_s,service_s\n0,0.9\n1,4.5\n")
    req = requested_service(tmp_path, jobs)
    assert replay_jobs(jobs, requested_s=req).service_s.tolist() == [1.0, 4.5]
    (tmp_path / "trace.csv").write_text("arrival_s,service_s\n0,0.9\n")  # does not match the jobs
    assert requested_service(tmp_path, jobs) is None
