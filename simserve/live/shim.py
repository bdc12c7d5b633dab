"""The worker shim: boots a user's handler file inside a worker process (stdlib only).

Run by file path (no ``simserve`` import, so boot stays fast): ``python shim.py HANDLER.py``
(native protocol) or ``python shim.py --runpod HANDLER.py`` (the file runs unmodified as
``__main__``; its SDK talks to the executor's broker). Both first do the real model load
(``SIMSERVE_MODEL_PATH`` read at ``SIMSERVE_MODEL_BPS`` bytes/s, onto the GPU when torch and a
GPU exist) and mark phases with the worker's own ``time.monotonic()``. Native protocol (newline-delimited JSON): the
executor writes ``{"id", "input"}`` lines to stdin; the shim answers on its *original*
stdout with ``\\x1e``-prefixed events: ``hello``, ``phase`` (model_load, handler_init),
``ready``, ``result`` ``{"id", "output" | "error", "t0", "t1", "refresh"?}`` (a returned dict is read
as the Runpod SDK reads it: its ``error`` fails the job, a string as is and anything else as JSON, and its
``refresh_worker: True`` asks for the worker's refresh; a job line's other fields, ``s3Config``, reach
the handler's job as they came; a result over
``SIMSERVE_MAX_RESULT_BYTES`` of JSON, 64 MiB by default, is sent as an error instead: the job
fails at once, it never waits out its execution timeout). The user's prints go to
stderr (the worker log). Sync, async, generator and async-generator handlers are supported;
up to ``SIMSERVE_CONCURRENCY`` jobs run at once. A generator handler's output is the list of
its chunks; the moment it yields the first one is sent at once (``first`` ``{"id", "t"}``: a
streaming LLM's first token), and its result carries when each chunk came (``first``, ``tt``:
microseconds after it, at most ``MAX_TOKEN_TIMES``; ``chunks``: how many); with ``SIMSERVE_STREAM=1``
each chunk is also sent as it comes (``chunk`` ``{"id", "output"}``). EOF on stdin -> exit 0.
``SIMSERVE_MEMORY_BYTES`` (> 0) bounds the worker's memory before anything else runs
(``RLIMIT_DATA``, soft and hard: its private writable memory, so an allocation past the bound
raises ``MemoryError`` in the handler instead of pushing the host into the OOM killer; address
space a GPU driver only reserves is not counted, unlike ``RLIMIT_AS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import runpy
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any, TypeAlias

#: a job's input or output, a chunk, an event's fields: whatever JSON the user's handler takes or gives
#: (arbitrary by design; the same alias as ``simserve.live.runtime.Json``, as the shim imports nothing of simserve)
Json: TypeAlias = Any
#: the user's handler: a function (sync or async, maybe a generator) of the job
Handler: TypeAlias = Callable[..., Json]

MARK = "\x1e"
CHUNK_BYTES = 4 << 20
#: the largest result delivered (JSON bytes); the executor passes its limit in SIMSERVE_MAX_RESULT_BYTES
MAX_RESULT_BYTES = 64 << 20
#: the most chunk times a result carries (simserve.live.runtime.MAX_TOKEN_TIMES); later chunks are counted
MAX_TOKEN_TIMES = 1 << 16
MODEL: Any = None  # the loaded weights (bytes, or a uint8 tensor on the GPU)


def mark(stream: IO[str], event: str, **fields: Json) -> None:
    """Write one protocol event line (``\\x1e`` + JSON) to ``stream`` and flush it."""
    fields.update(ev=event, t=time.monotonic())
    stream.write(MARK + json.dumps(fields) + "\n")
    stream.flush()


def load_model(path: str, bytes_per_s: float) -> tuple[int, str]:
    """Read ``path`` at most at ``bytes_per_s`` (0 = unthrottled); returns (bytes, device)."""
    global MODEL  # noqa: PLW0603 - the loaded weights stay resident for the handler
    t0 = time.monotonic()
    chunks: list[bytes] = []
    total = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            block = f.read(CHUNK_BYTES)
            if not block:
                break
            chunks.append(block)
            total += len(block)
            if bytes_per_s > 0:
                lag = t0 + total / bytes_per_s - time.monotonic()
                if lag > 0:
                    time.sleep(lag)
    data = b"".join(chunks)
    if os.environ.get("CUDA_VISIBLE_DEVICES", "") not in ("", "-1") and data:
        try:
            import torch

            if torch.cuda.is_available():
                MODEL = torch.frombuffer(bytearray(data), dtype=torch.uint8).to("cuda")
                torch.cuda.synchronize()
                return total, "cuda"
        except ImportError:
            pass
    MODEL = data
    return total, "cpu"


def boot_model(stream: IO[str]) -> None:
    """The model_load phase, when the executor asked for one (``SIMSERVE_MODEL_PATH`` set)."""
    path = os.environ.get("SIMSERVE_MODEL_PATH", "")
    if not path:
        return
    mark(stream, "phase", phase="model_load")
    nbytes, device = load_model(path, float(os.environ.get("SIMSERVE_MODEL_BPS", "0") or 0))
    mark(stream, "info", model_bytes=nbytes, device=device)


def _load_handler(path: str) -> Handler:
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    ns = runpy.run_path(path, run_name="simserve_handler")
    fn = ns.get("handler")
    if not callable(fn):
        raise RuntimeError(f"{path}: no callable named 'handler'")
    return fn  # type: ignore[no-any-return]


class _Chunks:
    """What a generator handler yields, and when (``time.monotonic()``): the first chunk is announced at once;
    with ``each`` (``SIMSERVE_STREAM=1``: ``simserve serve``'s ``/stream``) every chunk is sent as it comes."""

    __slots__ = ("items", "times", "announce", "each")

    def __init__(self, announce: Callable[[float], None], each: Callable[[Json], None] | None = None) -> None:
        self.items: list[Json] = []
        self.times: list[float] = []
        self.announce = announce
        self.each = each

    def add(self, chunk: Json) -> None:
        t = time.monotonic()
        if not self.items:
            self.announce(t)
        if self.each is not None:
            self.each(chunk)
        self.items.append(chunk)
        if len(self.times) < MAX_TOKEN_TIMES:
            self.times.append(t)

    def fields(self) -> dict[str, Json]:
        """The result's timing fields: ``first`` and ``tt`` (microseconds after it), ``chunks``."""
        if not self.times:
            return {"chunks": 0}
        first = self.times[0]
        return {"first": first, "tt": [round((t - first) * 1e6) for t in self.times], "chunks": len(self.items)}


def sdk_error(error: Json) -> str:
    """A returned ``{"error": x}``'s job error, as the SDK sends it: a string as is, anything else (a list of
    ``rp_validator`` errors) as JSON (``simserve.live.runtime.result_error``)."""
    if isinstance(error, str):
        return error
    try:
        return json.dumps(error)
    except (TypeError, ValueError):
        return str(error)


def _run_sync(fn: Handler, job: dict[str, Json], chunks: _Chunks) -> Json:
    out = fn(job)
    if inspect.isgenerator(out):
        for chunk in out:
            chunks.add(chunk)
        return chunks.items
    return out


async def _run_one(fn: Handler, job: dict[str, Json], pool: ThreadPoolExecutor, chunks: _Chunks) -> Json:
    if inspect.iscoroutinefunction(fn):
        return await fn(job)
    if inspect.isasyncgenfunction(fn):
        async for chunk in fn(job):
            chunks.add(chunk)
        return chunks.items
    return await asyncio.get_running_loop().run_in_executor(pool, _run_sync, fn, job, chunks)


class _Out:
    """Thread-safe event writer on the protocol stream; a result is at most ``max_result_bytes`` of JSON."""

    def __init__(self, stream: IO[str], max_result_bytes: int = MAX_RESULT_BYTES) -> None:
        self.stream = stream
        self.lock = threading.Lock()
        self.max_result_bytes = max_result_bytes

    def result(self, job_id: str, t0: float, **fields: Json) -> None:
        fields.update(ev="result", id=job_id, t0=t0, t1=time.monotonic())
        try:
            body = json.dumps(fields)  # ASCII only: its length is its size in bytes
        except (TypeError, ValueError) as exc:
            body = self._error(job_id, t0, f"output is not JSON serializable: {exc}")
        if len(body) > self.max_result_bytes:
            size = len(body)
            body = self._error(
                job_id,
                t0,
                f"output is {size} bytes of JSON; a worker delivers at most {self.max_result_bytes} bytes "
                f"({self.max_result_bytes / (1 << 20):g} MiB, simserve live's result limit)",
            )
        with self.lock:  # three writes, no copy of a large result
            self.stream.write(MARK)
            self.stream.write(body)
            self.stream.write("\n")
            self.stream.flush()

    def chunk(self, job_id: str, output: Json) -> None:
        """One chunk a generator handler yielded (sent only when the executor streams chunks)."""
        try:
            body = json.dumps({"ev": "chunk", "id": job_id, "output": output})
        except (TypeError, ValueError):
            return  # not JSON: the result says so
        if len(body) > self.max_result_bytes:
            return
        with self.lock:
            self.stream.write(MARK + body + "\n")
            self.stream.flush()

    def first(self, job_id: str, t: float) -> None:
        """The job's handler yielded its first chunk at ``t`` (any thread)."""
        body = json.dumps({"ev": "first", "id": job_id, "t": t})
        with self.lock:
            self.stream.write(MARK + body + "\n")
            self.stream.flush()

    @staticmethod
    def _error(job_id: str, t0: float, message: str) -> str:
        return json.dumps({"ev": "result", "id": job_id, "t0": t0, "t1": time.monotonic(), "error": message})


async def _serve(fn: Handler, out: _Out, concurrency: int, stream: bool = False) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    pool = ThreadPoolExecutor(max_workers=concurrency)
    sem = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()

    async def job_task(job: dict[str, Json]) -> None:
        async with sem:
            t0 = time.monotonic()
            error = ""
            chunks = _Chunks(lambda t: out.first(job["id"], t), (lambda c: out.chunk(job["id"], c)) if stream else None)
            try:
                output = await _run_one(fn, job, pool, chunks)
            except Exception as exc:  # noqa: BLE001 - the handler's error becomes the job's error
                error = f"{type(exc).__name__}: {exc}"
                with contextlib.suppress(Exception):  # best effort: after a MemoryError even formatting may fail
                    traceback.print_exc()
            if error:  # outside the except block: the handler's frames (and what they hold) are gone
                out.result(job["id"], t0, error=error)
                return
            refresh: dict[str, Json] = {}
            if isinstance(output, dict):  # the SDK's rp_job.run_job: "error" fails the job, "refresh_worker" refreshes
                output = dict(output)
                failed = output.pop("error", None)
                if output.pop("refresh_worker", None):
                    refresh["refresh"] = True
                if failed:
                    out.result(job["id"], t0, error=sdk_error(failed), **refresh)
                    return
            if chunks.items:
                out.result(job["id"], t0, output=output, **chunks.fields())
            else:
                out.result(job["id"], t0, output=output, **refresh)

    while True:
        line = await reader.readline()
        if not line:
            break
        job = json.loads(line)
        task = asyncio.create_task(job_task(job))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    pool.shutdown(wait=False)


def _injected_init_failure() -> None:
    """``faults.init_failure_prob`` drew a failure for this start: exit non-zero at its end."""
    if os.environ.get("SIMSERVE_FAIL_INIT") == "1":
        print("simserve: injected init failure (faults.init_failure_prob)", file=sys.stderr, flush=True)
        os._exit(1)


def limit_memory() -> None:
    """Apply ``SIMSERVE_MEMORY_BYTES`` (0 or unset: no bound) as this process's ``RLIMIT_DATA``."""
    try:
        limit = int(os.environ.get("SIMSERVE_MEMORY_BYTES", "0") or 0)
    except ValueError:
        limit = 0
    if limit <= 0:
        return
    try:
        import resource

        hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    except (ImportError, ValueError, OSError) as exc:  # not POSIX, or not permitted: run unbounded
        print(f"simserve: worker memory bound not applied: {exc}", file=sys.stderr, flush=True)


def runpod_main(path: str) -> None:
    """Boot an unmodified Runpod-SDK handler file; handler_init ends at its first job-take."""
    out = sys.stdout
    limit_memory()
    mark(out, "hello")
    boot_model(out)
    mark(out, "phase", phase="handler_init")
    _injected_init_failure()
    sys.argv = [path]
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    runpy.run_path(path, run_name="__main__")


def main(path: str) -> None:
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the handler's prints land in the worker log, not in the protocol
    sys.stdout = os.fdopen(1, "w", buffering=1)
    limit_memory()
    mark(proto, "hello")
    try:
        boot_model(proto)
        mark(proto, "phase", phase="handler_init")
        fn = _load_handler(path)
    except BaseException as exc:  # noqa: BLE001 - any boot failure is reported, then the worker exits
        traceback.print_exc()
        mark(proto, "fatal", error=f"{type(exc).__name__}: {exc}")
        sys.exit(3)
    _injected_init_failure()
    mark(proto, "ready")
    limit = int(os.environ.get("SIMSERVE_MAX_RESULT_BYTES", "0") or 0) or MAX_RESULT_BYTES
    concurrency = int(os.environ.get("SIMSERVE_CONCURRENCY", "1"))
    asyncio.run(_serve(fn, _Out(proto, limit), concurrency, os.environ.get("SIMSERVE_STREAM") == "1"))


if __name__ == "__main__":
    sys.path.pop(0)  # this directory must not shadow the user's modules
    if sys.argv[1] == "--runpod":
        runpod_main(sys.argv[2])
    else:
        main(sys.argv[1])
