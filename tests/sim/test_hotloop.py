"""The simulator's per-job fast path (``simserve.sim.hotloop``) gives the tables of the core's own methods.

``run_hot`` inlines ``EndpointCore.arrive``'s warm path, ``begin_job`` and ``job_finished`` for the
runs whose per-job rules are the plain ones (``hot_ok``), and leaves every other event to the core.
Hypothesis draws such runs (scalers, concurrency, faults with retries, tenants, TTLs and execution
timeouts that cut jobs, whole-second times that tie events) and checks that jobs, worker
intervals, actions and counters are the same byte for byte with the fast path and without it;
and that runs it does not apply to (events, drawn job flags) take the core's path.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings, strategies as st

import simserve
from simserve.sim.driver import SimDriver
from simserve.sim.hotloop import hot_ok
from tests.properties.test_tick_sleep import _tables, tick_scenarios


def _run(raw: dict[str, Any], hot: bool) -> tuple[Any, ...]:
    sc = simserve.load_scenario(raw)
    d = SimDriver(sc, sc.seed)
    d.hot = hot
    return _tables(d.run())


@st.composite
def plain_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    raw = draw(tick_scenarios())
    raw["events"] = []
    raw["workload"]["low_priority_share"] = 0.0
    raw["workload"]["refresh_share"] = 0.0
    return raw


@settings(max_examples=150, deadline=None)
@given(plain_scenarios())
def test_the_fast_path_gives_the_tables_of_the_core(raw: dict[str, Any]) -> None:
    sc = simserve.load_scenario(raw)
    assert hot_ok(SimDriver(sc, sc.seed).core)
    assert _run(raw, hot=True) == _run(raw, hot=False)


def test_runs_with_other_per_job_rules_take_the_cores_path() -> None:
    base = {
        "name": "h",
        "horizon": 60,
        "endpoint": {"gpu": "A4000"},
        "workload": {"arrivals": {"type": "poisson", "rate": 1}, "service": {"dist": "constant", "value": 1}},
    }
    assert hot_ok(SimDriver(simserve.load_scenario(base), 0).core)
    flags = {**base, "workload": {**base["workload"], "low_priority_share": 0.5}}  # type: ignore[dict-item]
    events = {**base, "events": [{"at": 10, "set": {"endpoint.max_workers": 2}}]}
    for raw in (flags, events):
        assert not hot_ok(SimDriver(simserve.load_scenario(raw), 0).core)
