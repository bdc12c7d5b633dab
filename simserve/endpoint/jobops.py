"""Jobs that arrive at run time and what a client may do to them: the platform's job operations.

Owns ``JobOps``, the rules behind the endpoint API's job calls (``simserve serve``): a job
submitted while the run goes (appended to the workload, then arrived like any other), its own
``policy`` (execution timeout; TTL counted from submission, a ``JOB_TTL`` timer expiring it while
it waits), ``cancel`` (a queued or waiting job ends ``cancelled``; a running one too, and its
worker restarts in place: the platform stops a job by restarting its worker), ``retry`` (a
``failed`` or ``timed_out`` job goes back to the queue with the same id: ``retry_refusal`` is
that rule, which the HTTP API asks too) and ``purge`` (every queued job ends ``cancelled``); a
submitted job may be low priority (queued and run, but never a reason to scale up). A
job's TTL may be shorter than the endpoint's ``job_ttl``, not longer: the queue expires every
job at the endpoint's TTL. Sees the endpoint core only through ``ports.CorePort``: it reads the
job records and changes them through the core's methods. No simpy, asyncio or clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simserve.endpoint.effects import TimerKind
from simserve.records import JobStatus

if TYPE_CHECKING:
    from simserve.endpoint.ports import CorePort

IN_QUEUE, IN_PROGRESS = JobStatus.IN_QUEUE, JobStatus.IN_PROGRESS
FAILED, CANCELLED, TIMED_OUT = JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT

#: retry tokens start here in an open workload (job indices grow without bound below it)
OPEN_TOKEN_BASE = 1 << 52

#: the statuses a client may retry from
RETRYABLE = frozenset({int(FAILED), int(TIMED_OUT)})


def retry_refusal(status: int) -> str | None:
    """Why a job with ``status`` cannot be retried, or None when it can (only failed or timed-out jobs).

    >>> retry_refusal(JobStatus.TIMED_OUT) is None
    True
    >>> retry_refusal(JobStatus.COMPLETED)
    'only FAILED or TIMED_OUT jobs retry'
    """
    return None if status in RETRYABLE else "only FAILED or TIMED_OUT jobs retry"


class JobOps:
    """Run-time jobs of one endpoint core (created by ``EndpointCore.open_workload``)."""

    def __init__(self, core: CorePort) -> None:
        self.core = core
        self.exec_timeout: dict[int, float] = {}  # job -> its own execution timeout (s)
        self.ttl: dict[int, float] = {}  # job -> its own TTL (s), shorter than the endpoint's
        self.counts = {"api_cancels": 0, "api_retries": 0, "purged": 0, "ttl_expired": 0}

    # ------------------------------------------------------------------ arrivals
    def submit(
        self,
        now: float,
        exec_timeout_s: float | None = None,
        ttl_s: float | None = None,
        low_priority: bool = False,
        tokens: tuple[int, int] | None = None,
    ) -> int:
        """A job arrives now: it is appended to the workload and arrives like any other; returns its index.

        ``low_priority`` (the API's ``policy.lowPriority``): it runs on a free worker but never triggers a
        scale-up (``EndpointCore.mark_low``). The scenario's workload shares draw nothing for it. ``tokens``:
        an LLM run's job's input and output tokens (what the batching engine runs)."""
        core = self.core
        j = core.add_job(now, tokens)
        if low_priority:
            core.mark_low(j)
        if exec_timeout_s is not None and exec_timeout_s > 0:
            self.exec_timeout[j] = exec_timeout_s
        if ttl_s is not None and 0 < ttl_s < core.ttl:
            self.ttl[j] = ttl_s
            core.timer_at(now + ttl_s, TimerKind.JOB_TTL, j)
        core.arrive(j, now, fresh=False)
        return j

    def limit(self, j: int, now: float, limit_s: float) -> float:
        """How long job ``j`` may run from ``now``: ``limit_s`` (the endpoint's rule), or less by its own policy."""
        if j in self.exec_timeout:
            limit_s = min(limit_s, self.exec_timeout[j])
        if j in self.ttl:
            limit_s = min(limit_s, self.core.arr[j] + self.ttl[j] - now)
        return limit_s

    def on_ttl(self, j: int) -> None:
        """Job ``j``'s own TTL ran out: a job still waiting (queued or bound to a start) times out."""
        core = self.core
        if core.status[j] != IN_QUEUE or not self._unqueue(j):
            return
        core.close_job(j, TIMED_OUT, core.now)
        self.counts["ttl_expired"] += 1

    # ------------------------------------------------------------------ client calls
    def cancel(self, j: int, now: float) -> bool:
        """Cancel job ``j``: False when it had already ended (or is unknown to the queue and the workers)."""
        core = self.core
        status = core.status[j]
        if status == IN_PROGRESS:  # its run ends cancelled and the core restarts its worker
            core.cancel_run(j, now)
        elif status == IN_QUEUE and self._unqueue(j):
            core.close_job(j, CANCELLED, now)
        else:
            return False
        self.counts["api_cancels"] += 1
        return True

    def retry(self, j: int, now: float) -> bool:
        """A ``failed`` or ``timed_out`` job goes back to the queue (same job, its TTL from submission);
        False when ``retry_refusal`` refuses it."""
        core = self.core
        if retry_refusal(core.status[j]) is not None:
            return False
        core.reset_job(j)
        self.counts["api_retries"] += 1
        if j in self.ttl:
            left = core.arr[j] + self.ttl[j] - now
            core.timer_at(now + max(left, 0.0), TimerKind.JOB_TTL, j)
        core.requeue(j, now)
        return True

    def purge(self, now: float) -> list[int]:
        """Every queued job ends ``cancelled`` (running ones go on); returns them."""
        core = self.core
        removed = []
        core.queue.purge(now)  # those past the TTL time out first
        for j in core.queue.drain():
            if core.status[j] == IN_QUEUE:
                core.close_job(j, CANCELLED, now)
                removed.append(j)
        self.counts["purged"] += len(removed)
        return removed

    # ------------------------------------------------------------------ helpers
    def _unqueue(self, j: int) -> bool:
        """Take waiting job ``j`` out of the queue or off the start it is bound to (per_request)."""
        core = self.core
        if core.queue.remove(j):
            return True
        for w in core.workers:
            if j in w.bound:
                w.bound.remove(j)
                return True
        return False

    def finish(self, counters: dict[str, int]) -> None:
        counters.update({k: v for k, v in self.counts.items() if v})
