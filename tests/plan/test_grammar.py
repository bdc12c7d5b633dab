"""SLO and --vary syntax: units, percent, ranges, and one-line errors."""

from __future__ import annotations

import pytest

from simserve.plan.space import build_dims
from simserve.planspec import PlanError, parse_slo, parse_vary
from simserve.scenario import ScenarioError, load_scenario


@pytest.mark.parametrize(
    "text, metric, op, threshold",
    [
        ("latency_p95<=8s", "latency_p95", "<=", 8.0),
        ("latency_p99 <= 1.5min", "latency_p99", "<=", 90.0),
        ("queue_wait_p95<500ms", "queue_wait_p95", "<", 0.5),
        ("failed<=0.1%", "failed", "<=", 0.001),
        ("cold_start_fraction<=0.02", "cold_start_fraction", "<=", 0.02),
        ("cost_per_month<=$1,500", "cost_per_month", "<=", 1500.0),
        ("gpu_utilization>=50%", "gpu_utilization", ">=", 0.5),
    ],
)
def test_parse_slo(text: str, metric: str, op: str, threshold: float) -> None:
    slo = parse_slo(text)
    assert (slo.metric, slo.op) == (metric, op)
    assert slo.threshold == pytest.approx(threshold)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("latency_p95", "expected NAME<=VALUE"),
        ("latency_p42<=8s", "unknown figure 'latency_p42'"),
        ("latency_p95<=8 parsecs", 'expected a duration like "8s"'),
        ("failed<=lots", 'expected a fraction like "0.001" or "0.1%"'),
    ],
)
def test_bad_slo_is_one_clear_line(text: str, fragment: str) -> None:
    with pytest.raises(PlanError) as err:
        parse_slo(text)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_parse_vary_forms() -> None:
    assert parse_vary("endpoint.active_workers=0..4") == ("endpoint.active_workers", [0, 1, 2, 3, 4])
    assert parse_vary("endpoint.max_workers=3,5,10") == ("endpoint.max_workers", [3, 5, 10])
    assert parse_vary("endpoint.idle_timeout=5s, 30s") == ("endpoint.idle_timeout", ["5s", "30s"])
    assert parse_vary("endpoint.gpu=[[H100, A100], [A100]]") == ("endpoint.gpu", [["H100", "A100"], ["A100"]])


@pytest.mark.parametrize(
    "text",
    [
        "endpoint.max_workers",
        "=3,5",
        "endpoint.max_workers=",
        "endpoint.max_workers=5..3",
        "endpoint.max_workers=3,,5",
        "endpoint.max_workers=3,3",
        "bad key=1",
    ],
)
def test_bad_vary(text: str) -> None:
    with pytest.raises(PlanError) as err:
        parse_vary(text)
    assert str(err.value).startswith("--vary") and "\n" not in str(err.value)


def test_monotone_dims_are_sorted_by_value() -> None:
    dims = build_dims({"endpoint.idle_timeout": ["2min", "5s", "30s"], "endpoint.gpu": ["H100", "A100"]})
    assert dims[0].values == ("5s", "30s", "2min") and dims[0].monotone
    assert dims[1].values == ("H100", "A100") and not dims[1].monotone


def test_plan_section_is_checked_at_load(tiny: dict) -> None:
    tiny["plan"]["slo"] = ["latency_p95<=8 parsecs"]
    with pytest.raises(ScenarioError) as err:
        load_scenario(tiny)
    assert "plan.slo" in str(err.value)
    tiny["plan"]["slo"] = ["latency_p95<=8s"]
    assert load_scenario(tiny).plan.slo == ["latency_p95<=8s"]
