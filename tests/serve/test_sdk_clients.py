"""The ``runpod`` SDK's clients, unchanged, against ``simserve serve`` on 127.0.0.1: every call an
application makes (sync ``Endpoint`` and ``AsyncioEndpoint``), answered in the platform's shapes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.serve.conftest import start_server

runpod = pytest.importorskip("runpod")

pytestmark = pytest.mark.live


@pytest.fixture
def endpoint(server: Any) -> Any:
    runpod.api_key = server.key
    runpod.endpoint_url_base = server.base
    return runpod.Endpoint("local")


def _wait_status(job: Any, want: set[str], timeout_s: float = 20.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = job._fetch_job()["status"]  # the SDK caches a final status; read it fresh
        if status in want:
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {job.job_id} not in {want} after {timeout_s} s")


def test_run_sync_returns_the_handlers_output(endpoint: Any):
    out = endpoint.run_sync({"input": {"prompt": "hello"}}, timeout=30)
    assert out["echo"] == {"prompt": "hello"}
    assert out["id"].startswith("sync-")  # the handler sees the platform's job id


def test_run_then_status_and_output(endpoint: Any):
    job = endpoint.run({"prompt": "later"})
    assert job.job_id
    out = job.output(timeout=20)
    assert out["echo"] == {"prompt": "later"}
    assert out["id"] == job.job_id  # the handler sees the platform's job id
    assert job.status() == "COMPLETED"
    raw = job.rp_client.get(f"local/status/{job.job_id}")
    assert raw["delayTime"] >= 0 and raw["executionTime"] >= 0 and raw["workerId"]


def test_stream_yields_a_generators_chunks(endpoint: Any):
    job = endpoint.run({"stream": 4, "chunk_sleep": 0.3})
    chunks = list(job.stream())
    assert chunks == [{"chunk": i} for i in range(4)]
    assert job.status() == "COMPLETED"


def test_cancel_a_running_job(endpoint: Any):
    job = endpoint.run({"sleep": 30})
    _wait_status(job, {"IN_PROGRESS"})
    answer = job.cancel()
    assert answer["status"] == "CANCELLED"
    assert _wait_status(job, {"CANCELLED"}) == "CANCELLED"
    # the endpoint goes on: its worker restarts, later jobs complete
    assert endpoint.run_sync({"after": "cancel"}, timeout=30)["echo"] == {"after": "cancel"}


def test_health_has_the_platforms_shape(endpoint: Any):
    endpoint.run_sync({"before": "health"}, timeout=30)  # one completed job whichever tests ran before on this server
    h = endpoint.health()
    assert set(h["jobs"]) == {"completed", "failed", "inProgress", "inQueue", "retried"}
    assert set(h["workers"]) == {"idle", "initializing", "ready", "running", "throttled", "unhealthy"}
    assert h["jobs"]["completed"] >= 1
    assert sum(h["workers"].values()) >= 1


def test_purge_queue_cancels_waiting_jobs(endpoint: Any):
    jobs = [endpoint.run({"sleep": 1.5, "k": k}) for k in range(8)]
    answer = endpoint.purge_queue()
    assert answer["status"] == "completed" and answer["removed"] >= 1
    statuses = [j._fetch_job()["status"] for j in jobs]
    assert statuses.count("CANCELLED") == answer["removed"]


def test_asyncio_endpoint(server: Any):
    from runpod import AsyncioEndpoint, AsyncioJob  # noqa: F401 - the SDK's asyncio client
    from runpod.http_client import ClientSession

    runpod.api_key = server.key
    runpod.endpoint_url_base = server.base

    async def main() -> None:
        async with ClientSession() as session:
            ep = AsyncioEndpoint("local", session)
            job = await ep.run({"prompt": "async"})
            out = await job.output(timeout=20)
            assert out["echo"] == {"prompt": "async"}
            assert await job.status() == "COMPLETED"
            streamed = await ep.run({"stream": 3, "chunk_sleep": 0.2})
            assert [c async for c in streamed.stream()] == [{"chunk": i} for i in range(3)]
            slow = await ep.run({"sleep": 30})
            cancelled = await slow.cancel()
            assert cancelled["status"] == "CANCELLED"
            health = await ep.health()
            assert health["jobs"]["completed"] >= 2
            purged = await ep.purge_queue()
            assert purged["status"] == "completed"

    asyncio.run(asyncio.wait_for(main(), 60))


def test_the_example_application_runs_unchanged(tmp_path: Path):
    """examples/clients/my_app.py, pointed here by its two environment variables only."""
    app = Path(__file__).resolve().parents[2] / "examples" / "clients" / "my_app.py"
    srv = start_server(tmp_path / "run")
    try:
        env = {**os.environ, "RUNPOD_ENDPOINT_BASE_URL": srv.base, "RUNPOD_API_KEY": srv.key, "JOBS": "5"}
        # about 10 s idle (the SDK polls each job once a second); 240 s holds under load
        cmd = [sys.executable, str(app)]
        p = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=240)
    finally:
        srv.stop()
    assert p.returncode == 0, p.stderr[-2000:]
    out = p.stdout
    assert "low priority -> {'echo': {'prompt': 'thumbnail'}" in out
    assert "cancel -> {" in out and "'status': 'completed'" in out.split("purge ->")[1]
