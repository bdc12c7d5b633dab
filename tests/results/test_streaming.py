"""Streamed runs (``--tables none|parquet``): the same jobs as a run with tables, counts, means and costs
identical, percentiles within the sketch's guarantee, per-minute series that add up, bounded memory of
job records (a ring), and the weekly arrival profile they are made for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

import simserve
from simserve.api import simulate
from simserve.cli import main
from simserve.records import JobsInFlightError
from simserve.results.jobstats import RELATIVE_ACCURACY, JobStats, Sketch, interval_area
from simserve.rng import RandomStreams
from simserve.scenario import ScenarioError, load_scenario
from simserve.sim.driver import SimDriver
from simserve.workload import generate, job_blocks, weekly_rates

SCENARIOS = sorted(p.stem for p in Path("scenarios").glob("*.yaml") if p.stem != "month-weekly")


def _streamed_records(sc: Any, seed: int, block: int) -> tuple[dict[str, np.ndarray], Any]:
    got: list[tuple[Any, ...]] = []
    d = SimDriver(sc, seed, sink=lambda first, *cols: got.append((first, *cols)), block=block)
    rec = d.run()
    assert [g[0] for g in got] == [i * block for i in range(len(got))]  # blocks in job-id order
    names = ("arrival_s", "start_s", "end_s", "status", "worker_id", "cold")
    return {n: np.concatenate([g[i + 1] for g in got]) for i, n in enumerate(names)}, rec


@pytest.mark.parametrize("name", SCENARIOS)
def test_streamed_run_has_the_same_records_as_the_run_with_tables(name: str) -> None:
    """Through a ring of small blocks (every block freed and reused several times), every job record,
    worker interval and counter equals the table run's."""
    sc = load_scenario(
        f"scenarios/{name}.yaml", {"horizon": min(load_scenario(f"scenarios/{name}.yaml").horizon, 14400)}
    )
    full = SimDriver(sc, 5).run()
    jobs = full.jobs_frame()
    block = max(32, len(jobs) // 3)  # 4 blocks in the ring: the first is freed once the fifth arrives... or at the end
    try:
        got, rec = _streamed_records(sc, 5, max(32, len(jobs) // 10))
    except JobsInFlightError:  # an overloaded scenario: more in flight than a small ring holds
        got, rec = _streamed_records(sc, 5, block)
    assert np.array_equal(got["arrival_s"], jobs["arrival_s"].to_numpy())
    assert np.array_equal(got["start_s"], jobs["start_s"].to_numpy(), equal_nan=True)
    assert np.array_equal(got["end_s"], jobs["end_s"].to_numpy(), equal_nan=True)
    assert np.array_equal(got["status"], jobs["status"].cat.codes.to_numpy())
    assert np.array_equal(got["worker_id"], jobs["worker_id"].to_numpy())
    assert np.array_equal(got["cold"], jobs["cold_start"].to_numpy())
    assert np.array_equal(rec.interval_table(), full.interval_table())
    assert rec.notes == full.notes


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


@pytest.mark.parametrize(
    ("scenario", "sets"),
    [
        ("quickstart", {"horizon": "12h", "workload.arrivals.rate": 3, "endpoint.max_workers": 10}),
        (
            "quickstart",
            {
                "workload.service": {"dist": "lognormal", "mean": 2, "cv": 2},
                "horizon": "12h",
                "workload.arrivals.rate": 2,
                "endpoint.max_workers": 10,
                "warmup": "1h",
            },
        ),
        ("crash-loop", {}),
        ("trace-replay", {}),
    ],
    ids=["exponential-ish", "lognormal-cv2-warmup", "crash-loop", "trace"],
)
def test_streamed_summary_equals_the_exact_one(scenario: str, sets: dict[str, Any]) -> None:
    """Counts, means, costs, workers: identical; percentiles within RELATIVE_ACCURACY of the exact ones
    (the issue asks 0.5 %; DDSketch guarantees 0.1 % of a value of the sample at that rank)."""
    sc = load_scenario(f"scenarios/{scenario}.yaml", sets)
    exact, streamed = simulate(sc), simulate(sc, tables=False)
    a, b = _flat(exact.summary), _flat(streamed.summary)
    assert a.keys() | {"quantiles.relative_accuracy"} == b.keys()
    pct = [k for k in a if k.rsplit(".", 1)[-1] in ("p50", "p90", "p95", "p99")]
    j = exact.jobs[exact.jobs["arrival_s"] >= sc.warmup]
    done = j["status"] == "completed"
    samples = {
        "latency_s": j["latency_s"][done],
        "queue_wait_s": j["queue_wait_s"][j["start_s"].notna()],
        "execution_s": j["execution_s"][done],
    }
    for k in a:
        if k == "quantiles.method":
            assert (a[k], b[k]) == ("exact", "ddsketch")
        elif k in pct:
            assert (a[k] is None) == (b[k] is None), k
            if a[k] is None:
                continue
            section, q = k.split(".")
            # the sketch's guarantee: within RELATIVE_ACCURACY of the sample's value at rank q (n - 1)
            x = np.sort(samples[section].to_numpy())
            truth = x[int(float(q[1:]) / 100 * (len(x) - 1))]
            assert abs(b[k] - truth) <= RELATIVE_ACCURACY * truth * (1 + 1e-9) + 1e-12, (k, truth, b[k])
            if len(x) > 50_000:  # and on large runs within 0.5 % of the interpolated exact percentile
                assert abs(b[k] - a[k]) <= 0.005 * a[k], (k, a[k], b[k])
        elif k != "quantiles.relative_accuracy":
            assert a[k] == b[k], (k, a[k], b[k])
    assert streamed.summary["quantiles"] == {"method": "ddsketch", "relative_accuracy": RELATIVE_ACCURACY}
    assert not streamed.has_jobs and len(streamed.jobs) == 0
    pd.testing.assert_frame_equal(exact.minutes, streamed.minutes)


def test_minutes_add_up_to_the_run() -> None:
    sc = load_scenario("scenarios/quickstart.yaml", {"horizon": "3h"})
    r = simulate(sc)
    m, jobs, workers = r.minutes, r.jobs, r.workers
    assert len(m) == 180 and list(m["minute_start_s"][:2]) == [0.0, 60.0]
    assert m["arrivals"].sum() == len(jobs)
    assert m["completed"].sum() == (jobs["status"] == "completed").sum()
    assert m["latency_count"].sum() == (jobs["status"] == "completed").sum()
    assert m["cost_usd"].sum() == pytest.approx(workers["cost_usd"].sum(), rel=1e-9)
    alive = m[["workers_initializing", "workers_running", "workers_outdated"]].sum(axis=1).mean()
    assert alive == pytest.approx(r.summary["workers"]["mean_alive"], rel=1e-9)
    wait = jobs["start_s"].fillna(jobs["end_s"]).fillna(sc.horizon) - jobs["arrival_s"]
    assert m["queue_mean"].sum() * 60 == pytest.approx(wait.clip(lower=0).sum(), rel=1e-9)
    first = jobs[(jobs["arrival_s"] < 60) & (jobs["status"] == "completed")]["latency_s"]
    assert (
        m["latency_p95_s"][0] == pytest.approx(np.percentile(first, 95))
        if len(first)
        else np.isnan(m["latency_p95_s"][0])
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 1000), st.floats(0, 400)), max_size=30),
    st.integers(1, 20),
    st.floats(1, 100),
)
def test_interval_area_is_the_overlap_with_each_bucket(ivs: list[tuple[float, float]], n: int, width: float) -> None:
    start = np.array([a for a, _ in ivs])
    end = start + np.array([d for _, d in ivs])
    w = np.linspace(0.5, 2.0, len(ivs))
    got = interval_area(start, end, n, width, weight=w)
    want = [
        float(np.sum(w * np.clip(np.minimum(end, (i + 1) * width) - np.maximum(start, i * width), 0, None)))
        for i in range(n)
    ]
    assert np.allclose(got, want, rtol=1e-9, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_subnormal=False), min_size=1, max_size=400), st.sampled_from([0.5, 0.9, 0.99]))
def test_sketch_quantile_is_within_its_relative_accuracy(values: list[float], q: float) -> None:
    x = np.asarray(values)
    sk = Sketch()
    sk.add(x[: len(x) // 2])
    sk.add(x[len(x) // 2 :])
    got = sk.quantile(q)
    truth = float(np.sort(x)[int(q * (len(x) - 1))])  # the sketch's rank convention: the lower value
    assert got is not None
    assert abs(got - truth) <= RELATIVE_ACCURACY * truth * (1 + 1e-9) + 1e-300


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.one_of(st.just(0.0), st.floats(1e-12, 1e7, allow_subnormal=False)), max_size=200), max_size=6),
)
def test_sketch_answers_as_a_ddsketch_fed_every_value(blocks: list[list[float]]) -> None:
    """The bucket counts kept in numpy, whatever the blocks widen their range by, give the DDSketch that one
    value at a time gives: the same count and every quantile the same, bit for bit."""
    from ddsketch import DDSketch

    sk, ref = Sketch(), DDSketch(RELATIVE_ACCURACY)
    for b in blocks:
        sk.add(np.asarray(b, dtype=float))
        for v in b:
            ref.add(v)
        assert sk.count == ref.count
        for q in (0.0, 0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0):
            assert sk.quantile(q) == ref.get_quantile_value(q)


def test_job_blocks_concatenate_to_the_same_jobs_whatever_the_block() -> None:
    for name, sets in (("sdxl-bursty", {}), ("llm-diurnal-cached", {}), ("month-weekly", {"horizon": "2d"})):
        sc = load_scenario(f"scenarios/{name}.yaml", sets)
        whole = generate(sc, RandomStreams(3))
        for block in (1000, 4096, 1 << 20):
            blocks = list(job_blocks(sc, RandomStreams(3), block))
            assert all(len(b) == block for b in blocks[:-1])
            assert np.array_equal(np.concatenate([b.arrival_s for b in blocks]), whole.arrival_s)
            assert np.array_equal(np.concatenate([b.service_s for b in blocks]), whole.service_s)


def test_jobs_in_flight_beyond_the_ring_is_a_clear_error(tmp_path: Path) -> None:
    sc = load_scenario("scenarios/quickstart.yaml", {"workload.arrivals.rate": 20, "endpoint.max_workers": 1})
    with pytest.raises(JobsInFlightError, match="use --tables csv"):
        SimDriver(sc, 0, sink=lambda *a: None, block=100).run()


def test_weekly_profile_follows_the_hour_of_the_week(tmp_path: Path) -> None:
    sc = load_scenario("scenarios/month-weekly.yaml", {"horizon": "14d"})
    a = sc.workload.arrivals
    rates = weekly_rates(sc, a)
    assert len(rates) == 168 and rates.mean() == pytest.approx(10.0)
    assert rates[24 * 2 + 14] == pytest.approx(rates.max())  # Wednesday 14:00, a weekday peak
    assert rates[24 * 5 + 14] == pytest.approx(0.6 * rates.max())  # Saturday's peak: the weekend level
    jobs = generate(sc, RandomStreams(0))
    per_hour = np.bincount((jobs.arrival_s // 3600).astype(int) % 168, minlength=168) / (2 * 3600)
    z = (per_hour - rates) / np.sqrt(rates / (2 * 3600))  # Poisson counts: standard scores
    assert np.abs(z).max() < 5 and abs(z.mean()) < 0.3
    # start_hour shifts the week: t = 0 on Saturday 00:00
    shifted = load_scenario("scenarios/month-weekly.yaml", {"horizon": "1d", "workload.arrivals.start_hour": 120})
    n_sat = len(generate(shifted, RandomStreams(0)))
    assert n_sat == pytest.approx(rates[120:144].sum() * 3600, rel=0.02)


def test_weekly_profile_from_a_csv_and_its_errors(tmp_path: Path) -> None:
    rows = "\n".join(f"{h},{1 + (h % 24 >= 9 and h % 24 < 18)}" for h in range(168))
    (tmp_path / "week.csv").write_text("hour_of_week,rate\n" + rows + "\n")
    sets = {"workload.arrivals": {"type": "weekly", "mean_rate": 2, "csv": str(tmp_path / "week.csv")}}
    sc = load_scenario("scenarios/quickstart.yaml", sets)
    rates = weekly_rates(sc, sc.workload.arrivals)
    assert rates.mean() == pytest.approx(2.0) and rates[10] == pytest.approx(2 * rates[3])
    (tmp_path / "bad.csv").write_text("hour_of_week,rate\n0,1\n0,2\n")
    bad = {"workload.arrivals": {"type": "weekly", "mean_rate": 2, "csv": str(tmp_path / "bad.csv")}}
    with pytest.raises(ScenarioError, match=r"line 3, column hour_of_week: expected each hour 0\.\.167 once"):
        from simserve.workload import check_files

        check_files(load_scenario("scenarios/quickstart.yaml", bad))
    with pytest.raises(ScenarioError, match="hourly: expected 168 levels"):
        load_scenario(
            "scenarios/quickstart.yaml", {"workload.arrivals": {"type": "weekly", "mean_rate": 1, "hourly": [1, 2]}}
        )


def test_cli_tables_modes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["run", "scenarios/quickstart.yaml", "--set", "horizon=3h", "-q", "--no-plots"]
    assert main([*args, "--out", str(tmp_path / "csv")]) == 0
    assert main([*args, "--tables", "parquet", "--out", str(tmp_path / "pq")]) == 0
    assert main([*args, "--tables", "none", "--out", str(tmp_path / "none")]) == 0
    assert {p.name for p in (tmp_path / "pq").iterdir()} >= {"jobs.parquet", "workers.parquet", "minutes.csv"}
    assert not list((tmp_path / "none").glob("jobs.*")) and (tmp_path / "none" / "minutes.csv").is_file()
    assert not list(tmp_path.rglob("*.tmp"))
    a = simserve.results.outputs.read_run(tmp_path / "csv")
    b = simserve.results.outputs.read_run(tmp_path / "pq")
    for col in ("arrival_s", "start_s", "end_s", "latency_s"):
        assert np.allclose(a["jobs"][col], b["jobs"][col], equal_nan=True, rtol=1e-8, atol=1e-9)
    assert list(a["jobs"]["status"]) == list(b["jobs"]["status"])
    sa = json.loads((tmp_path / "csv" / "summary.json").read_text())
    sn = json.loads((tmp_path / "none" / "summary.json").read_text())
    assert sa["requests"] == sn["requests"] and sa["cost_usd"] == sn["cost_usd"]
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "csv"), str(tmp_path / "pq")]) == 0
    assert main(["compare", str(tmp_path / "csv"), str(tmp_path / "none")]) == 2
    assert "written with --tables none" in capsys.readouterr().err
    assert main([*args, "--tables", "feather", "--out", str(tmp_path / "x")]) == 2
    assert "--tables: expected one of csv, parquet, none" in capsys.readouterr().err


def test_month_scenario_validates_and_its_first_day_streams() -> None:
    sc = load_scenario("scenarios/month-weekly.yaml")
    assert sc.horizon == 30 * 86400
    day = simulate(load_scenario("scenarios/month-weekly.yaml", {"horizon": "6h"}), tables=False)
    assert day.summary["requests"]["arrived"] > 0 and day.summary["quantiles"]["method"] == "ddsketch"


def test_jobstats_counts_every_status() -> None:
    s = JobStats(0.0, 100.0)
    s.add_block(
        np.array([1.0, 2.0, 3.0]),
        np.array([1.5, np.nan, 3.0]),
        np.array([2.5, 2.0, np.nan]),
        np.array([2, 6, 1]),
        np.array([True, False, False]),
    )
    s.finish()
    assert (s.count("completed"), s.count("rejected"), s.count("in_progress"), s.served, s.cold) == (1, 1, 1, 2, 1)
    assert s.mean("latency") == 1.5 and s.mean("wait") == pytest.approx(0.25)


@pytest.mark.parametrize(
    "name", ["quickstart", "busy-market", "crash-loop", "rolling-update", "flex-vs-active", "lambda-style"]
)
def test_intervals_billed_in_chunks_cost_what_the_whole_table_costs(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With intervals flushed every 40 rows (billing sessions cut across chunks, held rows carried), every
    worker figure equals the table run's: time by state and peak alive exactly, costs to 1e-9."""
    import simserve.records as records

    monkeypatch.setattr(records, "IV_FLUSH_ROWS", 40)
    monkeypatch.setattr(records, "STREAM_BLOCK", 64)
    sc = load_scenario(
        f"scenarios/{name}.yaml", {"horizon": min(load_scenario(f"scenarios/{name}.yaml").horizon, 7200)}
    )
    got_rows: list[tuple[np.ndarray, ...]] = []
    try:
        streamed = simulate(sc, tables=False, worker_writer=lambda *c: got_rows.append(c))
    except JobsInFlightError:
        monkeypatch.setattr(records, "STREAM_BLOCK", 1 << 17)
        got_rows.clear()
        streamed = simulate(sc, tables=False, worker_writer=lambda *c: got_rows.append(c))
    exact = simulate(sc)
    a, b = _flat(exact.summary), _flat(streamed.summary)
    for k in a:
        if k.startswith(("workers.", "gpu_utilization")):
            assert b[k] == pytest.approx(a[k], rel=1e-12, abs=1e-12), k
        elif k.startswith("cost_usd.") and a[k] is not None:
            assert b[k] == pytest.approx(a[k], rel=1e-9, abs=1e-12), k
    # the intervals handed on are the table's rows, each with its final cost
    wid = np.concatenate([c[0] for c in got_rows])
    start = np.concatenate([c[6] for c in got_rows])
    cost = np.concatenate([c[9] for c in got_rows])
    order = np.lexsort((start, wid))
    w = exact.workers
    assert np.array_equal(wid[order], w["worker_id"].to_numpy())
    assert np.array_equal(start[order], w["start_s"].to_numpy())
    assert np.allclose(cost[order], w["cost_usd"].to_numpy(), rtol=1e-9, atol=1e-12)
    assert streamed.minutes is not None and exact.minutes is not None
    assert np.allclose(streamed.minutes["cost_usd"], exact.minutes["cost_usd"], rtol=1e-9, atol=1e-12)


def test_streamed_run_plots_its_minutes(tmp_path: Path) -> None:
    """A streamed run draws minutes_timeline.png from the per-minute series alone; a month is averaged
    into at most MAX_POINTS buckets, request-weighted for the percentiles."""
    from simserve.report.minutes import MAX_POINTS, _coarsen, minutes_timeline

    assert (
        main(
            [
                "run",
                "scenarios/quickstart.yaml",
                "--set",
                "horizon=2h",
                "--tables",
                "none",
                "-q",
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )
    assert (tmp_path / "r" / "minutes_timeline.png").stat().st_size > 10_000
    m = pd.read_csv(tmp_path / "r" / "minutes.csv")
    month = pd.concat([m] * 400, ignore_index=True)  # 48,000 minutes
    month["minute_start_s"] = np.arange(len(month)) * 60.0
    coarse, k = _coarsen(month)
    assert len(coarse) <= MAX_POINTS and k == 24
    assert coarse["arrivals"].sum() * k == pytest.approx(month["arrivals"].sum())
    fig = minutes_timeline(month)
    assert len(fig.axes) == 4 and "24-minute averages" in fig.axes[0].get_title()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 100, allow_nan=False),  # arrival
            st.one_of(st.none(), st.floats(0, 50, allow_nan=False)),  # wait before start (None: never started)
            st.floats(0.001, 20, allow_nan=False),  # execution
        ),
        min_size=1,
        max_size=60,
    ),
    st.integers(1, 16),
    st.floats(0, 30, allow_nan=False),
)
def test_startup_wait_finds_the_jobs_the_table_would(
    jobs: list[tuple[float, float | None, float]], block: int, warmup_s: float
) -> None:
    """Fed in blocks of job-id order, ``StartupWait`` keeps exactly the completed jobs of the window that arrived
    before the earliest start of the whole run, whichever block that start comes in; all others go to the rest."""
    arrival = np.array([a for a, _, _ in jobs])
    start = np.array([np.nan if w is None else a + w for a, w, _ in jobs])
    end = start + np.array([e for _, _, e in jobs])
    status = np.where(np.isnan(start), 0, 2)  # never started: in queue; otherwise completed
    stats = JobStats(warmup_s, 200.0)
    for i in range(0, len(jobs), block):
        sl = slice(i, i + block)
        stats.add_block(arrival[sl], start[sl], end[sl], status[sl], np.zeros(len(jobs), dtype=bool)[sl])
    wait = stats.startup
    assert wait is not None
    first = np.nanmin(start) if np.isfinite(start).any() else np.inf
    assert wait.first_start_s == first
    done = (status == 2) & (arrival >= warmup_s)
    waited = done & (arrival < first)
    assert sorted(wait.latency.tolist()) == sorted((end - arrival)[waited].tolist())
    rest = (end - arrival)[done & ~waited]
    for q in (0.5, 0.95, 0.99):  # the sketch's rank-based quantile of the rest, within its relative accuracy
        got = wait.rest_quantile(stats.sketches["latency"], q)
        if not len(rest):
            assert got is None
            continue
        want = np.sort(rest)[int(np.floor(q * (len(rest) - 1)))]  # DDSketch: the value at rank q (n - 1)
        assert got == pytest.approx(want, rel=2 * RELATIVE_ACCURACY, abs=1e-6)
