"""Result retention and rate limits turned off: an ended job's result is kept ``--result-ttl-run`` /
``--result-ttl-sync`` after its end on the server's clock, then its id answers as an unknown one (404,
JSON) on every route; with ``--rate-limits off`` no route answers 429. ``JobBook``'s retention on a
clock the test sets (exact, no wall time)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from simserve.records import JobStatus
from simserve.serve.jobs import JobBook
from tests.serve.conftest import Server, poll_status, request, start_server

TTL_RUN_S, TTL_SYNC_S = 1.0, 0.5


@pytest.fixture(scope="module")
def short_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("retention") / "run",
        "--rate-limits",
        "off",
        "--result-ttl-run",
        f"{TTL_RUN_S}s",
        "--result-ttl-sync",
        f"{TTL_SYNC_S}s",
    )
    yield srv
    srv.stop()


@pytest.mark.live
def test_results_expire_then_the_id_is_unknown(short_server: Server):
    t0 = time.monotonic()
    sync = request(short_server, "POST", "/runsync", {"input": {"s": 1}})
    assert sync.body["status"] == "COMPLETED" and sync.body["output"]["echo"] == {"s": 1}
    t1 = time.monotonic()
    job = request(short_server, "POST", "/run", {"input": {"r": 1}}).body["id"]
    # polled up to 30 s for TTLs of 0.5 s and 1 s: holds on a loaded machine
    gone = poll_status(short_server, sync.body["id"], lambda a: a.status != 200)
    assert time.monotonic() - t0 >= TTL_SYNC_S  # never before its retention (the job ended after t0)
    assert gone.status == 404 and "not found" in gone.body["error"]
    gone = poll_status(short_server, job, lambda a: a.status != 200)
    assert time.monotonic() - t1 >= TTL_RUN_S
    assert gone.status == 404 and "not found" in gone.body["error"]
    for method, path in (("GET", "/stream/"), ("POST", "/cancel/"), ("POST", "/retry/")):
        assert request(short_server, method, path + job).status == 404
    assert request(short_server, "GET", "/health").body["jobs"]["completed"] >= 2  # the tables keep the jobs


@pytest.mark.live
def test_rate_limits_off(short_server: Server):
    assert [request(short_server, "POST", "/purge-queue").status for _ in range(4)] == [200] * 4


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _book() -> tuple[JobBook, Any, _Clock]:
    rec = SimpleNamespace(status=bytearray(), end_s=[], start_s=[], arrival_s=[], worker=[])
    clock = _Clock()
    return JobBook(None, rec, clock, result_ttl_run_s=1800.0, result_ttl_sync_s=60.0), rec, clock


def _submit(book: JobBook, rec: Any, sync: bool) -> str:
    rec.status.append(JobStatus.IN_QUEUE)
    rec.end_s.append(math.nan)
    rec.start_s.append(math.nan)
    rec.arrival_s.append(0.0)
    rec.worker.append(-1)
    return book.add(len(rec.status) - 1, {"x": 1}, None, sync)


def _end(book: JobBook, rec: Any, clock: _Clock, j: int, status: int = JobStatus.COMPLETED, hook: bool = True) -> None:
    rec.status[j] = status
    rec.end_s[j] = clock.t
    if hook:
        book.outcome(j, SimpleNamespace(status="completed", output={"y": j}, error=""))
        book.ended(j)


def test_retention_on_the_servers_clock():
    book, rec, clock = _book()
    run, sync = _submit(book, rec, sync=False), _submit(book, rec, sync=True)
    clock.t = 100.0
    _end(book, rec, clock, 0)
    _end(book, rec, clock, 1)
    clock.t = 100.0 + 59.999
    assert book.find(sync) == 1 and book.answer(1)["output"] == {"y": 1}
    clock.t = 160.0  # 1 min after its end: gone, with its output
    assert book.find(sync) == -1 and 1 not in book.outputs
    clock.t = 100.0 + 1799.9
    assert book.find(run) == 0
    clock.t = 1900.0
    assert book.find(run) == -1 and book.expired == 2 and not book.outputs


def test_retention_of_a_job_that_ended_without_a_hook_and_of_a_retried_one():
    book, rec, clock = _book()
    queued = _submit(book, rec, sync=False)
    failed = _submit(book, rec, sync=False)
    clock.t = 10.0
    _end(book, rec, clock, 0, JobStatus.TIMED_OUT, hook=False)  # its TTL ran out in the queue: no hook
    _end(book, rec, clock, 1, JobStatus.FAILED)
    clock.t = 20.0
    book.retried(1)  # a retry: it is pending again, its first end no longer counts
    rec.status[1] = JobStatus.IN_QUEUE
    clock.t = 1811.0
    assert book.find(queued) == -1  # found by the scan, forgotten 30 min after its end
    assert book.find(failed) == 1
    _end(book, rec, clock, 1)
    clock.t = 1811.0 + 1800.0
    assert book.expire() == 1 and book.find(failed) == -1


def test_progress_is_the_output_while_in_progress():
    book, rec, clock = _book()
    _submit(book, rec, sync=False)
    book.progress_update(0, "step 1/3")  # still queued: not kept
    assert "output" not in book.answer(0)
    rec.status[0] = JobStatus.IN_PROGRESS
    book.progress_update(0, "step 1/3")
    book.progress_update(0, {"pct": 66})
    assert book.answer(0)["status"] == "IN_PROGRESS" and book.answer(0)["output"] == {"pct": 66}
    _end(book, rec, clock, 0)
    assert book.answer(0)["output"] == {"y": 0} and not book.progress
