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

The SDK's other posts are told apart as the platform does:

- a ``job-done`` body ``{"status": "IN_PROGRESS", "output": x}`` is ``runpod.serverless.progress_update``
  (``rp_progress.py``), not a result: the job goes on and ``on_progress(job_id, x)`` hears of it (the typed
  hook ``ProgressCallback``; ``simserve serve`` shows it on ``/status`` as ``IN_PROGRESS`` with that output);
- a result's ``stopPod: true`` (``refresh_worker`` in the start config or in the returned dict) is kept on
  its outcome (``JobOutcome.refresh``): the job ends with its status, then its worker is refreshed;
- a result's ``error`` fails the job, the error as the SDK sent it (a string as is, a list or object as JSON,
  e.g. ``rp_validator``'s errors: ``["x is a required input."]``);
- a generator's final body is the SDK's own (with ``return_aggregate_stream: False`` it is
  ``{"output": []}``: nothing is aggregated here);
- a take with ``job_in_progress=0`` tells the worker's whole concurrency (``batch_size`` of a
  ``job-take-batch``, else 1: the SDK asks for all it can run once it runs none, ``rp_scale.get_jobs``):
  ``on_concurrency(worker_id, n)`` hears each change (the executor tells the core,
  ``EndpointCore.set_worker_concurrency``);
- a job handed over is started then (``on_take(job_id, t)``, and ``JobOutcome.started_t``): the SDK's poll
  gap is wait, not execution.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import secrets
import time
from collections import deque
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from simserve.live.runtime import (
    MAX_RESULT_BYTES,
    MAX_TOKEN_TIMES,
    NO_HOOKS,
    HookBook,
    JobHooks,
    JobOutcome,
    Json,
    result_error,
)

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
        self.concurrency = 0  # what the worker last asked for (0: not yet known)
        self.released = False  # being stopped: its polls are answered at once


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
        self._hooks = HookBook()
        #: ``(worker_id, n)``: the worker runs up to ``n`` jobs at once (its ``concurrency_modifier``)
        self.on_concurrency: Callable[[int, int], None] | None = None
        #: ``(job_id, t)``: a worker took the job at ``time.monotonic()`` ``t`` (its start)
        self.on_take: Callable[[str, float], None] | None = None
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

    def release(self, worker_id: int) -> None:
        """Worker ``worker_id`` is being stopped: its open job-take and stop-signal polls, and any later one, are
        answered at once (204 when it has no job queued). The SDK ends its loops only when a poll ends, so
        without this it exits a long poll (2 s) after its SIGTERM."""
        w = self._workers.get(worker_id)
        if w is not None:
            w.released = True
            w.wake.set()
            w.stop_wake.set()

    def concurrency(self, worker_id: int) -> int:
        """The jobs at once worker ``worker_id`` last asked for (0: not yet known)."""
        w = self._workers.get(worker_id)
        return w.concurrency if w is not None else 0

    def submit(
        self,
        worker_id: int,
        job_id: str,
        payload: Json,
        hooks: JobHooks = NO_HOOKS,
    ) -> asyncio.Future[JobOutcome]:
        """Queue job ``job_id`` for the worker; ``hooks.extra``: more fields of the job the handler gets
        (``s3Config``)."""
        fut: asyncio.Future[JobOutcome] = asyncio.get_running_loop().create_future()
        self._results[job_id] = fut
        self._hooks.add(job_id, hooks)
        self._owner[job_id] = worker_id
        w = self._workers[worker_id]
        job: dict[str, Json] = {"id": job_id, "input": payload}
        if hooks.extra:
            job.update(hooks.extra)
        w.queue.append(job)
        w.wake.set()
        return fut

    def _drop(self, job_id: str) -> None:
        self._streams.pop(job_id, None)
        self._stream_bytes.pop(job_id, None)
        self._stream_t.pop(job_id, None)
        self._hooks.forget(job_id)

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
            query = parse_qs(urlsplit(target).query)
            batch = kind == "job-take-batch"
            given = query.get("batch_size", ["1"])[0] if batch else "1"
            size = int(given) if given.isdigit() else 1
            self._asks(int(parts[2]), size, query.get("job_in_progress", ["1"])[0])
            return await self._take(int(parts[2]), batch=batch, size=size)
        if kind == "job-stop" and len(parts) > 2:
            return await self._stop_poll(int(parts[2]))
        if kind in ("job-done", "job-stream") and len(parts) > 3:
            self._result(parts[3], kind == "job-stream", body)
            return 200, {}
        return 204, None  # ping and anything else

    def _asks(self, worker_id: int, size: int, in_progress: str) -> None:
        """A take: with no job in progress the SDK asks for its whole concurrency (``rp_scale.get_jobs``)."""
        w = self._workers.get(worker_id)
        if w is None or in_progress != "0" or size < 1 or size == w.concurrency:
            return
        w.concurrency = size
        if self.on_concurrency is not None:
            self.on_concurrency(worker_id, size)

    async def _nothing(self, w: _Worker | None) -> tuple[int, Json]:
        """A poll with nothing for it: an unknown worker's after a whole long poll; a closing run's or a released
        worker's after 0.05 s (its loops end at once, without spinning)."""
        await asyncio.sleep(self.long_poll_s if w is None and not self._closing else 0.05)
        return 204, None

    async def _take(self, worker_id: int, batch: bool, size: int = 1) -> tuple[int, Json]:
        w = self._workers.get(worker_id)
        if w is None or self._closing or (w.released and not w.queue):
            return await self._nothing(w)
        if not w.first_take.done():
            w.first_take.set_result(time.monotonic())
        deadline = time.monotonic() + self.long_poll_s
        while not w.queue and not self._closing and not w.released:
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
        if batch and len(w.queue) < size:
            await asyncio.sleep(0)  # the core hands several jobs at once, one submit each: take them together
            if not w.queue:  # cancelled meanwhile
                return 204, None
        now = time.monotonic()
        jobs = [w.queue.popleft() for _ in range(min(size if batch else 1, len(w.queue)))]
        for job in jobs:
            self._started[str(job["id"])] = now
            if self.on_take is not None:
                self.on_take(str(job["id"]), now)
        return 200, jobs if batch else jobs[0]

    async def _stop_poll(self, worker_id: int) -> tuple[int, Json]:
        w = self._workers.get(worker_id)
        if w is None or self._closing or w.released:
            return await self._nothing(w)
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
            self._hooks.chunk(job_id, chunk)
            times = self._stream_t.setdefault(job_id, [])
            if not times:
                self._hooks.first(job_id, now)
            if len(times) < MAX_TOKEN_TIMES:
                times.append(now)
            return
        if isinstance(data, dict) and data.get("status") == "IN_PROGRESS":  # progress_update: the job goes on
            if job_id in self._results:
                self._hooks.progress(job_id, data.get("output"))
            return
        fut = self._results.pop(job_id, None)
        self._owner.pop(job_id, None)
        chunks = self._streams.pop(job_id, None)
        times = self._stream_t.pop(job_id, [])
        self._drop(job_id)
        t0 = self._started.pop(job_id, float("nan"))
        if fut is None or fut.done():
            return
        refresh = isinstance(data, dict) and data.get("stopPod") is True
        if isinstance(data, dict) and data.get("error"):
            fut.set_result(JobOutcome("failed", None, result_error(data["error"]), t0, now, refresh=refresh))
            return
        output = data.get("output") if isinstance(data, dict) else data
        n = len(chunks or ())
        fut.set_result(JobOutcome("completed", output, "", t0, now, tuple(times), n, refresh=refresh))
