"""Parent-side worker handles: attach to a launched worker process and speak its protocol.

Owns ``attach_worker`` — used by every runtime once its process (or ``docker run -i``) is
spawned with stdin/stdout pipes and stderr on the log file: it reads the shim's phase markers
(``model_load``, ``handler_init``), waits for ready, and returns a ``WorkerHandle`` for the
spec's protocol: ``NativeWorker`` (jobs as JSON lines over the pipes) or ``RunpodWorker``
(jobs queued on the ``RunpodBroker``; ready = first job-take). A generator handler's first chunk is
passed on as it comes (``run_job``'s ``on_first``), its chunk times with the result. Non-marker stdout lines are
appended to the worker log. A process that exits fails its pending jobs as ``crashed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Protocol

from simserve.live.logs import LogSink
from simserve.live.runtime import (
    MAX_RESULT_BYTES,
    MAX_TOKEN_TIMES,
    NO_HOOKS,
    HookBook,
    JobHooks,
    JobOutcome,
    Json,
    PhaseCallback,
    WorkerSpec,
    WorkerStartError,
    log_tail,
)

MARK = b"\x1e"
#: the longest line read from a worker's stdout: a result up to ``MAX_RESULT_BYTES`` and its envelope
PIPE_LIMIT_BYTES = MAX_RESULT_BYTES + (1 << 20)
#: after a worker's process exits, how long the lines it wrote before may still be read from its pipe
DRAIN_S = 1.0


class ProcessStdin(Protocol):
    """The write side of a worker's stdin: an ``asyncio.StreamWriter`` or a container's attach socket."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class LaunchedProcess(Protocol):
    """A launched worker as ``attach_worker`` sees it: ``process.WorkerProcess`` or ``container.ContainerProcess``."""

    @property
    def pid(self) -> int:
        """The leader of the worker's process group (FlashBoot signals it); 0 when unknown."""
        ...

    @property
    def returncode(self) -> int | None: ...

    @property
    def stdin(self) -> ProcessStdin | None: ...

    @property
    def stdout(self) -> asyncio.StreamReader | None: ...

    @property
    def stderr(self) -> asyncio.StreamReader | None:
        """A pipe to copy into the worker log; None where the runtime writes the log itself."""
        ...

    async def wait(self) -> int:
        """The exit code, as soon as the process itself has exited (its pipes may still be open)."""
        ...

    async def reap_strays(self) -> list[int]:
        """Kill what the worker left running after it exited; the pids found."""
        ...

    def close(self) -> None:
        """Release the pipes (after the process and its strays are gone)."""
        ...

    def kill(self) -> None: ...

    def send_signal(self, sig: int) -> None: ...


#: one protocol event from a worker: a JSON object checked by ``_parse_event``
Event = dict[str, Json]

#: fields each protocol event must carry, with their types (a line that lacks one is logged, not obeyed)
_EVENT_FIELDS: dict[str, tuple[tuple[str, type | tuple[type, ...]], ...]] = {
    "phase": (("phase", str), ("t", (int, float))),
    "ready": (("t", (int, float)),),
    "result": (("id", (str, int)), ("t0", (int, float)), ("t1", (int, float))),
    "first": (("id", (str, int)), ("t", (int, float))),
    "chunk": (("id", (str, int)),),
}


def token_times(ev: Event) -> tuple[float, ...]:
    """A result event's chunk times (``first`` + ``tt`` microseconds), as ``time.monotonic()`` seconds;
    () when it has none or they are malformed."""
    first, tt = ev.get("first"), ev.get("tt")
    if not isinstance(first, (int, float)) or isinstance(first, bool) or not isinstance(tt, list):
        return ()
    try:
        return tuple(first + int(us) * 1e-6 for us in tt[:MAX_TOKEN_TIMES])
    except (TypeError, ValueError):
        return ()


def _parse_event(line: bytes) -> Event | None:
    """A protocol event line (``\\x1e`` + a JSON object with the fields its kind needs), or None."""
    try:
        ev = json.loads(line[1:])
    except ValueError:
        return None
    if not isinstance(ev, dict):
        return None
    for name, kind in _EVENT_FIELDS.get(str(ev.get("ev")), ()):
        if not isinstance(ev.get(name), kind) or isinstance(ev.get(name), bool):
            return None
    return ev


class _Attached:
    """Common part: the stdout reader, exit watcher, stop and kill.

    The worker's exit is taken from its process (``proc.wait()``), never from the end of its stdout,
    which a child it started may keep open. On exit, what the process left behind is killed
    (``proc.reap_strays()``: for a process, its group and the processes carrying the start's mark),
    the lines still in the pipe are read (for up to ``DRAIN_S``), then pending jobs fail as ``crashed``.
    """

    def __init__(self, spec: WorkerSpec, proc: LaunchedProcess, on_phase: PhaseCallback, log: LogSink) -> None:
        self.worker_id = spec.worker_id
        self.log_path: Path = spec.log_path
        self.spec = spec
        self.proc = proc
        self._on_phase = on_phase
        self._log = log
        loop = asyncio.get_running_loop()
        self._ready: asyncio.Future[float] = loop.create_future()
        self._pending: dict[str, asyncio.Future[JobOutcome]] = {}
        self._hooks = HookBook()  # job id -> called at its first chunk, with each chunk (serve's /stream)
        self._exit: asyncio.Future[int] = loop.create_future()
        self.model_info: dict[str, Json] = {}  # the shim's ``info`` event: what the worker loaded
        self.strays: list[int] = []  # pids killed by mark after the worker exited
        self._reader = asyncio.create_task(self._read())
        stderr = proc.stderr  # a pipe where the runtime copies stderr (process runtime)
        self._err_reader = asyncio.create_task(self._copy_err(stderr)) if stderr is not None else None
        self._watcher = asyncio.create_task(self._watch())

    # -------------------------------------------------------------- events from the worker
    async def _read(self) -> None:
        """Protocol events and other lines from the worker's stdout, until end of file."""
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        while True:
            try:
                line = await stdout.readline()
            except (ValueError, asyncio.LimitOverrunError):  # an over-long line: dropped, keep reading
                self._write_log(b"simserve: a line over the pipe limit from the worker was dropped\n")
                continue
            if not line:
                return
            event = _parse_event(line) if line[:1] == MARK else None
            if event is None:  # the worker's own output (or a malformed event): a line for the log
                self._write_log(line)
            else:
                self._event(event)

    async def _copy_err(self, stderr: asyncio.StreamReader) -> None:
        """The worker's stderr into its log, until end of file."""
        while True:
            data = await stderr.read(1 << 16)
            if not data:
                return
            self._write_log(data)

    async def _watch(self) -> None:
        """Wait for the process to exit; then clear up after it and report the exit."""
        code = -1
        try:
            code = await self.proc.wait()
            with contextlib.suppress(Exception):
                self.strays = await self.proc.reap_strays()
            readers = [t for t in (self._reader, self._err_reader) if t is not None]
            await asyncio.wait(readers, timeout=DRAIN_S)  # what the worker wrote before it went
        finally:  # also when cancelled at the end of the run: the pipes close while the loop still runs
            self._reader.cancel()
            if self._err_reader is not None:
                self._err_reader.cancel()
            with contextlib.suppress(Exception):
                self._log.close()
            with contextlib.suppress(Exception):
                self.proc.close()
        self._died(code)

    def _write_log(self, line: bytes) -> None:
        with contextlib.suppress(ValueError, OSError):
            self._log.write(line)
            self._log.flush()

    def _event(self, ev: Event) -> None:
        """One protocol event, checked by ``_parse_event``."""
        kind = ev.get("ev")
        if kind == "phase":
            self._on_phase(ev["phase"], float(ev["t"]))
        elif kind == "ready" and not self._ready.done():
            self._ready.set_result(float(ev["t"]))
        elif kind == "info":
            self.model_info.update({k: v for k, v in ev.items() if k not in ("ev", "t")})
        elif kind == "fatal" and not self._ready.done():
            self._fail_ready(WorkerStartError(str(ev.get("error")), phase="handler_init"))
        elif kind == "first":
            job_id = str(ev["id"])
            if job_id in self._pending:
                self._hooks.first(job_id, float(ev["t"]))
        elif kind == "chunk":
            self._hooks.chunk(str(ev["id"]), ev.get("output"))
        elif kind == "result":
            t0, t1 = ev["t0"], ev["t1"]
            job_id = str(ev["id"])
            fut = self._drop(job_id)
            if fut is not None and not fut.done():
                chunks = ev.get("chunks", 0)
                chunks = chunks if isinstance(chunks, int) and not isinstance(chunks, bool) else 0
                refresh = ev.get("refresh") is True
                if "error" in ev:
                    fut.set_result(JobOutcome("failed", None, str(ev["error"]), t0, t1, refresh=refresh))
                else:
                    out = JobOutcome("completed", ev.get("output"), "", t0, t1, token_times(ev), chunks, refresh)
                    fut.set_result(out)

    def _died(self, code: int) -> None:
        if not self._exit.done():
            self._exit.set_result(code)
        if not self._ready.done():
            self._fail_ready(
                WorkerStartError(
                    f"worker {self.worker_id} exited with code {code} during init", log_tail(self.log_path)
                )
            )
        now = time.monotonic()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_result(JobOutcome("crashed", None, f"worker exited with code {code}", ended_t=now))
        self._pending.clear()
        self._hooks.clear()

    def _fail_ready(self, exc: WorkerStartError) -> None:
        """The start failed: whoever waits for ready gets ``exc``; nobody waiting (a start cancelled at
        the end of the run) is not an error to report at exit."""
        self._ready.set_exception(exc)
        self._ready.exception()  # marks it retrieved: no "Future exception was never retrieved"

    async def wait_ready(self) -> float:
        """The worker's ready time. No time limit here: the core cuts a start at the scenario's
        ``faults.init_timeout`` (its stop cancels the start, and the runtime kills the worker)."""
        return await asyncio.shield(self._ready)

    # -------------------------------------------------------------- WorkerHandle
    def is_alive(self) -> bool:
        return self.proc.returncode is None and not self._exit.done()

    def kill(self) -> None:
        """SIGKILL the worker (its whole process group, where the runtime has one)."""
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()

    def suspend(self) -> bool:
        """FlashBoot: freeze the worker's process group (SIGSTOP); False where that is not possible."""
        return self._signal_group(signal.SIGSTOP)

    def resume(self) -> bool:
        """Thaw a frozen worker (SIGCONT)."""
        return self._signal_group(signal.SIGCONT)

    def _signal_group(self, sig: int) -> bool:
        pid = self.proc.pid
        if pid <= 0 or not self.is_alive():  # unknown (a container not inspected): never killpg(0), our own group
            return False
        try:
            os.killpg(pid, sig)  # workers run in their own session: the group is the worker
        except (ProcessLookupError, PermissionError):
            return False
        return True

    async def wait_exit(self) -> int:
        return await asyncio.shield(self._exit)

    async def stop(self, grace_s: float = 2.0) -> int | None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError, RuntimeError):
                self.proc.stdin.close()
        if self.spec.protocol == "runpod" and self.is_alive():
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.wait_exit(), grace_s)
        except asyncio.TimeoutError:
            self.kill()
            return await self.wait_exit()

    async def _await_outcome(
        self, job_id: str, fut: asyncio.Future[JobOutcome], timeout_s: float, t_sent: float
    ) -> JobOutcome:
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout_s)
        except asyncio.TimeoutError:
            self._drop(job_id)
            self._forget(job_id)
            self.kill()  # the only way to stop a sync handler; the executor restarts the worker
            return JobOutcome("timed_out", None, f"execution timeout {timeout_s:.3g}s", t_sent, time.monotonic())

    def _drop(self, job_id: str) -> asyncio.Future[JobOutcome] | None:
        """Stop waiting for ``job_id``: its future (if still pending) and its chunk callbacks go."""
        self._hooks.forget(job_id)
        return self._pending.pop(job_id, None)

    def _forget(self, job_id: str) -> None:
        pass


class NativeWorker(_Attached):
    """The simserve shim over stdin/stdout."""

    async def run_job(
        self,
        job_id: str,
        payload: Json,
        timeout_s: float,
        hooks: JobHooks = NO_HOOKS,
    ) -> JobOutcome:
        t_sent = time.monotonic()
        if not self.is_alive() or self.proc.stdin is None:
            return JobOutcome("crashed", None, "worker not running", t_sent, t_sent)
        fut: asyncio.Future[JobOutcome] = asyncio.get_running_loop().create_future()
        self._pending[job_id] = fut
        self._hooks.add(job_id, hooks)
        try:
            job: dict[str, Json] = {"id": job_id, "input": payload, **(hooks.extra or {})}
            self.proc.stdin.write(json.dumps(job).encode() + b"\n")
        except (OSError, RuntimeError):
            self._drop(job_id)
            return JobOutcome("crashed", None, "worker pipe closed", t_sent, time.monotonic())
        return await self._await_outcome(job_id, fut, timeout_s, t_sent)


class RunpodWorker(_Attached):
    """An unmodified Runpod-SDK handler pulling jobs from the broker."""

    async def run_job(
        self,
        job_id: str,
        payload: Json,
        timeout_s: float,
        hooks: JobHooks = NO_HOOKS,
    ) -> JobOutcome:
        t_sent = time.monotonic()
        broker = self.spec.broker
        assert broker is not None
        if not self.is_alive():
            return JobOutcome("crashed", None, "worker not running", t_sent, t_sent)
        fut = broker.submit(self.worker_id, job_id, payload, hooks)
        self._pending[job_id] = fut
        out = await self._await_outcome(job_id, fut, timeout_s, t_sent)
        self._pending.pop(job_id, None)
        if out.status == "crashed":
            broker.cancel(job_id)
        return out

    def _forget(self, job_id: str) -> None:
        assert self.spec.broker is not None
        self.spec.broker.cancel(job_id)

    async def stop(self, grace_s: float = 2.0) -> int | None:
        if self.spec.broker is not None:  # its polls end now, so the SDK exits on its SIGTERM without waiting one out
            self.spec.broker.release(self.worker_id)
        return await super().stop(grace_s)


async def attach_worker(
    spec: WorkerSpec,
    proc: LaunchedProcess,
    on_phase: PhaseCallback,
    log: LogSink,
) -> NativeWorker | RunpodWorker:
    """Wrap a just-spawned worker process; returns once it is ready (raises ``WorkerStartError``)."""
    if spec.protocol == "runpod":
        handle: NativeWorker | RunpodWorker = RunpodWorker(spec, proc, on_phase, log)
        broker = spec.broker
        assert broker is not None
        take = asyncio.ensure_future(broker.first_take(spec.worker_id))
        take.add_done_callback(
            lambda f: None if handle._ready.done() or f.cancelled() else handle._ready.set_result(f.result())
        )
    else:
        handle = NativeWorker(spec, proc, on_phase, log)
    try:
        await handle.wait_ready()
    except WorkerStartError as exc:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(handle.wait_exit(), 2.0)
        exc.log_tail = exc.log_tail or log_tail(spec.log_path)
        raise
    return handle
