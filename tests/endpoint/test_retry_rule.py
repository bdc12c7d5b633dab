"""Retry eligibility (``jobops.retry_refusal``): one rule, asked by ``JobOps.retry`` and the HTTP API."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import simserve
from simserve.endpoint import EndpointCore, SetTimer, TimerKind, build_hosts
from simserve.endpoint.jobops import retry_refusal
from simserve.records import JobStatus, Recorder
from simserve.rng import RandomStreams


@pytest.mark.parametrize("status", list(JobStatus))
def test_only_failed_or_timed_out_jobs_retry(status: JobStatus) -> None:
    if status in (JobStatus.FAILED, JobStatus.TIMED_OUT):
        assert retry_refusal(status) is None
    else:
        assert retry_refusal(status) == "only FAILED or TIMED_OUT jobs retry"
    assert retry_refusal(int(status)) == retry_refusal(status)  # the records hold plain ints


def open_core() -> Any:
    sc = simserve.load_scenario(
        {
            "name": "retry-rule",
            "horizon": 100.0,
            "endpoint": {"gpu": ["A100"], "max_workers": 1, "scaler": {"type": "queue_delay", "value": 1.0}},
            "workload": {"arrivals": {"type": "poisson", "rate": 0.5}, "service": {"dist": "constant", "value": 1.0}},
        }
    )
    core = EndpointCore(sc, RandomStreams(0), Recorder(np.empty(0)), build_hosts(sc))
    return core, core.open_workload()


def test_retry_refuses_a_waiting_job_and_requeues_a_timed_out_one() -> None:
    core, ops = open_core()
    core.start(0.0)
    j = ops.submit(0.0, ttl_s=2.0)
    assert core.status[j] == JobStatus.IN_QUEUE
    assert ops.retry(j, 1.0) is False  # still waiting: refused, nothing changes
    assert core.status[j] == JobStatus.IN_QUEUE and ops.counts["api_retries"] == 0
    core.out.clear()
    core.on_timer(TimerKind.JOB_TTL, j, 2.0)  # its own TTL runs out while it waits
    assert core.status[j] == JobStatus.TIMED_OUT and core.rec.end_s[j] == 2.0
    assert ops.retry(j, 3.0) is True
    assert core.status[j] == JobStatus.IN_QUEUE
    assert math.isnan(core.rec.end_s[j]) and math.isnan(core.rec.start_s[j]) and core.rec.worker[j] == -1
    assert ops.counts["api_retries"] == 1
    # its TTL, counted from submission, has passed: it expires again as soon as the timer fires
    assert [e for e in core.out if isinstance(e, SetTimer) and e.kind == TimerKind.JOB_TTL] == [
        SetTimer(3.0, TimerKind.JOB_TTL, j)
    ]
    assert core.queue.drain() == [j]
