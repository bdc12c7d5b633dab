"""The local Runpod control plane (``RunpodBroker``) over raw HTTP: the run's API key, the result size limit."""

from __future__ import annotations

import asyncio
import json

import pytest

from simserve.live.broker import RunpodBroker
from simserve.live.runtime import MAX_RESULT_BYTES

pytestmark = pytest.mark.timeout(30)
KEY = "the-runs-key"


async def _request(
    port: int, method: str, path: str, body: bytes = b"", length: int | None = None, key: str | None = KEY
) -> int:
    """Send one request (``length`` overrides Content-Length; ``key`` the Authorization header); returns the
    status code."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    n = len(body) if length is None else length
    auth = "" if key is None else f"Authorization: {key}\r\n"
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: {n}\r\n\r\n".encode() + body)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    writer.close()
    return status


def test_result_over_the_limit_fails_its_job_at_once() -> None:
    async def main() -> None:
        broker = RunpodBroker(long_poll_s=0.2, api_key=KEY)
        await broker.start()
        try:
            broker.register(0)
            small = broker.submit(0, "a", {"n": 1})
            big = broker.submit(0, "b", {"n": 2})
            for _ in range(2):
                assert await _request(broker.port, "GET", "/v2/job-take/0?gpu=local") == 200
            body = json.dumps({"output": {"ok": 1}}).encode()
            assert await _request(broker.port, "POST", "/v2/job-done/0/a?gpu=local", body) == 200
            # the body is never sent: the header alone says it is too large
            assert (
                await _request(broker.port, "POST", "/v2/job-done/0/b?gpu=local", length=MAX_RESULT_BYTES + (2 << 20))
                == 413
            )
            # at once: the 413 already failed it (wall-time bound: 10 s, against milliseconds idle, holds for an
            # in-process future on a loaded 2-core machine; a job waiting for its result would never end)
            done = await asyncio.wait_for(big, 10.0)
            assert done.status == "failed" and f"at most {MAX_RESULT_BYTES} bytes" in done.error
            assert (await small).status == "completed"
        finally:
            await broker.close()

    asyncio.run(main())


def test_requests_without_the_runs_api_key_are_refused() -> None:
    async def main() -> None:
        broker = RunpodBroker(long_poll_s=0.2)
        await broker.start()
        try:
            assert broker.sdk_env(0)["RUNPOD_AI_API_KEY"] == broker.api_key and len(broker.api_key) >= 32
            broker.register(0)
            job = broker.submit(0, "a", {"n": 1})
            take = "/v2/job-take/0?gpu=local"
            assert await _request(broker.port, "GET", take, key=None) == 401
            assert await _request(broker.port, "GET", take, key="simserve-local") == 401
            done = json.dumps({"output": "forged"}).encode()
            assert await _request(broker.port, "POST", "/v2/job-done/0/a?gpu=local", done, key="x") == 401
            assert not job.done() and broker.refused == 3
            assert await _request(broker.port, "GET", take, key=f"Bearer {broker.api_key}") == 200  # taken now
        finally:
            await broker.close()

    asyncio.run(main())
