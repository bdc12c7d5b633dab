"""Real workers for the live driver: the core's effects carried out on a ``WorkerRuntime``.

Owns ``RealRuntime``: a start launches a worker process or container (the image payload of the
start's image version, so a deploy really pulls a new image; ``SIMSERVE_FAIL_INIT`` when the core
drew an init failure, so the worker really exits non-zero at the end of its start) and reports each
measured phase, readiness or the failure; a job is sent over the worker's protocol with its limit
and its end reported (in an LLM run, with its tokens and the engine's figures in its input, its
first token reported as the handler yields it and its chunk times kept); a stop stops the process,
freezes it for FlashBoot (SIGSTOP, dropped at the window's end or when the host is needed) or kills
it (an injected crash: SIGKILL); a reservation withholds a host's slot from frozen processes. A
ready worker's process that exits is reported as a crash. Stops run in the background and ``close``
(the end of the run) waits for each of them — a worker that outlives its grace is killed with its
process group — so no worker process outlives the run. Also the list of faults with log tails for
the summary, every job run that did not complete with its error (``job_errors``), and the executor's
guard against a handler that cannot start at all: after ``max_init_failures`` real failed starts in
a row (no start succeeding in between; injected ``faults.init_failure_prob`` failures do not count)
it calls ``on_give_up`` with the last failure. That guard is the executor's, not the platform's
(which retries an unhealthy worker for days): a run whose handler never starts measures nothing. No
platform rule.
"""

from __future__ import annotations

import asyncio
import math
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypedDict

from simserve.endpoint import Reserve, RunJob, StartWorker, StopWorker
from simserve.live.clock import WallClock
from simserve.live.driver import LiveDriver
from simserve.live.runtime import (
    JobHooks,
    JobOutcome,
    Json,
    WorkerHandle,
    WorkerRuntime,
    WorkerSpec,
    WorkerStartError,
    log_size,
    log_tail,
)

SHIM = Path(__file__).with_name("shim.py")
#: at the end of a run, how long past its grace a worker's stop may take before its process is killed
STOP_MARGIN_S = 2.0
#: chunk (token) times an LLM run keeps in all (``token_times.csv``); later jobs' are counted as dropped
MAX_TOKEN_ROWS = 2_000_000


class Fault(TypedDict):
    """A worker fault for the summary (``notes.faults``): a failed start, a crash, an error in a worker task."""

    worker_id: int  # -1: not one worker's
    time_s: float
    kind: str  # init_failed | crashed | error
    message: str
    log_tail: str


class GiveUp(Fault):
    """The last failed start when the executor gives up (``on_give_up``), with the count in a row."""

    failures_in_row: int


class JobError(TypedDict):
    """A job run that did not complete (``job_errors.csv``)."""

    job_id: int
    worker_id: int
    time_s: float
    outcome: str  # a JobOutcome status (a client's cancel of a running job: cancelled)
    error: str


class RealRuntime:
    """Worker processes (or containers) for one live run."""

    def __init__(
        self,
        driver: LiveDriver,
        clock: WallClock,
        runtime: WorkerRuntime,
        make_spec: Callable[[StartWorker], WorkerSpec],
        service_s: list[float],
        speed: float,
        stop_grace_s: float = 3.0,
        job_extra: Callable[[int, int], dict[str, Json]] | None = None,
        job_input: Callable[[int], tuple[str, Json]] | None = None,
    ) -> None:
        self.driver = driver
        #: an open run (``simserve serve``): a job's id and its client's input (``job_input(job)``), in place
        #: of the drawn service time; ``on_outcome(job, outcome)`` hears how each run ended before the core
        #: does, ``on_chunk(job, chunk)`` each chunk a generator handler yields
        self.job_input = job_input
        self.on_outcome: Callable[[int, JobOutcome], None] | None = None
        self.on_chunk: Callable[[int, Json], None] | None = None
        #: ``on_progress(job, output)``: the job's handler called ``runpod.serverless.progress_update`` (it runs
        #: on); ``job_s3(job)``: the ``s3Config`` its request carried (None: none), put on the handler's job
        self.on_progress: Callable[[int, Json], None] | None = None
        self.job_s3: Callable[[int], Json] | None = None
        self.epochs: dict[int, int] = {}  # wid -> the epoch of its latest start (``worker_concurrency``)
        self.sent: dict[str, int] = {}  # the id a job was sent under -> its run's token, until it ends
        #: an LLM run: more of a job's input (``job_extra(job, worker)``: its tokens, the engine's figures);
        #: its first chunk is its first token, and its chunk times are kept (``token_times``)
        self.job_extra = job_extra
        #: an open LLM run (``simserve serve --handler``): a job's first chunk is its first token, and its chunk
        #: times are kept, as with ``job_extra``
        self.open_llm = False
        self.token_times: list[tuple[int, tuple[float, ...]]] = []  # (job, chunk times in scenario seconds)
        self.token_rows = 0
        self.token_times_dropped = 0  # completed jobs whose chunk times were not kept (MAX_TOKEN_ROWS)
        self.clock = clock
        self.runtime = runtime
        self.make_spec = make_spec
        self.service_s = service_s
        self.speed = speed
        self.stop_grace_s = stop_grace_s
        self.handles: dict[int, tuple[int, WorkerHandle]] = {}  # wid -> (epoch, handle) of ready workers
        self.starting: dict[int, asyncio.Task[None]] = {}  # wid -> its start in flight
        self.frozen: dict[int, tuple[int, WorkerHandle]] = {}  # FlashBoot: wid -> (host, frozen handle)
        self.host_of: dict[int, int] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.stopping: set[asyncio.Task[int | None]] = set()  # stops in flight: awaited (never cancelled) at close
        self.alive: set[WorkerHandle] = set()  # every handle whose process may still run
        self.faults: list[Fault] = []
        self.job_errors: list[JobError] = []  # job runs that did not complete, with their error
        self.reserved: dict[int, int] = {}  # host -> GPUs other tenants hold
        self.max_init_failures = 0  # real failed starts in a row before on_give_up (0: never)
        self.init_failures_in_row = 0
        self.on_give_up: Callable[[GiveUp], None] | None = None
        self.on_job_end: Callable[[int], None] | None = None  # job id, after the core has its outcome

    # ------------------------------------------------------------------ effects
    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        """A worker task ended: an unexpected error in it is a fault in the summary, not a message at exit."""
        self.tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.fault(-1, "error", f"{type(exc).__name__}: {exc}", "")

    def _stop_later(self, handle: WorkerHandle) -> None:
        """Stop a worker in the background; ``close`` waits for it."""
        task = asyncio.ensure_future(handle.stop(self.stop_grace_s))
        self.stopping.add(task)
        task.add_done_callback(self._stop_done)

    def _stop_done(self, task: asyncio.Task[int | None]) -> None:
        self.stopping.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self.fault(-1, "error", f"stopping a worker: {type(exc).__name__}: {exc}", "")

    def launch(self, e: StartWorker) -> None:
        wid = e.worker_id
        self.epochs[wid] = e.epoch
        self._cancel_start(wid)
        old = self.handles.pop(wid, None)
        if old is not None:  # still running (a restart): it goes first
            self._stop_later(old[1])
        for other, (host, _handle) in list(self.frozen.items()):  # a frozen process holds its host's slot
            if host == e.host and other != wid:
                self._drop_frozen(other)
        frozen = self.frozen.pop(wid, None)
        self.host_of[wid] = e.host
        if e.resume and frozen is not None and frozen[0] == e.host:
            self.starting[wid] = self._spawn(self._thaw(wid, e.epoch, frozen[1]))
            return
        if frozen is not None:
            frozen[1].resume()
            self._stop_later(frozen[1])
        self.starting[wid] = self._spawn(self._start(e))

    def _cancel_start(self, wid: int) -> None:
        task = self.starting.pop(wid, None)
        if task is not None and not task.done():
            task.cancel()

    def run(self, e: RunJob) -> None:
        self._spawn(self._run(e))

    def job_taken(self, job_id: str, t: float) -> None:
        """The worker took the job sent as ``job_id`` at ``time.monotonic()`` ``t``: the job's start."""
        token = self.sent.get(job_id)
        if token is not None:
            self.driver.job_taken(token, min(self.clock.to_s(t), self.clock.now()))

    def worker_concurrency(self, wid: int, n: int) -> None:
        """Worker ``wid``'s SDK asked for ``n`` jobs at once (its ``concurrency_modifier``): the core hears it."""
        epoch = self.epochs.get(wid)
        if epoch is not None:
            self.driver.set_worker_concurrency(wid, epoch, n, self.clock.now())

    def stop(self, e: StopWorker) -> None:
        wid = e.worker_id
        self._cancel_start(wid)
        entry = self.handles.pop(wid, None)
        if entry is None:
            return
        handle = entry[1]
        if e.kill:
            handle.kill()
            self._stop_later(handle)  # reap it (a container is removed)
            return
        if e.freeze_until_s >= 0 and handle.suspend():
            self.frozen[wid] = (self.host_of.get(wid, -1), handle)
            self.clock.call_at(e.freeze_until_s, self._window_over, (wid, handle))
            return
        self._stop_later(handle)

    def reserve(self, e: Reserve) -> None:
        """Other tenants hold ``e.gpus`` GPUs of the host: a frozen process there gives its slot up."""
        self.reserved[e.host] = e.gpus
        if e.gpus > 0:
            for wid, (host, _) in list(self.frozen.items()):
                if host == e.host:
                    self._drop_frozen(wid)

    def _window_over(self, arg: tuple[int, WorkerHandle]) -> None:
        wid, handle = arg
        entry = self.frozen.get(wid)
        if entry is not None and entry[1] is handle:
            self._drop_frozen(wid)

    def _drop_frozen(self, wid: int) -> None:
        entry = self.frozen.pop(wid, None)
        if entry is not None:
            entry[1].resume()
            self._stop_later(entry[1])

    # ------------------------------------------------------------------ workers
    async def _start(self, e: StartWorker) -> None:
        wid, epoch = e.worker_id, e.epoch
        spec = self.make_spec(e)
        driver, clock = self.driver, self.clock

        def on_phase(name: str, t: float) -> None:
            driver.phase(wid, epoch, name, clock.to_s(t))

        offset = log_size(spec.log_path)  # the log is appended across restarts: this start's lines begin here
        try:
            handle = await self.runtime.start(spec, on_phase)
        except WorkerStartError as exc:
            self._start_failed(e, str(exc), log_tail(spec.log_path, start_byte=offset) or exc.log_tail)
            return
        except Exception as exc:  # noqa: BLE001 - the runtime itself failed (no engine, no image): a failed start
            self._start_failed(e, f"{type(exc).__name__}: {exc}", log_tail(spec.log_path, start_byte=offset))
            return
        await self._became_ready(wid, epoch, handle, spec.log_path)

    def _start_failed(self, e: StartWorker, message: str, tail: str) -> None:
        """Report a failed start; count it towards giving up unless the core injected it."""
        self.fault(e.worker_id, "init_failed", message, tail)
        if not self.driver.current(e.worker_id, e.epoch):
            return  # stopped meanwhile (scale-down, end of run): nothing to report
        self.driver.start_failed(e.worker_id, e.epoch, self.clock.now())
        if e.fail_at_end:
            return  # faults.init_failure_prob asked for it
        self.init_failures_in_row += 1
        if 0 < self.max_init_failures <= self.init_failures_in_row and self.on_give_up is not None:
            self.on_give_up(GiveUp(**self.faults[-1], failures_in_row=self.init_failures_in_row))

    def _track(self, handle: WorkerHandle) -> None:
        """Remember ``handle`` until its process has exited (``close`` kills what is left)."""
        if handle in self.alive:
            return
        self.alive.add(handle)
        exit_task = asyncio.ensure_future(handle.wait_exit())
        exit_task.add_done_callback(lambda _t: self.alive.discard(handle))

    async def _thaw(self, wid: int, epoch: int, handle: WorkerHandle) -> None:
        handle.resume()
        if not handle.is_alive():
            self.driver.start_failed(wid, epoch, self.clock.now())
            return
        await self._became_ready(wid, epoch, handle, handle.log_path)

    async def _became_ready(self, wid: int, epoch: int, handle: WorkerHandle, log_path: Path) -> None:
        self.starting.pop(wid, None)
        self._track(handle)
        if not self.driver.current(wid, epoch):
            await handle.stop(self.stop_grace_s)
            return
        self.handles[wid] = (epoch, handle)
        self.init_failures_in_row = 0
        self.driver.ready(wid, epoch, self.clock.now())
        code = await handle.wait_exit()  # a ready worker's process exiting while current is a crash
        if self.driver.current(wid, epoch):
            self.handles.pop(wid, None)
            self.fault(wid, "crashed", f"exit code {code}", log_tail(log_path))
            self.driver.crashed(wid, epoch, self.clock.now())
            await handle.stop(self.stop_grace_s)  # reap it (a container is removed)

    async def _run(self, e: RunJob) -> None:
        wid, job, token, _ = e
        entry = self.handles.get(wid)
        if entry is None:
            return  # the worker went away before the job could be sent; the core requeued it
        name = self.job_input(job)[0] if self.job_input is not None else str(job)
        self.sent[name] = token
        try:
            await self._send(e, entry[1])
        finally:
            if self.sent.get(name) == token:
                del self.sent[name]

    async def _send(self, e: RunJob, handle: WorkerHandle) -> None:
        wid, job, token, limit_s = e
        limit = max(limit_s, 0.0) / self.speed
        if self.job_input is not None:
            name, given = self.job_input(job)
            each, progress = self.on_chunk, self.on_progress
            s3 = self.job_s3(job) if self.job_s3 is not None else None
            first = self._first_token(token) if self.open_llm else None
            hooks = JobHooks(
                on_first=first,
                on_chunk=None if each is None else (lambda c: each(job, c)),
                on_progress=None if progress is None else (lambda _id, x: progress(job, x)),
                extra=None if s3 is None else {"s3Config": s3},
            )
            out = await handle.run_job(name, given, limit, hooks)
            if first is not None and out.token_t:
                first(out.token_t[0])
                if out.status == "completed":
                    self._keep_token_times(job, out.token_t)
            if self.on_outcome is not None and out.status not in ("crashed", "cancelled"):
                self.on_outcome(job, out)
            self._ended(wid, job, token, out)
            return
        svc = self.service_s[job]
        payload = {"job": job, "service_s": svc / self.speed, "scenario_service_s": svc}
        if self.job_extra is None:
            out = await handle.run_job(str(job), payload, limit)
        else:
            payload.update(self.job_extra(job, wid))
            first = self._first_token(token)
            out = await handle.run_job(str(job), payload, limit, JobHooks(on_first=first))
            if out.token_t:
                first(out.token_t[0])  # in case the first chunk's own report was lost: the earliest counts
                if out.status == "completed":
                    self._keep_token_times(job, out.token_t)
        self._ended(wid, job, token, out)

    def _first_token(self, token: int) -> Callable[[float], None]:
        """Report the first token of the run with ``token`` (a worker's ``time.monotonic()``) to the core."""
        driver, clock = self.driver, self.clock

        def first(t: float) -> None:
            driver.first_token(token, clock.to_s(t))

        return first

    def _ended(self, wid: int, job: int, token: int, out: JobOutcome) -> None:
        """A run of ``job`` ended: its error is kept, the core hears of it (not of a crash: the exit watcher
        reports that, and the core requeues)."""
        if out.status != "completed":
            outcome, error = out.status, out.error
            if outcome == "crashed" and self.driver.cancelled(job):  # the core restarted its worker to stop it
                outcome, error = "cancelled", "cancelled by a client: its worker was restarted"
            self.job_errors.append(
                {
                    "job_id": job,
                    "worker_id": wid,
                    "time_s": round(self.clock.now(), 6),
                    "outcome": outcome,
                    "error": error,
                }
            )
        if out.status == "crashed" or out.status == "cancelled":
            return  # the exit watcher reports the crash and the core requeues
        now = self.clock.now()
        if math.isfinite(out.started_t):  # the worker took it then: the wait before is delay, not execution
            self.driver.job_taken(token, min(self.clock.to_s(out.started_t), now))
        self.driver.job_done(token, out.status, now, refresh=out.refresh)
        if self.on_job_end is not None:
            self.on_job_end(job)

    def _keep_token_times(self, job: int, times: tuple[float, ...]) -> None:
        """Keep a completed job's chunk times, in scenario seconds (``MAX_TOKEN_ROWS`` in all)."""
        if self.token_rows + len(times) > MAX_TOKEN_ROWS:
            self.token_times_dropped += 1
            return
        self.token_rows += len(times)
        to_s = self.clock.to_s
        self.token_times.append((job, tuple(to_s(t) for t in times)))

    def fault(self, wid: int, kind: str, message: str, tail: str) -> None:
        self.faults.append(
            {"worker_id": wid, "time_s": round(self.clock.now(), 6), "kind": kind, "message": message, "log_tail": tail}
        )

    # ------------------------------------------------------------------ end of run
    async def close(self) -> None:
        """Stop every worker (ready, starting, frozen or being stopped) and wait until each has exited."""
        for task in list(self.starting.values()):
            task.cancel()
        for _, h in self.handles.values():
            self._stop_later(h)
        self.handles.clear()
        for _, h in self.frozen.values():
            h.resume()
            self._stop_later(h)
        self.frozen.clear()
        while self.tasks or self.stopping:  # tasks may spawn stops while they unwind: until none is left
            if self.stopping:
                await asyncio.wait(list(self.stopping), timeout=self.stop_grace_s + STOP_MARGIN_S)
            pending = list(self.tasks)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            self.tasks.difference_update(pending)
            if self.stopping and all(not t.done() for t in self.stopping) and not self.tasks:
                break  # stops that outlived their grace: the kill below ends them
        for h in list(self.alive):  # a stop that could not finish: the process (group) is killed
            h.kill()
        if self.alive:
            await asyncio.wait([asyncio.ensure_future(h.wait_exit()) for h in self.alive], timeout=STOP_MARGIN_S)
        for stop in list(self.stopping):
            stop.cancel()


def shim_argv(handler: Path, protocol: str) -> tuple[str, ...]:
    """The command that boots a worker: the simserve shim around the user's handler file."""
    if protocol == "runpod":
        return (sys.executable, str(SHIM), "--runpod", str(handler))
    return (sys.executable, str(SHIM), str(handler))
