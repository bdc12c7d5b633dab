"""The autoscaler's ticks sleep while none could act: the tables are byte-identical to ticking every interval.

``EndpointCore`` lets its periodic ticks sleep after a quiet tick until the autoscaler's ``wake``
(or a queued job's TTL) says one could act or purge, waking sooner on a queued job, fewer workers
starting or alive, a requeue or a setting change; the simulator's driver then sets each sleeping
tick without calling the core (``SimDriver._on_tick``). Hypothesis draws scalers, intervals,
delays, events, faults, tenants, flagged jobs and start times that land on the ticks' grid
(constant phases: ties between a tick and another event at the same instant), and checks that
the jobs, worker intervals, actions and counters are the same byte for byte with every tick a
full one, with the ticks asleep in the driver, and asleep in the core alone (each tick calls the
core, which only sets the next: what the live driver gets).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings, strategies as st

import simserve
from simserve.endpoint import Effect, SetTimer
from simserve.records import Recorder, stable_order
from simserve.sim.driver import SimDriver
from tests.properties.test_dynamics_properties import dynamic_scenarios


@st.composite
def tick_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """``dynamic_scenarios`` with the knobs that decide when a tick could act turned too."""
    raw = draw(dynamic_scenarios())
    ep = raw["endpoint"]
    ep["scaler_interval"] = draw(st.sampled_from([0.5, 1.0, 2.0, 0.3]))
    kind = draw(st.sampled_from(["queue_delay", "queue_delay", "request_count", "per_request"]))
    if kind == "queue_delay":
        ep["scaler"] = {"type": "queue_delay", "value": draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, 4.0, 30.0]))}
    elif kind == "request_count":
        ep["scaler"] = {"type": "request_count", "value": draw(st.integers(1, 4))}
    else:
        ep["scaler"] = {"type": "per_request"}
    ep["job_ttl"] = draw(st.sampled_from([ep["job_ttl"], 5.0, 12.0, 40.0]))
    cs = raw["cold_start"]
    if draw(st.booleans()):  # whole-second phases: a start by a tick is ready on the grid, and so on
        cs["image_size"] = 0
        cs["container_start"] = float(draw(st.integers(0, 3)))
        cs["handler_init"] = float(draw(st.integers(0, 3)))
        cs["flashboot_resume"] = float(draw(st.integers(0, 2)))
        ep["idle_timeout"] = float(draw(st.integers(1, 10)))
    wl = raw["workload"]
    wl["arrivals"]["rate"] = draw(st.sampled_from([wl["arrivals"]["rate"], 0.02, 3.0]))
    if draw(st.booleans()):
        wl["service"] = {"dist": "constant", "value": float(draw(st.integers(1, 6)))}
    if kind == "queue_delay" and draw(st.booleans()):
        raw["events"] = [
            *raw["events"],
            {"at": draw(st.floats(0, raw["horizon"])), "set": {"endpoint.scaler.value": 1}},
        ]
    return raw


def _by_worker(t: np.ndarray) -> np.ndarray:
    """The interval rows in the tables' order: by worker, each worker's in the order written (time order).
    How rows of different workers interleave in the buffer is not part of any output."""
    return t[stable_order(t[:, 0].astype(np.int64))]


def _tables(rec: Recorder) -> tuple[Any, ...]:
    return (
        bytes(np.asarray(rec.start_s, dtype=float).tobytes()),
        bytes(np.asarray(rec.end_s, dtype=float).tobytes()),
        bytes(rec.status),
        tuple(rec.worker),
        bytes(rec.cold),
        _by_worker(rec.interval_table()).tobytes(),
        tuple(rec.actions),
        tuple(sorted(rec.notes.items())),
    )


class _CoreTicks(SimDriver):
    """Every tick goes to the core (no shortcut in the kernel), as in the live driver."""

    def _other(self, e: Effect, now: float) -> None:
        if e.__class__ is SetTimer:
            self.env.call_at(e.at_s, self._on_timer, e)  # type: ignore[union-attr]
        else:
            super()._other(e, now)


def _sim(raw: dict[str, Any], sleep: bool, driver: type[SimDriver] = SimDriver) -> tuple[tuple[Any, ...], int]:
    sc = simserve.load_scenario(raw)
    d = driver(sc, sc.seed)
    d.core.sleep_ticks = sleep
    full = 0
    on_tick = d.core._on_tick

    def counted() -> None:
        nonlocal full
        full += d.core.now >= d.core.tick_wake
        on_tick()

    d.core._on_tick = counted  # type: ignore[method-assign]
    return _tables(d.run()), full


# 6x the profile's examples (tests/conftest.py): 240 in the test command (~20 s loaded; 600 took 55 s of CI's
# 8 minutes), 2,400 with HYPOTHESIS_PROFILE=thorough when the core's tick rule changes
@settings(max_examples=6 * settings().max_examples, deadline=None)
@given(tick_scenarios())
def test_sleeping_ticks_give_the_tables_of_every_tick(raw: dict[str, Any]) -> None:
    every, n_every = _sim(raw, sleep=False)
    asleep, n_asleep = _sim(raw, sleep=True)
    assert asleep == every
    assert n_asleep <= n_every
    assert _sim(raw, sleep=True, driver=_CoreTicks)[0] == every


def test_a_quiet_endpoint_sleeps_through_its_ticks() -> None:
    """One job an hour on an active worker: no tick can act, so almost none runs in full."""
    raw = {
        "name": "quiet",
        "horizon": 36_000,
        "endpoint": {"gpu": "A4000", "active_workers": 1, "max_workers": 2, "scaler": {"type": "queue_delay"}},
        "cold_start": {"image_size": 0, "container_start": 1, "handler_init": 1},
        "workload": {"arrivals": {"type": "poisson", "rate": 1 / 3600}, "service": {"dist": "constant", "value": 2}},
    }
    every, n_every = _sim(raw, sleep=False)
    asleep, n_asleep = _sim(raw, sleep=True)
    assert asleep == every
    assert n_every >= 35_000
    assert n_asleep < 100
