"""The jobs clients sent to ``simserve serve``: ids, inputs, outputs, stream chunks and answers.

Owns ``JobBook``: the HTTP job id of each core job (``uuid4``; ``sync-`` for ``/runsync``), its
input (handed to the handler as ``job["input"]``), ``s3Config``, webhook, latest progress output,
output or error and the chunks a generator handler yielded (``/stream`` hands each out once; the
OpenAI route's stream waits for each with ``wait_chunk``), the ``/runsync`` waiters, the
platform's result retention (an ended job is forgotten ``result_ttl_s`` after its end on the
server's clock: 30 min for ``/run``, 1 min for ``/runsync``; its id then answers as an unknown one)
and the platform's answer shapes read from the core's records:
``answer`` (``id``, ``status``, ``delayTime`` and ``executionTime`` in ms: arrival to the core's
start of the job on a worker, and that start to its end; ``output`` — the latest progress while
``IN_PROGRESS`` — or ``error``) and ``health`` (jobs by status, workers by state as the REST API
counts them). The job's status is the core's; nothing here decides one. No HTTP library.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import uuid
from collections.abc import Callable
from typing import Any

from simserve.records import JobStatus, WorkerState

#: the platform's name of each simserve job status (per_request rejection fails the job)
STATUS_NAMES: dict[int, str] = {
    JobStatus.IN_QUEUE: "IN_QUEUE",
    JobStatus.IN_PROGRESS: "IN_PROGRESS",
    JobStatus.COMPLETED: "COMPLETED",
    JobStatus.FAILED: "FAILED",
    JobStatus.CANCELLED: "CANCELLED",
    JobStatus.TIMED_OUT: "TIMED_OUT",
    JobStatus.REJECTED: "FAILED",
}
ENDED = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT, JobStatus.REJECTED})
REJECTED_ERROR = "no worker available: max workers reached (per_request scaler)"
#: how long an ended job's result is kept (s), as the platform does: ``/run`` 30 min, ``/runsync`` 1 min
RESULT_TTL_RUN_S = 1800.0
RESULT_TTL_SYNC_S = 60.0
#: jobs that ended without a hook (a TTL in the queue, a rejection, a last crash) are looked for this often (s)
SCAN_S = 1.0


class JobBook:
    """Every job of one serve run, by core index ``j`` and by HTTP id."""

    def __init__(
        self,
        core: Any,
        rec: Any,
        now: Callable[[], float],
        result_ttl_run_s: float = RESULT_TTL_RUN_S,
        result_ttl_sync_s: float = RESULT_TTL_SYNC_S,
    ) -> None:
        self.core = core
        self.rec = rec
        self.now = now
        self.result_ttl_run_s = result_ttl_run_s
        self.result_ttl_sync_s = result_ttl_sync_s
        self.ids: list[str] = []
        self.index: dict[str, int] = {}
        self.inputs: list[Any] = []  # until the job completes
        self.webhooks: dict[int, str] = {}
        self.outputs: dict[int, Any] = {}
        self.errors: dict[int, str] = {}
        self.chunks: dict[int, list[Any]] = {}
        self.sent: dict[int, int] = {}  # chunks /stream has handed out
        self.progress: dict[int, Any] = {}  # the latest progress_update of a job in progress
        self.s3: dict[int, Any] = {}  # a request's s3Config, for the handler's job
        self.pending: set[int] = set()  # booked jobs not yet seen ended
        self.expires_at: dict[int, float] = {}  # ended job -> when its result is forgotten
        self._expiry: list[tuple[float, int]] = []  # heap of (expires_at, job); stale entries skipped
        self._scanned_s = -math.inf
        self.expired = 0  # results forgotten
        self.waiters: dict[int, list[asyncio.Future[None]]] = {}
        self.on_end: Callable[[int], None] | None = None  # a job ended (webhooks)
        self.open = True  # False once the run stops

    # ------------------------------------------------------------------ new jobs
    def add(self, j: int, given: Any, webhook: str | None, sync: bool, s3: Any = None) -> str:
        """Book core job ``j`` (just submitted) with its input; returns its HTTP id. Results past their
        retention are dropped first (so a client that only submits frees them too)."""
        self.expire()
        job_id = ("sync-" if sync else "") + str(uuid.uuid4())
        if j != len(self.ids):
            raise RuntimeError(f"job {j} booked out of order (expected {len(self.ids)})")
        self.ids.append(job_id)
        self.index[job_id] = j
        self.inputs.append(given)
        if webhook:
            self.webhooks[j] = webhook
        if s3 is not None:
            self.s3[j] = s3
        self.pending.add(j)
        if self.rec.status[j] in ENDED:  # ended at its arrival (a per_request rejection)
            self._note_end(j)
        return job_id

    def find(self, job_id: str) -> int:
        """The core index of HTTP job ``job_id`` (-1 when unknown, or its result has expired)."""
        self.expire()
        j = self.index.get(job_id, -1)
        if j >= 0 and j in self.pending and self.rec.status[j] in ENDED:
            self._note_end(j)  # ended without a hook since the last scan
        if j >= 0 and self.expires_at.get(j, math.inf) <= self.now():
            self._forget(j)
            return -1
        return j

    # ------------------------------------------------------------------ result retention
    def result_ttl_s(self, j: int) -> float:
        return self.result_ttl_sync_s if self.ids[j].startswith("sync-") else self.result_ttl_run_s

    def _note_end(self, j: int) -> None:
        """``j`` has ended: its result is kept ``result_ttl_s`` from its end (the core's end time)."""
        self.pending.discard(j)
        end = self.rec.end_s[j]
        t = (self.now() if math.isnan(end) else float(end)) + self.result_ttl_s(j)
        self.expires_at[j] = t
        heapq.heappush(self._expiry, (t, j))

    def expire(self) -> int:
        """Forget every result whose retention has run out on the server's clock; how many."""
        now = self.now()
        if now - self._scanned_s >= SCAN_S:
            self._scanned_s = now
            status = self.rec.status
            for j in [j for j in self.pending if status[j] in ENDED]:
                self._note_end(j)
        heap, n = self._expiry, 0
        while heap and heap[0][0] <= now:
            t, j = heapq.heappop(heap)
            if self.expires_at.get(j) == t:
                self._forget(j)
                n += 1
        return n

    def _forget(self, j: int) -> None:
        """Drop ``j``'s result and everything kept for it (its row in the run's tables stays)."""
        self.index.pop(self.ids[j], None)
        self.inputs[j] = None
        for kept in (self.outputs, self.errors, self.chunks, self.sent, self.progress, self.s3, self.webhooks):
            kept.pop(j, None)
        self.expires_at.pop(j, None)
        self.pending.discard(j)
        self.expired += 1

    # ------------------------------------------------------------------ executor hooks
    def job_input(self, j: int) -> tuple[str, Any]:
        return self.ids[j], self.inputs[j]

    def job_s3(self, j: int) -> Any:
        """The ``s3Config`` job ``j``'s request carried (None when none), for the handler's job."""
        return self.s3.get(j)

    def progress_update(self, j: int, output: Any) -> None:
        """The handler of ``j`` reported progress (``runpod.serverless.progress_update``): kept while it runs."""
        if self.rec.status[j] == JobStatus.IN_PROGRESS:
            self.progress[j] = output

    def outcome(self, j: int, out: Any) -> None:
        """How a run of ``j`` ended (before the core hears of it)."""
        self.progress.pop(j, None)
        if out.status == "completed":
            self.outputs[j] = out.output
            self.errors.pop(j, None)
            self.inputs[j] = None  # only a failed or timed-out job is retried: its input is kept
        else:
            self.errors[j] = out.error or out.status

    def chunk(self, j: int, chunk: Any) -> None:
        """``j``'s worker yielded ``chunk``: kept for ``/stream`` (and the OpenAI route's stream, woken)."""
        self.chunks.setdefault(j, []).append(chunk)
        if j in self.waiters:
            self._wake(j)

    def ended(self, j: int) -> None:
        """``j``'s status may have changed (its run ended, a client cancelled it): wake its waiters."""
        self._wake(j)
        if self.rec.status[j] in ENDED:
            self.progress.pop(j, None)
            if j in self.pending:
                self._note_end(j)
            if self.on_end is not None:
                self.on_end(j)

    def retried(self, j: int) -> None:
        """``j`` goes again: its earlier output, error and chunks are gone."""
        self.outputs.pop(j, None)
        self.errors.pop(j, None)
        self.chunks.pop(j, None)
        self.sent.pop(j, None)
        self.progress.pop(j, None)
        self.expires_at.pop(j, None)
        self.pending.add(j)

    def wake_all(self) -> None:
        """The run is stopping: every waiter answers with what it has."""
        for j in list(self.waiters):
            self._wake(j)

    def _wake(self, j: int) -> None:
        for fut in self.waiters.pop(j, ()):
            if not fut.done():
                fut.set_result(None)

    async def wait(self, j: int, timeout_s: float) -> None:
        """Until ``j`` has ended (or ``timeout_s``, or the run stops)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self.rec.status[j] not in ENDED:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            await self._signal(j, min(left, 1.0))  # re-read now and then: a TTL ends jobs silently
            if not self.open:
                return

    async def wait_chunk(self, j: int, have: int, timeout_s: float) -> None:
        """Until ``j`` has more than ``have`` chunks, or has ended (or ``timeout_s``, or the run stops)."""
        if len(self.chunks.get(j, ())) > have or self.rec.status[j] in ENDED or not self.open:
            return
        await self._signal(j, timeout_s)

    async def _signal(self, j: int, timeout_s: float) -> None:
        """Until something about ``j`` is signalled to its waiters (a chunk, its end) or ``timeout_s``."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.setdefault(j, []).append(fut)
        try:
            await asyncio.wait_for(fut, timeout_s)
        except asyncio.TimeoutError:
            pass
        finally:
            waiting = self.waiters.get(j)
            if waiting is not None and fut in waiting:
                waiting.remove(fut)
                if not waiting:
                    del self.waiters[j]

    # ------------------------------------------------------------------ answers
    def status_name(self, j: int) -> str:
        return STATUS_NAMES.get(self.rec.status[j], "IN_QUEUE")

    def answer(self, j: int) -> dict[str, Any]:
        """The platform's ``/status`` answer for job ``j``."""
        rec = self.rec
        st = rec.status[j]
        out: dict[str, Any] = {"id": self.ids[j], "status": self.status_name(j)}
        arrival = float(rec.arrival_s[j])
        start, end = rec.start_s[j], rec.end_s[j]
        if not math.isnan(start):
            out["delayTime"] = round((start - arrival) * 1000)
            if not math.isnan(end):
                out["executionTime"] = round((end - start) * 1000)
            out["workerId"] = str(rec.worker[j])
        elif st in ENDED and not math.isnan(end):
            out["delayTime"] = round((end - arrival) * 1000)
        if st == JobStatus.IN_PROGRESS and j in self.progress:
            out["output"] = self.progress[j]
        elif st == JobStatus.COMPLETED:
            out["output"] = self.outputs.get(j)
        elif st == JobStatus.REJECTED:
            out["error"] = REJECTED_ERROR
        elif st == JobStatus.FAILED:
            out["error"] = self.errors.get(j, "failed: its worker died on each try (faults.retry_limit)")
        elif st == JobStatus.TIMED_OUT:
            out["error"] = self.errors.get(j, "timed out: its TTL ran out before a worker took it")
        return out

    def stream(self, j: int) -> dict[str, Any]:
        """The ``/stream`` answer: chunks not handed out before (a finished job's output once, when its
        handler streamed nothing)."""
        st = self.rec.status[j]
        chunks = self.chunks.get(j)
        k = self.sent.get(j, 0)
        if chunks is not None:
            new = chunks[k:]
            self.sent[j] = len(chunks)
        elif st == JobStatus.COMPLETED and k == 0:
            new = [self.outputs.get(j)]
            self.sent[j] = 1
        else:
            new = []
        return {"id": self.ids[j], "status": self.status_name(j), "stream": [{"output": c} for c in new]}

    def health(self) -> dict[str, Any]:
        """The platform's ``/health``: jobs by status, workers by state as the REST API counts them (a ready
        worker without a job is ``idle`` and ``ready``; a scaled-down slot is not counted)."""
        st = self.rec.status
        ops = self.core.jobops
        retried = self.rec.retries + (ops.counts["api_retries"] if ops is not None else 0)
        workers = {"idle": 0, "initializing": 0, "ready": 0, "running": 0, "throttled": 0, "unhealthy": 0}
        for w in self.core.workers:
            if w.retired:
                continue
            s = w.state
            if s == WorkerState.RUNNING and not w.running:
                workers["idle"] += 1
                workers["ready"] += 1
            elif s in (WorkerState.RUNNING, WorkerState.OUTDATED):
                workers["running"] += 1
            elif s == WorkerState.INITIALIZING:
                workers["initializing"] += 1
            elif s == WorkerState.THROTTLED:
                workers["throttled"] += 1
            elif s == WorkerState.UNHEALTHY:
                workers["unhealthy"] += 1
        return {
            "jobs": {
                "completed": st.count(JobStatus.COMPLETED),
                "failed": st.count(JobStatus.FAILED) + st.count(JobStatus.REJECTED),
                "inProgress": st.count(JobStatus.IN_PROGRESS),
                "inQueue": st.count(JobStatus.IN_QUEUE),
                "retried": retried,
            },
            "workers": workers,
        }
