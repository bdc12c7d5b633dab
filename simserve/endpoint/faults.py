"""Worker faults as state transitions: failed and over-long starts, crashes, restarts, job retries.

Owns the ``faults:`` section and what happens when a worker fails, injected or real. A start
fails at its end with probability ``init_failure_prob`` (or a real worker exits during its
start), or is cut at ``init_timeout``; a ready worker (running or outdated) crashes at
``crash_rate_per_hour`` (or its real process dies). Either way the worker becomes ``unhealthy``
(not billed), keeps its slot, and is retried after ``unhealthy_retry`` doubling per consecutive
failure, until ``unhealthy_give_up``. Jobs on a failed worker go back to the queue in arrival
order (normally the front) up to ``retry_limit`` times, then fail. A job over its execution
limit ends ``timed_out`` and its worker restarts in place (the platform stops a job by
restarting its worker). Without a ``faults:`` section nothing is injected, but the init timeout
(7 min by default, the platform's limit) still applies to every start; real failures (live) follow
the same rules with the section's defaults.
Sees the endpoint core only through ``ports.CorePort``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simserve.endpoint.effects import StopWorker, TimerKind
from simserve.records import JobStatus, Phase, WorkerState
from simserve.scenario import FaultsConfig

if TYPE_CHECKING:
    from simserve.endpoint.ports import CorePort
    from simserve.endpoint.workers import Worker

INIT, IDLE, RUNNING = WorkerState.INITIALIZING, WorkerState.IDLE, WorkerState.RUNNING
OUTDATED, UNHEALTHY = WorkerState.OUTDATED, WorkerState.UNHEALTHY
FAILED = int(JobStatus.FAILED)


class FaultRules:
    """Fault injection and recovery for one endpoint run (the ``faults:`` section is ``FaultsConfig``)."""

    def __init__(self, core: CorePort) -> None:
        self.core = core
        self.injected = core.sc.faults is not None
        self.cfg = core.sc.faults if core.sc.faults is not None else FaultsConfig()
        self.rng = core.streams.get("faults")
        self.attempts: dict[int, int] = {}  # job -> times it was requeued
        self.counts = {
            "crashes": 0,
            "init_failures": 0,
            "init_timeouts": 0,
            "retries": 0,
            "unhealthy_retries": 0,
            "gave_up": 0,
            "failed_after_retries": 0,
            "exec_timeouts": 0,
            "refreshes": 0,
        }

    # ------------------------------------------------------------------ hooks from the core
    def on_start(self, w: Worker) -> None:
        """A start begins: decide whether it fails (injected), arm the init timeout (every start: a real
        one may last longer than planned)."""
        cfg = self.cfg
        w.init_fail = self.injected and cfg.init_failure_prob > 0 and float(self.rng.random()) < cfg.init_failure_prob
        self.core.timer(cfg.init_timeout, TimerKind.INIT_TIMEOUT, (w.wid, w.epoch))

    def on_ready(self, w: Worker) -> None:
        """``w`` became ready: its failure run ends; draw its time to crash."""
        w.fails = 0
        w.first_fail_s = -1.0
        if self.injected and self.cfg.crash_rate_per_hour > 0:
            w.crash_epoch += 1
            self.core.timer(
                float(self.rng.exponential(3600.0 / self.cfg.crash_rate_per_hour)),
                TimerKind.CRASH,
                (w.wid, w.crash_epoch),
            )

    def on_timer(self, kind: TimerKind, arg: object) -> None:
        assert isinstance(arg, tuple)
        wid, epoch = arg
        w = self.core.workers[wid]
        if kind == TimerKind.INIT_TIMEOUT:
            if w.epoch == epoch and w.state == INIT:
                self.unhealthy(w, "init_timeouts", kill=True)
        elif kind == TimerKind.CRASH:
            if w.crash_epoch == epoch and w.state in (RUNNING, OUTDATED):
                self.unhealthy(w, "crashes", kill=True)
        elif w.epoch == epoch and w.state == UNHEALTHY:
            if kind == TimerKind.UNHEALTHY_RETRY:
                self._retry(w)
            else:
                self._give_up(w)

    def finish(self, counters: dict[str, int]) -> None:
        counters.update(self.counts)

    # ------------------------------------------------------------------ transitions
    def unhealthy(self, w: Worker, reason: str, kill: bool = False) -> None:
        """Take ``w`` out of service as ``unhealthy``: free its GPUs, requeue its jobs, arm the retry."""
        core = self.core
        now = core.now
        self.counts[reason] += 1
        jobs = core.take_out(w)
        w.retire_on_drain = False
        core.enter(w, UNHEALTHY, Phase.NONE)
        core.out.append(StopWorker(w.wid, kill=kill))
        core.n_held += 1
        core.release(w)
        w.stopped_at = -1.0  # no FlashBoot from a failed worker
        if w.fails == 0:
            w.first_fail_s = now
        w.fails += 1
        delay = self.cfg.unhealthy_retry * 2.0 ** (w.fails - 1)
        if now + delay - w.first_fail_s > self.cfg.unhealthy_give_up:
            core.timer(max(0.0, w.first_fail_s + self.cfg.unhealthy_give_up - now), TimerKind.GIVE_UP, (w.wid, w.epoch))
        else:
            core.timer(delay, TimerKind.UNHEALTHY_RETRY, (w.wid, w.epoch))
        self.requeue(jobs)
        core.resume_rollout()

    def restart(self, w: Worker, reason: str = "exec_timeouts") -> None:
        """A job on ``w`` overran its limit (or was cancelled, or asked for a refresh: ``reason``): the
        platform restarts the worker in place (a cold start on its host, no FlashBoot), or on another host
        when its own is full, or not at all when max workers is reached meanwhile; its other jobs are
        requeued. A retiring worker just retires."""
        core = self.core
        self.counts[reason] = self.counts.get(reason, 0) + 1
        retire = w.retire_on_drain
        jobs = core.take_out(w)
        w.retire_on_drain = False
        core.enter(w, IDLE, Phase.NONE)
        core.out.append(StopWorker(w.wid, kill=True))
        core.release(w)
        w.stopped_at = -1.0
        if retire:
            w.dropped = True
        else:
            host = w.host
            assert host is not None
            target = host if host.free >= core.gpus_per_worker else core.place()
            # the GPUs given back above may have started a throttled slot (``Tenants.on_release``): max workers
            # still holds, so then the restarted worker is scaled down instead
            if target is None or core.n_alive >= core.cap:
                core.park(w)
                core.trim_slots()
            else:
                core.start_on(w, target)
        self.requeue(jobs)
        core.resume_rollout()

    def _retry(self, w: Worker) -> None:
        """The platform retries an unhealthy slot: active workers start again, flex slots scale down to idle."""
        core = self.core
        self.counts["unhealthy_retries"] += 1
        assert w.host is not None
        if w.kind == "active":
            host = w.host if w.host.free >= core.gpus_per_worker else core.place()
            if host is None or core.n_alive >= core.cap:  # no room now: the platform tries again later
                core.timer(self.cfg.unhealthy_retry, TimerKind.UNHEALTHY_RETRY, (w.wid, w.epoch))
                return
            core.n_held -= 1
            core.start_on(w, host)
            return
        core.n_held -= 1
        core.enter(w, IDLE, Phase.NONE)
        core.park(w)
        core.trim_slots()

    def _give_up(self, w: Worker) -> None:
        self.counts["gave_up"] += 1
        self.core.n_held -= 1
        w.dropped = True  # stays as an idle row to the horizon; never revived
        self.core.enter(w, IDLE, Phase.NONE)

    # ------------------------------------------------------------------ jobs
    def requeue(self, jobs: list[int]) -> None:
        """Put jobs back at the front of the queue (oldest first), or fail those past the retry limit."""
        core = self.core
        now = core.now
        keep: list[int] = []
        for j in jobs:
            n = self.attempts.get(j, 0) + 1
            self.attempts[j] = n
            if n > self.cfg.retry_limit:
                core.requeue_token(j)  # its run's end, if it comes, is stale
                core.close_job(j, FAILED, now)
                self.counts["failed_after_retries"] += 1
                continue
            core.reset_job(j)
            self.counts["retries"] += 1
            core.rec.retries += 1
            keep.append(j)
        if not keep:
            return
        if not core.scaler.queues:  # per_request: a retried job is dispatched like a new arrival
            for j in keep:
                core.arrive(j, now, fresh=False)
            return
        for j in keep:
            core.queue.requeue(j, j in core.low)
        core.dispatch_queued()
