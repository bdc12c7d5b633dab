"""Policy parity: the simulator's driver and the live driver give the policy the same views.

The same scenario (deterministic cold starts, FlashBoot off, no faults) is run through the SimPy
``Engine`` and through the live ``Dispatcher`` driven by a fake clock whose "workers" take
exactly the simulator's cold-start and service times. Every call the drivers make to the
autoscaler — tick, on_arrival, on_idle_timeout — is recorded with its view and the actions
returned; the two traces must be identical.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any

import pytest

import simserve
from simserve.live.dispatch import Dispatcher, Launch, Send, Timer
from simserve.policy import build_autoscaler
from simserve.records import Recorder
from simserve.rng import RandomStreams
from simserve.sim.engine import Engine
from simserve.workload import generate


class Recording:
    """Wraps an autoscaler; logs (call, view, actions)."""

    def __init__(self, inner: Any, log: list) -> None:
        self._inner, self._log = inner, log

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def tick(self, view):
        out = self._inner.tick(view)
        self._log.append(("tick", view, out))
        return out

    def on_arrival(self, view):
        out = self._inner.on_arrival(view)
        self._log.append(("arrival", view, out))
        return out

    def on_idle_timeout(self, view, worker):
        out = self._inner.on_idle_timeout(view, worker)
        self._log.append(("idle", view, worker, out))
        return out


def _scenario(scaler: dict) -> Any:
    return simserve.load_scenario({
        "name": "parity", "seed": 11, "horizon": 400.0,
        "endpoint": {"gpu": ["A100"], "max_workers": 3, "extra_workers": 1, "idle_timeout": 3.0,
                     "flashboot": False, "scaler": scaler, "scaler_interval": 1.0},
        "cold_start": {"image_size": "1GB", "registry_bandwidth": "1GB/s", "container_start": "1.5s",
                       "handler_init": "0.7s", "model": {"placement": "none"}},
        "workload": {"arrivals": {"type": "bursty", "base_rate": 0.1, "burst_rate": 2.0, "mean_burst": 15,
                                  "mean_gap": 40},
                     "service": {"dist": "lognormal", "mean": 1.2, "cv": 0.6}},
    })


def _sim_trace(sc: Any) -> list:
    log: list = []
    eng = Engine(sc, sc.seed)
    eng.scaler = Recording(eng.scaler, log)
    eng.run()
    return log


def _live_trace(sc: Any) -> list:
    """The live Dispatcher on a fake clock with the simulator's deterministic durations."""
    log: list = []
    jobs = generate(sc, RandomStreams(sc.seed))
    ep, cs = sc.endpoint, sc.cold_start
    disp = Dispatcher(sc, Recorder(jobs.arrival_s), Recording(build_autoscaler(ep.scaler), log),
                      [ep.gpu[0]] * (ep.worker_cap + ep.extra_workers))
    heap: list = []
    seq = itertools.count()
    pull_s = cs.image_size / cs.registry_bandwidth
    container_s, handler_s = cs.container_start.value, cs.handler_init.value  # type: ignore[union-attr]

    def at(t: float, fn: Any) -> None:
        heapq.heappush(heap, (t, next(seq), fn))

    def perform(effects: list, now: float) -> None:
        for e in effects:
            if isinstance(e, Launch):
                t = now
                if e.host not in disp.host_cached:
                    t = t + pull_s
                t = t + container_s
                t = t + handler_s
                at(t, lambda t, e=e: perform(disp.ready(e.worker_id, e.epoch, t), t))
            elif isinstance(e, Send):
                at(now + float(jobs.service_s[e.job]),
                   lambda t, e=e: perform(disp.job_done(e.worker_id, e.job, "completed", t), t))
            elif isinstance(e, Timer):
                at(now + (e.at_s - now), lambda t, e=e: perform(disp.idle_check(e.worker_id, t), t))

    perform(disp.start(0.0), 0.0)
    if disp.scaler.uses_ticks:
        k = 1
        while k * ep.scaler_interval < sc.horizon:
            at(k * ep.scaler_interval, lambda t: perform(disp.tick(t), t))
            k += 1
    arr = jobs.arrival_s
    i = 0
    while True:
        next_arr = float(arr[i]) if i < len(arr) else float("inf")
        if heap and heap[0][0] <= next_arr:  # at equal times queued events run before the arrival
            t, _, fn = heapq.heappop(heap)
            if t >= sc.horizon:
                break
            fn(t)
        else:
            if next_arr >= sc.horizon:
                break
            perform(disp.arrive(i, next_arr), next_arr)
            i += 1
    return log


@pytest.mark.parametrize("scaler", [{"type": "queue_delay", "value": 2.0}, {"type": "request_count", "value": 2},
                                    {"type": "per_request"}])
def test_sim_and_live_drivers_feed_the_policy_identically(scaler):
    sc = _scenario(scaler)
    sim, live = _sim_trace(sc), _live_trace(sc)
    assert len(sim) > 20
    assert any(entry[-1] for entry in sim), "the trace should contain actions"
    for k, (a, b) in enumerate(zip(sim, live)):
        assert a == b, f"call {k} differs:\n sim  {a}\n live {b}"
    assert len(sim) == len(live)
