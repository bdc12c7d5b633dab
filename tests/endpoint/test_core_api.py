"""The endpoint core's calls for the worker SDK and the endpoint API (#23): low-priority jobs, a refresh
after a job, a worker's own concurrency. Exact traces of effects and records, driven by hand, no clock.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import simserve
from simserve.endpoint import EndpointCore, SetTimer, StartWorker, StopWorker, TimerKind, build_hosts
from simserve.records import JobStatus, Phase, Recorder
from simserve.rng import RandomStreams

COMPLETED, FAILED = int(JobStatus.COMPLETED), int(JobStatus.FAILED)


def open_core(**endpoint: Any) -> tuple[EndpointCore, Any]:
    """A core with an open workload on one-GPU hosts, no pull (image 0), 2 s container start, 1 s init."""
    ep = {"gpu": ["A100"], "max_workers": 2, "extra_workers": 0, "scaler": {"type": "queue_delay", "value": 4.0}}
    ep.update(endpoint)
    sc = simserve.load_scenario(
        {
            "name": "core-api",
            "horizon": 1000.0,
            "endpoint": ep,
            "cold_start": {
                "image_size": 0,
                "container_start": 2.0,
                "handler_init": 1.0,
                "model": {"placement": "none"},
            },
            "workload": {"arrivals": {"type": "poisson", "rate": 0.5}, "service": 1.0},
        }
    )
    core = EndpointCore(sc, RandomStreams(0), Recorder(np.empty(0)), build_hosts(sc))
    return core, core.open_workload()


def effects(core: EndpointCore) -> list[tuple[Any, ...]]:
    """The effects out since the last call, as comparable tuples (timers: kind and time only)."""
    out: list[tuple[Any, ...]] = []
    for e in core.out:
        if isinstance(e, tuple):
            out.append(("run", e[0], e[1]))
        elif isinstance(e, StartWorker):
            out.append(("start", e.worker_id, e.resume, [p for p, _ in e.phases]))
        elif isinstance(e, StopWorker):
            out.append(("stop", e.worker_id, e.kill))
        elif isinstance(e, SetTimer) and e.kind != TimerKind.INIT_TIMEOUT:
            out.append(("timer", e.kind.name, e.at_s))
    core.out.clear()
    return out


def ready_worker(core: EndpointCore, wid: int, now: float) -> None:
    core.ready(wid, core.workers[wid].epoch, now)


# ---------------------------------------------------------------------------------------- low priority
def test_a_low_priority_job_never_starts_a_worker_and_never_counts_on_a_tick() -> None:
    core, ops = open_core()
    core.start(0.0)
    effects(core)
    j = ops.submit(0.0, low_priority=True)
    assert core.status[j] == JobStatus.IN_QUEUE and effects(core) == []  # no first-request start
    view = core.view()
    assert (view.in_queue, view.queued_over_delay, view.oldest_wait_s) == (0, 0, 0.0)
    core.on_timer(TimerKind.TICK, None, 10.0)  # waited 10 s > 4 s: still no scale-up
    assert [e for e in effects(core) if e[0] == "start"] == [] and core.n_alive == 0
    assert len(core.queue) == 1 and core.queue.scaling_len() == 0


def test_a_low_priority_job_runs_on_a_free_worker_and_waits_for_one_in_arrival_order() -> None:
    core, ops = open_core(active_workers=1)
    core.start(0.0)
    ready_worker(core, 0, 3.0)
    effects(core)
    low = ops.submit(4.0, low_priority=True)  # a free worker: it takes the job at once
    assert effects(core) == [("run", 0, low)] and core.low_running == 1
    assert (core.view().in_progress, core.in_progress) == (0, 1)
    normal = ops.submit(5.0)  # the worker is busy: queued, and counted
    low2 = ops.submit(5.5, low_priority=True)
    assert core.view().in_queue == 1 and len(core.queue) == 2
    core.job_finished(low, 6.0)
    assert core.low_running == 0 and low not in core.low
    assert effects(core) == [("run", 0, normal)]  # arrival order across both kinds
    core.job_finished(normal, 7.0)
    assert effects(core) == [("run", 0, low2)]
    core.job_finished(low2, 8.0)
    assert [core.status[j] for j in (low, normal, low2)] == [COMPLETED] * 3


def test_per_request_starts_no_worker_for_a_low_priority_job_and_a_freed_worker_takes_it() -> None:
    core, ops = open_core(scaler={"type": "per_request"})
    core.start(0.0)
    first = ops.submit(0.0)
    assert [e[0] for e in effects(core)] == ["start"]
    low = ops.submit(1.0, low_priority=True)  # no free worker: it waits, nothing starts
    assert effects(core) == [] and core.n_alive == 1 and core.status[low] == JobStatus.IN_QUEUE
    ready_worker(core, 0, 3.0)
    assert effects(core) == [("run", 0, first)]
    core.job_finished(first, 4.0)
    assert effects(core) == [("run", 0, low)]  # the freed worker takes the waiting low-priority job


def test_request_count_leaves_low_priority_jobs_out_of_its_target() -> None:
    core, ops = open_core(scaler={"type": "request_count", "value": 1}, active_workers=1)
    core.start(0.0)
    ready_worker(core, 0, 3.0)
    effects(core)
    for t in (4.0, 4.1, 4.2):
        ops.submit(t, low_priority=True)
    core.on_timer(TimerKind.TICK, None, 5.0)
    assert [e for e in effects(core) if e[0] == "start"] == [] and core.n_alive == 1
    ops.submit(5.5)  # a normal job queued behind them: the target is ceil(1 / 1) = 1 = the alive worker
    core.on_timer(TimerKind.TICK, None, 6.0)
    assert core.view().in_queue == 1 and core.view().in_progress == 0
    assert [e for e in effects(core) if e[0] == "start"] == []
    ops.submit(6.5)  # two normal jobs: target 2, one worker starts
    core.on_timer(TimerKind.TICK, None, 7.0)
    assert [e for e in effects(core) if e[0] == "start"] == [
        ("start", 1, False, [Phase.CONTAINER_START, Phase.HANDLER_INIT])
    ]


# ---------------------------------------------------------------------------------------- refresh
def test_a_refresh_restarts_the_worker_cold_counts_it_and_the_next_job_pays_the_start() -> None:
    core, ops = open_core(active_workers=1)
    core.start(0.0)
    ready_worker(core, 0, 3.0)
    effects(core)
    a = ops.submit(4.0)
    b = ops.submit(4.5)  # queued behind a
    effects(core)
    core.job_finished(a, 5.0, refresh=True)
    assert core.status[a] == COMPLETED and core.rec.end_s[a] == 5.0  # the job ends as usual
    assert effects(core) == [
        ("stop", 0, True),
        ("start", 0, False, [Phase.CONTAINER_START, Phase.HANDLER_INIT]),  # cold, never a resume
    ]
    assert core.status[b] == JobStatus.IN_QUEUE
    ready_worker(core, 0, 8.0)
    assert effects(core) == [("run", 0, b)] and core.rec.cold[b] == 1
    core.finish(20.0)
    assert core.counters["refreshes"] == 1
    assert core.counters["crashes"] == core.counters["retries"] == core.counters["exec_timeouts"] == 0
    assert core.counters["flashboot_resumes"] == 0 and core.counters["cold_starts"] == 2


def test_a_refresh_waits_for_the_other_jobs_on_the_worker_and_takes_no_new_one() -> None:
    core, ops = open_core(active_workers=1, concurrency=2)
    core.start(0.0)
    ready_worker(core, 0, 3.0)
    a, b = ops.submit(4.0), ops.submit(4.1)
    effects(core)
    core.job_finished(a, 5.0, status=FAILED, refresh=True)  # a failed job may refresh too
    c = ops.submit(5.5)  # the worker drains: c waits
    assert effects(core) == [] and core.status[c] == JobStatus.IN_QUEUE
    core.job_finished(b, 6.0)
    assert core.status[b] == COMPLETED  # b finished, it was not requeued
    assert [e[0] for e in effects(core)] == ["stop", "start"]
    ready_worker(core, 0, 9.0)
    assert effects(core)[0] == ("run", 0, c)
    core.finish(20.0)
    assert core.counters["refreshes"] == 1 and core.counters["retries"] == 0


def test_a_refreshed_worker_does_not_flashboot_and_a_stale_refresh_is_ignored() -> None:
    core, ops = open_core(active_workers=1)
    core.start(0.0)
    ready_worker(core, 0, 3.0)
    a = ops.submit(4.0)
    effects(core)
    core.job_finished(a, 5.0, refresh=True)
    core.job_finished(a, 5.5, refresh=True)  # a second report of the same end: nothing
    assert [e[0] for e in effects(core)] == ["stop", "start"]
    core.finish(20.0)
    assert core.counters["refreshes"] == 1


# ---------------------------------------------------------------------------------------- concurrency
def test_more_concurrency_dispatches_queued_jobs_and_less_stops_new_ones_until_below() -> None:
    core, ops = open_core(active_workers=1)
    core.start(0.0)
    ready_worker(core, 0, 3.0)
    effects(core)
    jobs = [ops.submit(4.0 + k / 10) for k in range(4)]
    assert effects(core)[0] == ("run", 0, jobs[0])
    w = core.workers[0]
    core.set_worker_concurrency(0, w.epoch, 3, 5.0)
    assert effects(core) == [("run", 0, jobs[1]), ("run", 0, jobs[2])]
    core.set_worker_concurrency(0, w.epoch, 3, 5.1)  # the same n again: nothing
    core.set_worker_concurrency(0, w.epoch - 1, 5, 5.1)  # a stale epoch: nothing
    assert effects(core) == [] and w.concurrency == 3
    core.set_worker_concurrency(0, w.epoch, 1, 6.0)  # down to 1 with 3 running
    core.set_worker_concurrency(0, w.epoch, 2, 6.1)  # up to 2, still 3 running: nothing new
    core.job_finished(jobs[0], 7.0)
    assert effects(core) == []  # 2 running: at its concurrency, takes nothing
    core.set_worker_concurrency(0, w.epoch, 1, 7.1)
    core.job_finished(jobs[1], 7.5)
    assert effects(core) == []  # 1 still running: at its concurrency, takes nothing
    core.job_finished(jobs[2], 8.0)
    assert effects(core) == [("run", 0, jobs[3])]
    assert core.view().n_free == 0
    core.job_finished(jobs[3], 9.0)
    assert core.view().n_free == 1 and core.status[jobs[3]] == COMPLETED


def test_a_worker_concurrency_lasts_until_its_next_start_and_applies_at_ready() -> None:
    core, ops = open_core(active_workers=1)
    core.start(0.0)
    w = core.workers[0]
    core.set_worker_concurrency(0, w.epoch, 2, 1.0)  # said during the start: taken at ready
    jobs = [ops.submit(1.5), ops.submit(1.6)]
    effects(core)
    ready_worker(core, 0, 3.0)
    assert effects(core) == [("run", 0, jobs[0]), ("run", 0, jobs[1])]
    core.job_finished(jobs[0], 4.0, refresh=True)
    core.job_finished(jobs[1], 4.5)
    assert w.concurrency == core.concurrency == 1 and not w.concurrency_set  # a fresh process


def test_an_endpoint_concurrency_lowered_by_a_set_drains_workers_that_did_not_say_otherwise() -> None:
    core, ops = open_core(active_workers=1, concurrency=2)
    core.start(0.0)
    ready_worker(core, 0, 3.0)
    effects(core)
    a, b, c = ops.submit(4.0), ops.submit(4.1), ops.submit(4.2)
    assert effects(core) == [("run", 0, a), ("run", 0, b)]
    ep = core.sc.endpoint.model_copy(update={"concurrency": 1})
    core.settings(core.sc.model_copy(update={"endpoint": ep}))  # what a `set` event does
    core.job_finished(a, 5.0)
    assert effects(core) == []  # b still runs: at the new concurrency
    core.job_finished(b, 6.0)
    assert effects(core) == [("run", 0, c)]
