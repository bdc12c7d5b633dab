"""The local Runpod control plane (``RunpodBroker``) over raw HTTP: result size limit."""

from __future__ import annotations

import asyncio
import json

import pytest

from simserve.live.broker import RunpodBroker
from simserve.live.runtime import MAX_RESULT_BYTES

pytestmark = pytest.mark.timeout(30)


async def _request(port: int, method: str, path: str, body: bytes = b"", length: int | None = None) -> int:
    """Send one request (``length`` overrides Content-Length); returns the status code."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    n = len(body) if length is None else length
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {n}\r\n\r\n".encode() + body)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    writer.close()
    return status


def test_result_over_the_limit_fails_its_job_at_once() -> None:
    async def main() -> None:
        broker = RunpodBroker(long_poll_s=0.2)
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
            done = await asyncio.wait_for(big, 1.0)
            assert done.status == "failed" and f"at most {MAX_RESULT_BYTES} bytes" in done.error
            assert (await small).status == "completed"
        finally:
            await broker.close()

    asyncio.run(main())
