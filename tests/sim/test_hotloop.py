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

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import simserve
from simserve import records
from simserve.endpoint.workers import Worker
from simserve.sim import hotloop
from simserve.sim.driver import SimDriver
from simserve.sim.hotloop import hot_ok
from tests.properties.test_tick_sleep import _by_worker, _tables, tick_scenarios


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
@given(plain_scenarios(), st.sampled_from([1, 5, hotloop.SETTLE_EVERY]))
def test_the_fast_path_gives_the_tables_of_the_core(raw: dict[str, Any], settle_every: int) -> None:
    """... also when the pending flips are written as rows every few arrivals (``SETTLE_EVERY``)."""
    sc = simserve.load_scenario(raw)
    assert hot_ok(SimDriver(sc, sc.seed).core)
    default, hotloop.SETTLE_EVERY = hotloop.SETTLE_EVERY, settle_every
    try:
        assert _run(raw, hot=True) == _run(raw, hot=False)
    finally:
        hotloop.SETTLE_EVERY = default


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


@pytest.mark.parametrize(
    ("path", "horizon"), [("scenarios/month-weekly.yaml", 3 * 3600), ("scenarios/quickstart.yaml", None)]
)
def test_a_streamed_run_hands_over_the_same_blocks_and_interval_chunks(
    path: str, horizon: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streamed through a small ring, with intervals flushed every 64 rows: the fast path loads each block
    at the same point of the run (after the arrival before it, as ``Kernel.run_merged``), so the sink gets
    the same job blocks and the interval sink the same chunks (their sums depend on the chunking), each in
    the order the biller reads it (by worker)."""
    monkeypatch.setattr(records, "IV_FLUSH_ROWS", 64)
    sc = simserve.load_scenario(path, {"horizon": horizon} if horizon else None)

    def streamed(hot: bool) -> list[Any]:
        got: list[Any] = []
        d = SimDriver(sc, 3, sink=lambda first, *cols: got.append((first, *(c.tobytes() for c in cols))), block=256)
        assert d.ring is not None
        d.ring.iv_sink = lambda rows, final: got.append(("iv", _by_worker(rows).tobytes(), final))
        d.hot = hot
        d.run()
        return got

    assert streamed(True) == streamed(False)


def test_a_long_queue_with_expiring_jobs_gives_the_tables_of_the_core() -> None:
    """Overloaded, so the queue's head passes 4096 (its compaction) and jobs outlive their TTL in it: the
    fast path's inlined queue pop hands those cases to ``JobQueue.pop`` and gives the same tables."""
    raw = {
        "name": "long-queue",
        "horizon": 6000,
        "endpoint": {"gpu": "A4000", "active_workers": 2, "max_workers": 2, "job_ttl": 300},
        "workload": {"arrivals": {"type": "poisson", "rate": 3}, "service": {"dist": "exponential", "mean": 1}},
    }
    got = _run(raw, hot=True)
    assert got == _run(raw, hot=False)
    status = got[2]  # the jobs' status codes
    assert status.count(records.JobStatus.TIMED_OUT) > 1000 and status.count(records.JobStatus.COMPLETED) > 2000


@st.composite
def flip_runs(draw: st.DrawFn) -> tuple[int, list[float]]:
    """A worker's phase (busy or warm) when its flips are settled, and its pending flips: when the open row
    began, then each flip's time (ties: flips with no time between them)."""
    steps = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.25]), min_size=0, max_size=80))
    start = draw(st.sampled_from([0.0, 3.0]))
    times = [start]
    for d in steps:
        times.append(times[-1] + d)
    return draw(st.sampled_from([records.BUSY_CODE, records.WARM_CODE])), times


@settings(max_examples=300, deadline=None)
@given(flip_runs(), st.sampled_from([1, 3, 1 << 14]))
def test_flips_become_the_rows_written_at_each_phase_change(run: tuple[int, list[float]], chunk: int) -> None:
    """``Recorder.write_flips`` (the fast path's record of a busy/warm change: one number) writes the rows
    that writing a row at each change writes, as ``EndpointCore.close`` does (none of no length), a row at a
    time and vectorised in chunks (``FLIPS_VECTOR``, ``FLIPS_CHUNK``), reading only the first ``n`` doubles of
    the worker's buffer; the worker then keeps the last time (``Worker.keep_last_flip``), as ``since``."""
    phase_now, times = run
    k = len(times) - 1
    other = records.BUSY_CODE + records.WARM_CODE - phase_now
    want: list[float] = []
    phase, since = (other if k % 2 else phase_now), times[0]  # the phase of the first row, undone back from now
    for t in times[1:]:
        if t > since:
            want += [7, 2, phase, since, t, 4]
            since = t
        phase = other + phase_now - phase
    assert k == 0 or phase == phase_now
    for vector in (10**9, 0):  # a row at a time, then numpy (in chunks of ``chunk`` rows)
        rec = records.Recorder(np.empty(0))
        w = Worker(7, "flex", 0, times[0])
        for t in times[1:]:
            w.add_flip(t)
        assert w.nflips == len(times) and w.since == times[-1]
        assert len(w.flips) >= len(times) and list(w.flips[: len(times)]) == times  # grown as needed, kept whole
        for i in range(w.nflips, len(w.flips)):
            w.flips[i] = -1.0  # what lies past n is never read
        old = records.FLIPS_VECTOR, records.FLIPS_CHUNK
        records.FLIPS_VECTOR, records.FLIPS_CHUNK = vector, chunk
        try:
            rec.write_flips(7, 2, phase_now, 4, w.flips, w.nflips)
        finally:
            records.FLIPS_VECTOR, records.FLIPS_CHUNK = old
        assert rec.iv.tolist() == want
        w.keep_last_flip()
        assert w.nflips == 1 and w.since == times[-1]
