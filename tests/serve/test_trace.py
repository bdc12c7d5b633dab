"""What ``scenario.trace.yaml`` asks of ``simserve plan``: its horizon and its default plan section."""

from __future__ import annotations

import math

import pytest

from simserve.planspec import PlanSpec
from simserve.serve.trace import MAX_PLANNED_ARRIVALS, PLAN_HORIZON_S, default_plan, plan_horizon_s


def test_plan_horizon_is_an_hour_of_whole_recordings_at_most_the_arrival_cap():
    assert plan_horizon_s(25.0, 44) == PLAN_HORIZON_S  # a short, light recording loops for an hour
    assert plan_horizon_s(2 * PLAN_HORIZON_S, 10) == 2 * PLAN_HORIZON_S  # a long one is kept whole
    heavy = plan_horizon_s(60.0, 30_000)  # 500/s for a minute: 6 recordings fit in the cap
    assert heavy == 6 * 60.0 and 30_000 * heavy / 60.0 <= MAX_PLANNED_ARRIVALS
    assert plan_horizon_s(60.0, 10 * MAX_PLANNED_ARRIVALS) == 60.0  # never less than one recording
    assert plan_horizon_s(0.2, 5) == PLAN_HORIZON_S


def test_default_plan_is_no_worse_than_the_recorded_run():
    plan = default_plan({"latency_s": {"p95": 0.0123}})
    assert plan["slo"] == ["latency_p95<=13ms", "failed<=0.1%"]  # rounded up: the recorded run meets it
    spec = PlanSpec.model_validate(plan)  # a valid plan section
    assert spec.vary and spec.replications == 2
    assert default_plan({"latency_s": {"p95": math.nan}})["slo"] == ["failed<=0.1%"]  # nothing completed
    assert default_plan({})["slo"] == ["failed<=0.1%"]


@pytest.mark.parametrize("p95", [0.0005, 1.0, 123.4567])
def test_default_latency_slo_is_met_by_the_recorded_p95(p95: float):
    from simserve.planspec import parse_slo

    slo = parse_slo(default_plan({"latency_s": {"p95": p95}})["slo"][0])
    assert slo.metric == "latency_p95" and slo.op == "<=" and p95 <= slo.threshold <= p95 + 0.001
