"""A local Runpod control plane: the worker SDK's production protocol served on 127.0.0.1.

Owns ``RunpodBroker``: a tiny asyncio HTTP/1.1 server answering every path the SDK calls —
``job-take`` and ``job-take-batch`` (long poll, 204 when nothing came), ``job-stop`` (long
poll for ``{"jobsToStop": [...]}``), ``job-done``/``job-stream`` (results and stream chunks)
and ``ping`` — and ``sdk_env``, the environment that points an unmodified handler file at it.
Jobs are queued per worker (the executor routes; the worker pulls), so policy stays in one place.
Any unknown path gets 204 (a 404 makes the SDK reconnect in a tight loop). As on the platform,
every request must carry the run's API key (``Authorization``, the SDK sends
``RUNPOD_AI_API_KEY``; a key made for each run): another local process gets 401. A result (or the
stream chunks of one job together) over ``MAX_RESULT_BYTES`` fails its job at once (413). A
generator handler's chunks arrive one ``job-stream`` post each (the SDK streams what it yields):
the first is passed on as it comes (``submit``'s ``on_first``: a streaming LLM's first token) and
the outcome carries when each came.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import secrets
import time
from collections import deque
from urllib.parse import urlsplit

from simserve.live.runtime import MAX_RESULT_BYTES, MAX_TOKEN_TIMES, ChunkCallback, FirstCallback, JobOutcome, Json

LONG_POLL_S = 2.0
#: what a job-done body may hold besides the output (a result's limit is ``MAX_RESULT_BYTES``)
RESULT_ENVELOPE_BYTES = 1 << 20


class _Worker:
    def __init__(self) -> None:
        self.queue: deque[dict[str, Json]] = deque()
        self.wake = asyncio.Event()
        self.stops: list[str] = []
        self.stop_wake = asyncio.Event()
        self.first_take: asyncio.Future[float] = asyncio.get_running_loop().create_future()


class RunpodBroker:
    """Fake control plane for SDK workers; start with ``await broker.start()``."""

    def __init__(self, long_poll_s: float = LONG_POLL_S, api_key: str | None = None) -> None:
        self.long_poll_s = long_poll_s
        self.api_key = api_key or secrets.token_urlsafe(24)  # the run's key: requests without it get 401
        self._auth = {self.api_key.encode("latin-1"), b"Bearer " + self.api_key.encode("latin-1")}
        self._workers: dict[int, _Worker] = {}
        self._results: dict[str, asyncio.Future[JobOutcome]] = {}
        self._started: dict[str, float] = {}
        self._streams: dict[str, list[Json]] = {}  # job id -> the chunks it streamed
        self._stream_t: dict[str, list[float]] = {}  # job id -> when each stream chunk came
        self._on_first: dict[str, FirstCallback] = {}
        self._on_chunk: dict[str, ChunkCallback] = {}
        self._stream_bytes: dict[str, int] = {}
        self._owner: dict[str, int] = {}
        self._server: asyncio.AbstractServer | None = None
        self._conns: set[asyncio.StreamWriter] = set()
        self._closing = False
        self.port = 0
        self.requests = 0
        self.refused = 0  # requests without the run's API key

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self._closing = True
        for w in self._workers.values():
            w.wake.set()
            w.stop_wake.set()
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns):
            conn.close()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def sdk_env(self, worker_id: int) -> dict[str, str]:
        """Environment for a Runpod-SDK worker process (production mode, checks skipped)."""
        base = self.url()
        return {
            "RUNPOD_POD_ID": str(worker_id),
            "RUNPOD_WEBHOOK_GET_JOB": f"{base}/v2/job-take/$ID?gpu=local",
            "RUNPOD_WEBHOOK_POST_OUTPUT": f"{base}/v2/job-done/$RUNPOD_POD_ID/$ID?gpu=local",
            "RUNPOD_WEBHOOK_POST_STREAM": f"{base}/v2/job-stream/$RUNPOD_POD_ID/$ID?gpu=local",
            "RUNPOD_WEBHOOK_PING": f"{base}/v2/ping/$RUNPOD_POD_ID?gpu=local",
            "RUNPOD_PING_INTERVAL": "10000",
            "RUNPOD_AI_API_KEY": self.api_key,
            "RUNPOD_ENDPOINT_ID": "simserve-live",
            "RUNPOD_SKIP_AUTO_SYSTEM_CHECKS": "true",
            "RUNPOD_SKIP_GPU_CHECK": "true",
            "RUNPOD_LOG_LEVEL": "INFO",
        }

    # ------------------------------------------------------------------ executor side
    def register(self, worker_id: int) -> None:
        """(Re)register a worker before its process starts; forgets queued jobs of an old life."""
        self._workers[worker_id] = _Worker()

    async def first_take(self, worker_id: int) -> float:
        """Monotonic time of the worker's first job-take request (= ready)."""
        return await self._workers[worker_id].first_take

    def submit(
        self,
        worker_id: int,
        job_id: str,
        payload: Json,
        on_first: FirstCallback | None = None,
        on_chunk: ChunkCallback | None = None,
    ) -> asyncio.Future[JobOutcome]:
        fut: asyncio.Future[JobOutcome] = asyncio.get_running_loop().create_future()
        self._results[job_id] = fut
        if on_first is not None:
            self._on_first[job_id] = on_first
        if on_chunk is not None:
            self._on_chunk[job_id] = on_chunk
        self._owner[job_id] = worker_id
        w = self._workers[worker_id]
        w.queue.append({"id": job_id, "input": payload})
        w.wake.set()
        return fut

    def _drop(self, job_id: str) -> None:
        self._streams.pop(job_id, None)
        self._stream_bytes.pop(job_id, None)
        self._stream_t.pop(job_id, None)
        self._on_first.pop(job_id, None)
        self._on_chunk.pop(job_id, None)

    def cancel(self, job_id: str) -> None:
        """Forget a job (timed out or its worker died) and tell its worker to stop it."""
        self._results.pop(job_id, None)
        self._drop(job_id)
        self._started.pop(job_id, None)
        wid = self._owner.pop(job_id, None)
        w = self._workers.get(wid) if wid is not None else None
        if w is not None:
            w.queue = deque(j for j in w.queue if j["id"] != job_id)
            w.stops.append(job_id)
            w.stop_wake.set()

    # ------------------------------------------------------------------ HTTP
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns.add(writer)
        try:
            while not self._closing:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                length = 0
                auth = b""
                for line in lines[1:]:
                    if line[:15].lower() == "content-length:":
                        length = int(line[15:].strip())
                    elif line[:14].lower() == "authorization:":
                        auth = line[14:].strip().encode("latin-1")
                self.requests += 1
                if not any(hmac.compare_digest(auth, key) for key in self._auth):
                    self.refused += 1
                    writer.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    await writer.drain()
                    return
                if length > MAX_RESULT_BYTES + RESULT_ENVELOPE_BYTES:  # refused unread; the connection closes
                    self._too_large(target, length)
                    writer.write(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    await writer.drain()
                    return
                body = await reader.readexactly(length) if length else b""
                status, payload = await self._route(method, target, body)
                data = b"" if payload is None else json.dumps(payload).encode()
                reason = {200: "OK", 204: "No Content"}.get(status, "OK")
                hdr = f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(data)}\r\n"
                if data:
                    hdr += "Content-Type: application/json\r\n"
                writer.write(hdr.encode() + b"\r\n" + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            self._conns.discard(writer)
            writer.close()

    async def _route(self, method: str, target: str, body: bytes) -> tuple[int, Json]:
        parts = urlsplit(target).path.strip("/").split("/")
        kind = parts[1] if len(parts) > 1 else ""
        if kind in ("job-take", "job-take-batch") and len(parts) > 2:
            return await self._take(int(parts[2]), batch=kind == "job-take-batch")
        if kind == "job-stop" and len(parts) > 2:
            return await self._stop_poll(int(parts[2]))
        if kind in ("job-done", "job-stream") and len(parts) > 3:
            self._result(parts[3], kind == "job-stream", body)
            return 200, {}
        return 204, None  # ping and anything else

    async def _take(self, worker_id: int, batch: bool) -> tuple[int, Json]:
        w = self._workers.get(worker_id)
        if w is None or self._closing:
            await asyncio.sleep(0.05 if self._closing else self.long_poll_s)
            return 204, None
        if not w.first_take.done():
            w.first_take.set_result(time.monotonic())
        deadline = time.monotonic() + self.long_poll_s
        while not w.queue and not self._closing:
            w.wake.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                return 204, None
            try:
                await asyncio.wait_for(w.wake.wait(), left)
            except asyncio.TimeoutError:
                return 204, None
        if not w.queue:
            return 204, None
        job = w.queue.popleft()
        self._started[job["id"]] = time.monotonic()
        return 200, [job] if batch else job

    async def _stop_poll(self, worker_id: int) -> tuple[int, Json]:
        w = self._workers.get(worker_id)
        if w is None or self._closing:
            await asyncio.sleep(0.05 if self._closing else self.long_poll_s)
            return 204, None
        if not w.stops:
            w.stop_wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(w.stop_wake.wait(), self.long_poll_s)
        if not w.stops:
            return 204, None
        ids, w.stops = w.stops, []
        return 200, {"jobsToStop": ids}

    def _too_large(self, target: str, size: int) -> None:
        """A job-done or job-stream body over the limit: the job fails now, with the sizes in its error."""
        parts = urlsplit(target).path.strip("/").split("/")
        if len(parts) > 3 and parts[1] in ("job-done", "job-stream"):
            self._fail(parts[3], f"output is {size} bytes; a worker delivers at most {MAX_RESULT_BYTES} bytes")

    def _fail(self, job_id: str, message: str) -> None:
        fut = self._results.pop(job_id, None)
        self._owner.pop(job_id, None)
        self._drop(job_id)
        t0 = self._started.pop(job_id, float("nan"))
        if fut is not None and not fut.done():
            fut.set_result(JobOutcome("failed", None, message, t0, time.monotonic()))

    def _result(self, job_id: str, stream: bool, body: bytes) -> None:
        now = time.monotonic()
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            data = {"error": "unparseable result body"}
        if stream:
            total = self._stream_bytes.get(job_id, 0) + len(body)
            if total > MAX_RESULT_BYTES:
                self._fail(
                    job_id, f"streamed output is over {total} bytes; a worker delivers at most {MAX_RESULT_BYTES}"
                )
                return
            if job_id not in self._results:
                return  # not a job in progress (cancelled, or not this run's)
            self._stream_bytes[job_id] = total
            chunk = data.get("output") if isinstance(data, dict) else data
            self._streams.setdefault(job_id, []).append(chunk)
            each = self._on_chunk.get(job_id)
            if each is not None:
                each(chunk)
            times = self._stream_t.setdefault(job_id, [])
            if not times:
                cb = self._on_first.pop(job_id, None)
                if cb is not None:
                    cb(now)
            if len(times) < MAX_TOKEN_TIMES:
                times.append(now)
            return
        fut = self._results.pop(job_id, None)
        self._owner.pop(job_id, None)
        chunks = self._streams.pop(job_id, None)
        times = self._stream_t.pop(job_id, [])
        self._drop(job_id)
        t0 = self._started.pop(job_id, float("nan"))
        if fut is None or fut.done():
            return
        if isinstance(data, dict) and data.get("error"):
            fut.set_result(JobOutcome("failed", None, str(data["error"]), t0, now))
            return
        output = data.get("output") if isinstance(data, dict) else data
        if chunks is not None and not output:
            output = chunks
        fut.set_result(JobOutcome("completed", output, "", t0, now, tuple(times), len(chunks or ())))
