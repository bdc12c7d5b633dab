"""Each autoscaler's decisions on small hand-built views (``simserve.policy.autoscale``), exactly."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, strategies as st

import simserve
from simserve.policy import (
    EndpointView,
    PerRequest,
    QueueDelay,
    Reject,
    RequestCount,
    ScaleDown,
    StartWorkers,
    Wake,
    WorkerView,
    build_autoscaler,
)

VIEW = EndpointView(
    now_s=100.0,
    in_queue=0,
    in_progress=0,
    queued_over_delay=0,
    oldest_wait_s=0.0,
    n_starting=0,
    n_ready=0,
    n_free=0,
    n_alive=0,
    n_scaled_down=0,
    active_workers=0,
    cap=5,
)


def view(**kw: object) -> EndpointView:
    return replace(VIEW, **kw)  # type: ignore[arg-type]


def worker(kind: str = "flex", state: str = "running", jobs: int = 0, wid: int = 7) -> WorkerView:
    return WorkerView(wid, kind, state, jobs, created_seq=wid, idle_since_s=90.0, host=0)


# ------------------------------------------------------------------ queue_delay
def test_queue_delay_adds_a_worker_per_request_over_the_delay_less_those_starting() -> None:
    s = QueueDelay(4.0)
    assert s.delay_s == 4.0
    assert s.tick(view(queued_over_delay=3, n_starting=1, n_alive=1)) == [StartWorkers(2, "queue_delay")]
    assert s.tick(view(queued_over_delay=3, n_starting=3, n_alive=3)) == []
    assert s.tick(view(queued_over_delay=0)) == []


def test_queue_delay_stays_under_max_workers() -> None:
    s = QueueDelay(4.0)
    assert s.tick(view(queued_over_delay=10, n_alive=3)) == [StartWorkers(2, "queue_delay")]
    assert s.tick(view(queued_over_delay=10, n_alive=5)) == []
    assert s.tick(view(queued_over_delay=10, n_alive=7)) == []  # over the cap after a `set`: nothing


def test_queue_delay_wakes_once_one_more_queued_job_than_starting_workers_has_waited_the_delay() -> None:
    s = QueueDelay(4.0)
    assert s.wake(view(n_starting=2, n_alive=3)) == Wake(3, 4.0)
    assert s.wake(view(n_alive=5)) == Wake(-1)  # no room under the cap: no tick can act
    assert RequestCount(2).wake(view()) == Wake(0)  # reads the job counts: every tick may act
    assert PerRequest().wake(view()) == Wake(-1)


@given(st.integers(0, 5), st.integers(0, 7), st.integers(0, 12), st.integers(0, 5))
def test_no_queue_delay_tick_acts_before_its_wake(starting: int, alive: int, over: int, more: int) -> None:
    """Over every view a tick could see while nothing but the queue's ageing changes (and more workers
    start): it acts only with at least ``wake.queued`` jobs over the delay."""
    s = QueueDelay(4.0)
    wake = s.wake(view(n_starting=starting, n_alive=max(alive, starting)))
    later = view(n_starting=starting + more, n_alive=max(alive, starting) + more, queued_over_delay=over)
    if s.tick(later):
        assert wake.queued > 0 and over >= wake.queued


def test_a_first_request_starts_a_worker_when_none_is_alive() -> None:
    for s in (QueueDelay(4.0), RequestCount(4)):
        assert s.on_arrival(view(n_alive=0)) == [StartWorkers(1, "first_request")]
        assert s.on_arrival(view(n_alive=1)) == []
        assert s.on_arrival(view(n_alive=0, cap=0)) == []


# ------------------------------------------------------------------ request_count
@pytest.mark.parametrize(
    ("in_queue", "in_progress", "active", "cap", "target"),
    [(0, 0, 0, 5, 0), (1, 0, 0, 5, 1), (4, 0, 0, 5, 1), (5, 4, 0, 5, 3), (0, 0, 2, 5, 2), (40, 0, 0, 5, 5)],
)
def test_request_count_target(in_queue: int, in_progress: int, active: int, cap: int, target: int) -> None:
    assert (
        RequestCount(4).target(view(in_queue=in_queue, in_progress=in_progress, active_workers=active, cap=cap))
        == target
    )


def test_request_count_scales_up_to_the_target_and_down_oldest_idle_flex_first() -> None:
    s = RequestCount(4)
    assert s.tick(view(in_queue=9, n_alive=1)) == [StartWorkers(2, "request_count")]
    assert s.tick(view(in_queue=4, n_alive=1)) == []
    assert s.tick(view(in_progress=4, n_alive=3, idle_flex_ids=(2, 5))) == [
        ScaleDown(2, "request_count"),
        ScaleDown(5, "request_count"),
    ]
    assert s.tick(view(in_progress=4, n_alive=4, idle_flex_ids=(2, 5))) == [
        ScaleDown(2, "request_count"),
        ScaleDown(5, "request_count"),
    ]  # surplus 3, but only two are idle flex workers
    assert s.tick(view(in_progress=8, n_alive=3, idle_flex_ids=(2, 5))) == [ScaleDown(2, "request_count")]


# ------------------------------------------------------------------ per_request
def test_per_request_starts_a_worker_per_request_or_rejects_at_the_cap() -> None:
    s = PerRequest()
    assert (s.queues, s.uses_ticks) == (False, False)
    assert s.on_arrival(view(n_alive=4)) == [StartWorkers(1, "per_request")]
    assert s.on_arrival(view(n_alive=5)) == [Reject("max_workers")]
    assert s.tick(view(queued_over_delay=9)) == []


# ------------------------------------------------------------------ the idle timeout
def test_on_idle_timeout_scales_down_a_job_free_running_flex_worker_only() -> None:
    for s in (QueueDelay(4.0), RequestCount(4), PerRequest()):
        assert s.on_idle_timeout(VIEW, worker()) == [ScaleDown(7, "idle_timeout")]
        assert s.on_idle_timeout(VIEW, worker(kind="active")) == []
        assert s.on_idle_timeout(VIEW, worker(jobs=1)) == []
        assert s.on_idle_timeout(VIEW, worker(state="outdated")) == []


def test_idle_timeout_applies_to_flex_workers_of_scalers_that_use_it() -> None:
    assert [QueueDelay(1.0).idle_timeout_applies(k) for k in ("flex", "active")] == [True, False]
    assert [PerRequest().idle_timeout_applies(k) for k in ("flex", "active")] == [True, False]
    assert [RequestCount(4).idle_timeout_applies(k) for k in ("flex", "active")] == [False, False]


def test_idle_deadline_s() -> None:
    assert QueueDelay(1.0).idle_deadline_s("flex", 10.0, 5.0) == 15.0
    assert PerRequest().idle_deadline_s("flex", 0.25, 60.0) == 60.25
    assert QueueDelay(1.0).idle_deadline_s("active", 10.0, 5.0) == math.inf
    assert RequestCount(4).idle_deadline_s("flex", 10.0, 5.0) == math.inf


@given(since=st.floats(0, 1e9), timeout=st.floats(0, 1e6))
def test_idle_deadline_is_since_plus_timeout_exactly_when_the_timeout_applies(since: float, timeout: float) -> None:
    for s in (QueueDelay(1.0), RequestCount(2), PerRequest()):
        for kind in ("flex", "active"):
            expect = since + timeout if s.idle_timeout_applies(kind) else math.inf
            assert s.idle_deadline_s(kind, since, timeout) == expect


# ------------------------------------------------------------------ the registry
@pytest.mark.parametrize(
    ("scaler", "cls", "attrs"),
    [
        ({"type": "queue_delay", "value": 3}, QueueDelay, {"delay_s": 3.0, "queues": True}),
        ({"type": "request_count", "value": 6}, RequestCount, {"per_worker": 6, "delay_s": math.inf}),
        ({"type": "per_request"}, PerRequest, {"queues": False}),
    ],
)
def test_build_autoscaler_from_the_scenario(scaler: dict[str, object], cls: type, attrs: dict[str, object]) -> None:
    sc = simserve.load_scenario("scenarios/quickstart.yaml", overrides={"endpoint.scaler": scaler})
    s = build_autoscaler(sc.endpoint.scaler)
    assert type(s) is cls
    assert s.kind == scaler["type"]
    assert {k: getattr(s, k) for k in attrs} == attrs


def test_build_autoscaler_refuses_an_unknown_config() -> None:
    with pytest.raises(ValueError, match="no autoscaler for object"):
        build_autoscaler(object())  # type: ignore[arg-type]
