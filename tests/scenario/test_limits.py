"""Everything that could make a run unbounded is refused at load time: one line, exit 2, the field,
the figure the scenario implies and the bound (simserve.limits), never a hang or a huge allocation."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from simserve import limits
from simserve.cli import main
from simserve.scenario import load_scenario
from simserve.workload import read_trace

QUICK = Path("scenarios/quickstart.yaml")
ZERO_START = "cold_start={image_size: 0, container_start: 0, handler_init: 0, flashboot_resume: 0}"

# case -> (--set overrides, field path in the message, text the message must hold)
CASES: dict[str, tuple[list[str], str, str]] = {
    "horizon_implies_too_many_arrivals": (["horizon=1000000000000"], "workload.arrivals", "5e+11 arrivals"),
    "rate_implies_too_many_arrivals": (["workload.arrivals.rate=100000"], "workload.arrivals", "720,000,000 arrivals"),
    "diurnal_too_many_arrivals": (
        ["workload.arrivals={type: diurnal, mean_rate: 10000, period: 1h}"],
        "workload.arrivals",
        "max_arrivals",
    ),
    "rate_past_unit_bound": (["workload.arrivals.rate=1.0e+12"], "workload.arrivals.rate", "at most 1e+09"),
    "scaler_interval_tiny": (["endpoint.scaler_interval=0.000000001"], "endpoint.scaler_interval", "autoscaler ticks"),
    "bursty_cycle_tiny": (
        ["workload.arrivals={type: bursty, base_rate: 0.1, burst_rate: 1, mean_burst: 1.0e-6, mean_gap: 1.0e-9}"],
        "workload.arrivals.mean_gap",
        "burst cycles",
    ),
    "bursty_cycle_zero": (
        ["workload.arrivals={type: bursty, base_rate: 0.1, burst_rate: 1, mean_burst: 0, mean_gap: 0}"],
        "workload.arrivals.mean_burst",
        "time would stand still",
    ),
    "tenants_time_scale_tiny": (
        ["hosts=[{gpu: H100, count: 8, other_tenants: {mean_utilization: 0.5, time_scale: 0.000000001}}]"],
        "hosts",
        "demand changes",
    ),
    "extra_workers_huge": (["endpoint.extra_workers=1000000000000"], "endpoint.extra_workers", "10000"),
    "max_workers_huge": (["endpoint.max_workers=1000000000"], "endpoint.max_workers", "10000"),
    "concurrency_huge": (["endpoint.concurrency=10000000"], "endpoint.concurrency", "100000"),
    "host_count_huge": (["hosts=[{gpu: H100, count: 100000000}]"], "hosts[0].count", "100000"),
    "hosts_over_all_pools": (
        ["hosts=[{gpu: H100, count: 60000}, {gpu: A100, count: 60000}]"],
        "hosts",
        "120,000 hosts in all pools",
    ),
    "host_count_bool": (["hosts=[{gpu: H100, count: true}]"], "hosts[0].count", "expected a number; got True"),
    "max_workers_bool": (["endpoint.max_workers=false"], "endpoint.max_workers", "expected a number"),
    "replications_huge": (["replications=1000000"], "replications", "10000"),
    "cv_inf": (["workload.service={dist: lognormal, mean: 2, cv: .inf}"], "workload.service.cv", "finite"),
    "cv_huge": (["workload.service={dist: lognormal, mean: 2, cv: 1000000}"], "workload.service.cv", "100"),
    "gamma_cv_tiny": (["workload.service={dist: gamma, mean: 2, cv: 1.0e-300}"], "workload.service.cv", "0.000001"),
    "pricing_inf": (["pricing={H100: {flex: .inf}}"], "pricing.H100.flex", "finite"),
    "pricing_nan": (["pricing={H100: {flex: .nan}}"], "pricing.H100.flex", "finite"),
    "crash_rate_inf": (["faults={crash_rate_per_hour: .inf}"], "faults.crash_rate_per_hour", "finite"),
    "crash_rate_huge": (["faults={crash_rate_per_hour: 1000000}"], "faults.crash_rate_per_hour", "3600"),
    "diurnal_period_zero": (
        ["workload.arrivals={type: diurnal, mean_rate: 1, period: 0}"],
        "workload.arrivals.period",
        "greater than 0",
    ),
    "peak_to_trough_inf": (
        ["workload.arrivals={type: diurnal, mean_rate: 1, peak_to_trough: .inf}"],
        "workload.arrivals.peak_to_trough",
        "finite",
    ),
    "billing_unknown_phase": (["billing.states={running.nope: false}"], "billing.states", "running.warm"),
    "billing_phase_of_phaseless_state": (["billing.states={idle.warm: true}"], "billing.states", "idle has no phase"),
    "gpu_listed_twice": (["endpoint.gpu=[H100, h100]"], "endpoint.gpu", "each GPU once"),
    "gpu_no_host_pool": (["endpoint.gpu=A100"], "endpoint.gpu", "no host pool in hosts serves A100"),
    "registry_bandwidth_tiny": (["cold_start.registry_bandwidth=1.0e-300"], "cold_start.registry_bandwidth", "from 1"),
    "duration_huge": (["endpoint.idle_timeout=1.0e+300"], "endpoint.idle_timeout", "at most 1e+12"),
    "size_huge": (["cold_start.image_size=1.0e+300"], "cold_start.image_size", "at most 1e+18"),
}


def _one_line_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    t0 = time.perf_counter()
    rc = main(args)
    elapsed_s = time.perf_counter() - t0
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ") and "Traceback" not in err
    # bound holds under load: 30 s for refusals that take under 0.1 s idle (1 s for the 50,000-deep nesting);
    # what it guards against (expanding 1e9 aliases, a runaway loop) takes minutes or never ends
    assert elapsed_s < 30, f"took {elapsed_s:.1f} s to refuse"
    return err


@pytest.mark.parametrize("case", sorted(CASES))
def test_unbounded_or_nonsense_is_refused(case: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sets, field, text = CASES[case]
    args = ["validate", str(QUICK)]
    for s in sets:
        args += ["--set", s]
    if case == "hosts_over_all_pools":
        args += ["--set", "endpoint.gpu=[H100, A100]"]
    err = _one_line_exit_2(args, capsys)
    assert f": {field}: " in err, err
    assert text in err, err


def test_validate_takes_overrides_and_run_refuses_too(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    err = _one_line_exit_2(
        ["run", str(QUICK), "--set", "horizon=1000000000000", "--out", str(out), "-q", "--no-plots"], capsys
    )
    assert "--set max_arrivals=N" in err
    assert not out.exists()


def test_max_arrivals_is_the_override() -> None:
    """The arrivals bound is a scenario field: raising it admits the scenario (not run here: 5e8 arrivals)."""
    long = {"horizon": 1e9, "endpoint.scaler_interval": 60}
    with pytest.raises(ValueError, match="max_arrivals"):
        load_scenario(QUICK, long)
    sc = load_scenario(QUICK, {**long, "max_arrivals": 10**9})
    assert sc.max_arrivals == 10**9
    assert sc.digest() == load_scenario(QUICK, {**long, "max_arrivals": 2 * 10**9}).digest()
    assert load_scenario(QUICK).max_arrivals == limits.DEFAULT_MAX_ARRIVALS


def test_gpu_names_yaml_reads_as_numbers_are_names(tmp_path: Path) -> None:
    sc = load_scenario(
        QUICK, ["endpoint.gpu=[4090]", "hosts=[{gpu: 4090, count: 2}]", "pricing={4090: {flex: 0.0003}}"]
    )
    assert sc.endpoint.gpu == ["4090"] and sc.hosts[0].gpu == "4090" and "4090" in sc.pricing


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_yaml_alias_bomb_is_refused_before_expansion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]  # 10^9 leaves
    path = _write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n" + QUICK.read_text())
    err = _one_line_exit_2(["validate", str(path)], capsys)
    assert "YAML values once aliases are expanded; got 1.2e+09" in err


def test_yaml_recursive_alias_and_deep_nesting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_exit_2(["validate", str(_write(tmp_path, "rec.yaml", "name: &a [*a]\n"))], capsys)
    assert "recursive aliases" in err
    deep = _write(tmp_path, "deep.yaml", "name: " + "[" * 50_000 + "]" * 50_000 + "\n")
    err = _one_line_exit_2(["validate", str(deep)], capsys)
    assert "nested less deeply" in err


def test_alias_bomb_in_a_set_value(capsys: pytest.CaptureFixture[str]) -> None:
    value = (
        "["
        + ", ".join(
            ["&a0 [x, x, x, x, x, x, x, x, x, x]"] + [f"&a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
        )
        + "]"
    )
    err = _one_line_exit_2(["validate", str(QUICK), "--set", f"name={value}"], capsys)
    assert "error: --set: name: expected at most" in err


def test_plain_aliases_still_work(tmp_path: Path) -> None:
    data = yaml.safe_load(QUICK.read_text())
    text = (
        QUICK.read_text()
        .replace("idle_timeout: 5s", "idle_timeout: &t 5s")
        .replace("execution_timeout: 600s", "execution_timeout: *t")
    )
    sc = load_scenario(_write(tmp_path, "alias.yaml", text))
    assert sc.endpoint.execution_timeout == 5.0 and data["endpoint"]["idle_timeout"] == "5s"


def test_looped_trace_with_no_span_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = _write(tmp_path, "t.csv", "arrival_s\n0\n0\n")
    args = ["validate", str(QUICK), "--set", f"workload.arrivals={{type: trace, path: {trace}, loop: true}}"]
    err = _one_line_exit_2(args, capsys)
    assert f"{trace}: workload.arrivals.path: the trace implies about 1.4e+13 arrivals" in err
    assert "2 rows repeated every 1e-09 s" in err


def test_trace_field_over_the_csv_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = _write(tmp_path, "t.csv", "arrival_s\n" + "1" * 200_000 + "\n")
    err = _one_line_exit_2(
        ["validate", str(QUICK), "--set", f"workload.arrivals={{type: trace, path: {trace}}}"], capsys
    )
    assert "line 2: expected CSV of numbers (field larger than field limit" in err


def test_looped_trace_is_tiled_exactly(tmp_path: Path) -> None:
    """The vectorised loop gives the same arrivals as repeating the trace by hand."""
    import numpy as np

    from simserve.rng import RandomStreams
    from simserve.workload import generate

    trace = _write(tmp_path, "t.csv", "arrival_s,service_s\n0.5,1\n2.25,2\n3,3\n")
    sc = load_scenario(QUICK, {"workload.arrivals": {"type": "trace", "path": str(trace), "loop": True}, "horizon": 40})
    jobs = generate(sc, RandomStreams(0))
    times, service = read_trace(trace)
    span = 3 + 1.25  # last arrival + mean gap
    expect = np.concatenate([times + k * span for k in range(10)])
    assert np.array_equal(jobs.arrival_s, expect[expect < 40])
    assert np.array_equal(jobs.service_s, np.tile(service, 10)[expect < 40])


def test_looped_trace_with_a_period(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``period`` (a recording's length, idle tail included) sets the loop; shorter than the trace, or
    without ``loop``, it is refused naming the field."""
    import numpy as np

    from simserve.rng import RandomStreams
    from simserve.workload import generate

    trace = _write(tmp_path, "t.csv", "arrival_s,service_s\n0.5,1\n2.25,2\n3,3\n")
    arrivals = {"type": "trace", "path": str(trace), "loop": True, "period": "10s"}
    jobs = generate(load_scenario(QUICK, {"workload.arrivals": arrivals, "horizon": 40}), RandomStreams(0))
    times, _ = read_trace(trace)
    assert np.array_equal(jobs.arrival_s, np.concatenate([times + 10.0 * k for k in range(4)]))
    short = f"workload.arrivals={{type: trace, path: {trace}, loop: true, period: 2s}}"
    err = _one_line_exit_2(["validate", str(QUICK), "--set", short], capsys)
    assert "workload.arrivals.period: expected a period longer than the trace's last arrival (3 s), got 2 s" in err
    unlooped = f"workload.arrivals={{type: trace, path: {trace}, period: 20s}}"
    err = _one_line_exit_2(["validate", str(QUICK), "--set", unlooped], capsys)
    assert "period applies with loop: true only" in err


@pytest.mark.parametrize(
    ("vary", "text"),
    [
        (["endpoint.max_workers=1..100000000"], "100,000,000 values, expected at most 10,000 per key"),
        (
            ["endpoint.max_workers=1..200", "endpoint.active_workers=0..100"],
            "20,200 candidates (200 endpoint.max_workers x 101 endpoint.active_workers)",
        ),
    ],
)
def test_vary_grids_are_bounded(vary: list[str], text: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = ["plan", str(QUICK), "--slo", "latency_p95<=10s", "--out", str(tmp_path / "p")]
    for v in vary:
        args += ["--vary", v]
    err = _one_line_exit_2(args, capsys)
    assert text in err, err


def _dynamics_terminate(sets: dict[str, Any]) -> None:
    from simserve.api import simulate

    t0 = time.perf_counter()
    result = simulate(load_scenario(QUICK, sets))
    assert time.perf_counter() - t0 < 30  # bound holds under load: 30 s for runs of 0.04-0.15 s idle
    assert result.summary["requests"]["arrived"] > 0


@pytest.mark.parametrize(
    "sets",
    [
        {"faults": {"crash_rate_per_hour": 3600, "unhealthy_retry": 1e-6}},
        {"faults": {"init_failure_prob": 1.0, "unhealthy_retry": 1e-6}},
        {"endpoint.execution_timeout": 0, "endpoint.job_ttl": 0, "endpoint.idle_timeout": 0},
    ],
    ids=["crash_every_second", "init_always_fails", "zero_timeouts"],
)
def test_extreme_dynamics_with_instant_starts_terminate(sets: dict[str, Any]) -> None:
    """At the bounds, with cold starts of zero length, time still moves: the run ends, quickly."""
    zero = {"image_size": 0, "container_start": 0, "handler_init": 0, "flashboot_resume": 0}
    _dynamics_terminate({**sets, "cold_start": zero, "horizon": 1800})
