"""The endpoint API as the platform answers it, for handlers written for the Runpod worker SDK (unchanged)
and real clients on 127.0.0.1: ``/run`` answers ``IN_QUEUE``; policy values outside the platform's range
are 400 naming the bound; the documented rate limits answer 429; progress shows on ``/status`` while the
job runs; a generator whose start config turns the aggregate off has no aggregate in its result; the
request's ``s3Config`` is on the handler's job; ``delayTime`` and ``executionTime`` are the core's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simserve.serve.limits import DAY_MS
from tests.serve.conftest import SDK_HANDLER, SDK_STREAM, Server, poll_status, request, start_server

runpod = pytest.importorskip("runpod")

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def sdk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """An endpoint with the platform's defaults (rate limits, policy bounds, result retention)."""
    srv = start_server(tmp_path_factory.mktemp("conform") / "run", handler=SDK_HANDLER)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def stream_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("noagg") / "run", handler=SDK_STREAM)
    yield srv
    srv.stop()


def test_run_answers_in_queue(sdk_server: Server):
    assert request(sdk_server, "POST", "/runsync", {"input": {"warm": 1}}).body["status"] == "COMPLETED"
    ids = []
    for k in range(10):  # a warm worker takes each at once: the answer is still the platform's IN_QUEUE
        ans = request(sdk_server, "POST", "/run", {"input": {"k": k}})
        assert ans.status == 200 and ans.body == {"id": ans.body["id"], "status": "IN_QUEUE"}
        ids.append(ans.body["id"])
    for job_id in ids:
        assert poll_status(sdk_server, job_id, lambda a: a.body["status"] == "COMPLETED").status == 200


@pytest.mark.parametrize(
    ("policy", "says"),
    [
        ({"executionTimeout": 4999}, "'policy.executionTimeout': 4999 ms is under the platform's minimum of 5000 ms"),
        ({"executionTimeout": 7 * DAY_MS + 1}, "over the platform's maximum of 604800000 ms (7 days)"),
        ({"ttl": 9999}, "'policy.ttl': 9999 ms is under the platform's minimum of 10000 ms (10 s)"),
        ({"ttl": 7 * DAY_MS + 1}, "'policy.ttl': 604800001 ms is over the platform's maximum"),
        ({"ttl": 0}, "'policy.ttl': expected a positive number"),
        ({"lowPriority": "yes"}, "'policy.lowPriority': expected true or false"),
    ],
)
def test_policy_out_of_range_is_400_naming_the_bound(sdk_server: Server, policy: dict[str, Any], says: str):
    for route in ("/run", "/runsync"):
        ans = request(sdk_server, "POST", route, {"input": {"x": 1}, "policy": policy})
        assert ans.status == 400 and says in ans.body["error"], ans.body


def test_policy_at_the_bounds_and_a_bad_s3config(sdk_server: Server):
    at_bounds = {"executionTimeout": 5000, "ttl": 10_000}
    ans = request(sdk_server, "POST", "/runsync", {"input": {"x": 2}, "policy": at_bounds})
    assert ans.status == 200 and ans.body["status"] == "COMPLETED"
    ans = request(sdk_server, "POST", "/run", {"input": {"x": 3}, "s3Config": "bucket"})
    assert ans.status == 400 and "s3Config" in ans.body["error"]


def test_purge_queue_over_its_rate_limit_is_429(sdk_server: Server):
    t0 = time.monotonic()
    answers = [request(sdk_server, "POST", "/purge-queue") for _ in range(4)]
    # the platform's limit is 2 per 10 s: four calls in a row take about 20 ms idle, so 10 s holds under load
    assert time.monotonic() - t0 < 10
    assert [a.status for a in answers] == [200, 200, 429, 429]
    refused = answers[2]
    assert refused.body["error"] == "rate limit: /purge-queue takes at most 2 requests per 10 s"
    assert 1 <= int(refused.headers["Retry-After"]) <= 10
    assert request(sdk_server, "GET", "/health").status == 200  # other routes go on


def test_delay_and_execution_are_the_cores(sdk_server: Server):
    t0 = time.monotonic()
    ans = request(sdk_server, "POST", "/runsync", {"input": {"sleep": 1.0}})
    elapsed_ms = (time.monotonic() - t0) * 1000
    assert ans.body["status"] == "COMPLETED"
    # execution covers the handler's 1 s sleep; delay + execution is arrival -> result on the server's clock,
    # inside the client's own round trip (both hold at any load: no upper bound on the server's speed)
    assert ans.body["executionTime"] >= 1000 and ans.body["delayTime"] >= 0
    assert ans.body["delayTime"] + ans.body["executionTime"] <= elapsed_ms + 1


def test_progress_shows_while_in_progress_then_the_result(sdk_server: Server, tmp_path: Path):
    gate = tmp_path / "gate"
    job = request(sdk_server, "POST", "/run", {"input": {"steps": 3, "gate": str(gate)}}).body["id"]
    try:
        seen = poll_status(sdk_server, job, lambda a: a.body["status"] != "IN_QUEUE").body
        assert seen["status"] == "IN_PROGRESS", seen  # the handler waits for the gate: it cannot have ended
        seen = poll_status(sdk_server, job, lambda a: a.body.get("output") is not None).body
        assert seen == {**seen, "status": "IN_PROGRESS", "output": "step 1/3"}
    finally:
        gate.touch()  # the handler goes on whatever the asserts said (its worker is not left waiting)
    done = poll_status(sdk_server, job, lambda a: a.body["status"] != "IN_PROGRESS").body
    assert done["status"] == "COMPLETED" and done["output"]["echo"]["steps"] == 3  # the result, not a step


def test_s3config_is_on_the_handlers_job(sdk_server: Server):
    s3 = {"accessId": "AKIA", "accessSecret": "s3cr3t", "bucketName": "outputs", "endpointUrl": "http://127.0.0.1:9"}
    runpod.api_key = sdk_server.key
    runpod.endpoint_url_base = sdk_server.base
    out = runpod.Endpoint("local").run_sync({"input": {"x": 4}, "s3Config": s3}, timeout=60)
    assert out["s3Config"] == s3
    plain = request(sdk_server, "POST", "/runsync", {"input": {"x": 5}}).body
    assert plain["output"]["s3Config"] is None


def test_aggregate_off_has_no_aggregate_but_streams(stream_server: Server):
    sync = request(stream_server, "POST", "/runsync", {"input": {"stream": 3}}).body
    assert sync["status"] == "COMPLETED" and not sync.get("output"), sync  # the SDK sends {"output": []}
    runpod.api_key = stream_server.key
    runpod.endpoint_url_base = stream_server.base
    job = runpod.Endpoint("local").run({"stream": 4, "chunk_sleep": 0.2})
    assert list(job.stream()) == [{"chunk": i} for i in range(4)]
    final = request(stream_server, "GET", f"/status/{job.job_id}").body
    assert final["status"] == "COMPLETED" and not final.get("output"), final


@pytest.fixture(scope="module")
def low_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """serve-test.yaml: one active worker, up to 3, queue-delay scaler (1 s, checked every 0.5 s)."""
    srv = start_server(tmp_path_factory.mktemp("low") / "run", handler=SDK_HANDLER)
    yield srv
    srv.stop()


def _alive(server: Server) -> int:
    w = request(server, "GET", "/health").body["workers"]
    return int(w["idle"] + w["running"] + w["initializing"])


def _server_now(server: Server) -> float:
    return float(request(server, "GET", "/dashboard").body["now_s"])


def test_low_priority_waits_and_starts_no_worker(low_server: Server, tmp_path: Path):
    assert request(low_server, "POST", "/runsync", {"input": {"warm": 1}}).body["status"] == "COMPLETED"
    # the active worker only: a worker the warm-up's wait started (a slow start under load) scales down after
    # the 5 s idle timeout; 60 s holds under load
    deadline = time.monotonic() + 60
    while _alive(low_server) != 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _alive(low_server) == 1
    gate = tmp_path / "gate"
    busy = request(low_server, "POST", "/run", {"input": {"gate": str(gate)}}).body["id"]
    try:
        poll_status(low_server, busy, lambda a: a.body["status"] == "IN_PROGRESS")
        low = request(low_server, "POST", "/run", {"input": {"low": 1}, "policy": {"lowPriority": True}}).body["id"]
        t0 = _server_now(low_server)
        # a normal job waiting 1 s starts a worker at the next 0.5 s check: 4 s on the server's own clock
        # covers that whatever the load (its timers fire in order, before a later request is answered)
        deadline = time.monotonic() + 60
        while _server_now(low_server) < t0 + 4.0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _server_now(low_server) >= t0 + 4.0
        assert _alive(low_server) == 1
        assert request(low_server, "GET", f"/status/{low}").body["status"] == "IN_QUEUE"
        normal = request(low_server, "POST", "/run", {"input": {"normal": 1}}).body["id"]
        deadline = time.monotonic() + 30  # a start within 1.5 s of the server's clock; 30 s holds under load
        while _alive(low_server) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _alive(low_server) >= 2  # the normal job did start one
    finally:
        gate.touch()
    for job in (busy, low, normal):
        assert poll_status(low_server, job, lambda a: a.body["status"] == "COMPLETED").status == 200
