"""The jobs clients sent to ``simserve serve``: ids, inputs, outputs, stream chunks and answers.

Owns ``JobBook``: the HTTP job id of each core job (``uuid4``; ``sync-`` for ``/runsync``), its
input (handed to the handler as ``job["input"]``), webhook, output or error and the chunks a
generator handler yielded (``/stream`` hands each out once), the ``/runsync`` waiters, and the
platform's answer shapes read from the core's records: ``answer`` (``id``, ``status``,
``delayTime`` and ``executionTime`` in ms, ``output`` or ``error``) and ``health`` (jobs by
status, workers by state as the REST API counts them). The job's status is the core's; nothing
here decides one. No HTTP library.
"""

from __future__ import annotations

import asyncio
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


class JobBook:
    """Every job of one serve run, by core index ``j`` and by HTTP id."""

    def __init__(self, core: Any, rec: Any, now: Callable[[], float]) -> None:
        self.core = core
        self.rec = rec
        self.now = now
        self.ids: list[str] = []
        self.index: dict[str, int] = {}
        self.inputs: list[Any] = []  # until the job completes
        self.webhooks: dict[int, str] = {}
        self.outputs: dict[int, Any] = {}
        self.errors: dict[int, str] = {}
        self.chunks: dict[int, list[Any]] = {}
        self.sent: dict[int, int] = {}  # chunks /stream has handed out
        self.waiters: dict[int, list[asyncio.Future[None]]] = {}
        self.on_end: Callable[[int], None] | None = None  # a job ended (webhooks)
        self.open = True  # False once the run stops

    # ------------------------------------------------------------------ new jobs
    def add(self, j: int, given: Any, webhook: str | None, sync: bool) -> str:
        """Book core job ``j`` (just submitted) with its input; returns its HTTP id."""
        job_id = ("sync-" if sync else "") + str(uuid.uuid4())
        if j != len(self.ids):
            raise RuntimeError(f"job {j} booked out of order (expected {len(self.ids)})")
        self.ids.append(job_id)
        self.index[job_id] = j
        self.inputs.append(given)
        if webhook:
            self.webhooks[j] = webhook
        return job_id

    def find(self, job_id: str) -> int:
        """The core index of HTTP job ``job_id`` (-1 when unknown)."""
        return self.index.get(job_id, -1)

    # ------------------------------------------------------------------ executor hooks
    def job_input(self, j: int) -> tuple[str, Any]:
        return self.ids[j], self.inputs[j]

    def outcome(self, j: int, out: Any) -> None:
        """How a run of ``j`` ended (before the core hears of it)."""
        if out.status == "completed":
            self.outputs[j] = out.output
            self.errors.pop(j, None)
            self.inputs[j] = None  # only a failed or timed-out job is retried: its input is kept
        else:
            self.errors[j] = out.error or out.status

    def chunk(self, j: int, chunk: Any) -> None:
        self.chunks.setdefault(j, []).append(chunk)

    def ended(self, j: int) -> None:
        """``j``'s status may have changed (its run ended, a client cancelled it): wake its waiters."""
        self._wake(j)
        if self.on_end is not None and self.rec.status[j] in ENDED:
            self.on_end(j)

    def retried(self, j: int) -> None:
        """``j`` goes again: its earlier output, error and chunks are gone."""
        self.outputs.pop(j, None)
        self.errors.pop(j, None)
        self.chunks.pop(j, None)
        self.sent.pop(j, None)

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
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.waiters.setdefault(j, []).append(fut)
            try:
                await asyncio.wait_for(fut, min(left, 1.0))  # re-read now and then: a TTL ends jobs silently
            except asyncio.TimeoutError:
                pass
            finally:
                waiting = self.waiters.get(j)
                if waiting is not None and fut in waiting:
                    waiting.remove(fut)
                    if not waiting:
                        del self.waiters[j]
            if not self.open:
                return

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
        if st == JobStatus.COMPLETED:
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
