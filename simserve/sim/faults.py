"""Worker faults: failed and over-long cold starts, crashes, unhealthy slots and job retries.

Owns the ``faults:`` section at run time. A cold start fails at its end with probability
``init_failure_prob``, or is cut at ``init_timeout``; a ready worker (running or outdated)
crashes at ``crash_rate_per_hour``. Either way the worker becomes ``unhealthy`` (not billed),
keeps its slot, and is retried after ``unhealthy_retry`` doubling per consecutive failure,
until ``unhealthy_give_up``. Jobs on a crashed worker go back to the queue in arrival order (a retry,
normally at the front) up to ``retry_limit`` times, then fail. Imports no simpy: it schedules on the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simserve.records import J_FAILED, P_NONE, S_IDLE, S_INIT, S_OUTDATED, S_RUN, S_UNHEALTHY
from simserve.sim.loop import Call
from simserve.sim.worker import Worker, enter

if TYPE_CHECKING:
    from simserve.sim.engine import Engine


def _noop(_: Any) -> None:
    """Stands in for a cancelled job completion left on the event queue."""


class Faults:
    """Fault injection and recovery for one engine run."""

    def __init__(self, engine: Engine) -> None:
        self.eng = engine
        self.cfg = engine.sc.faults
        assert self.cfg is not None
        self.rng = engine.streams.get("faults")
        self.attempts: dict[int, int] = {}  # job -> times it was requeued
        self.counts = {"crashes": 0, "init_failures": 0, "init_timeouts": 0, "retries": 0,
                       "unhealthy_retries": 0, "gave_up": 0, "failed_after_retries": 0}

    # ------------------------------------------------------------------ hooks from the engine
    def on_start(self, w: Worker, init_s: float) -> None:
        """A cold start of ``init_s`` seconds begins: decide whether it fails, arm the init timeout."""
        cfg = self.cfg
        w.init_fail = cfg.init_failure_prob > 0 and float(self.rng.random()) < cfg.init_failure_prob
        if init_s > cfg.init_timeout:
            self.eng.at(cfg.init_timeout, self._on_init_timeout, (w, w.epoch))

    def on_ready(self, w: Worker) -> None:
        """``w`` became ready: its failure run ends; draw its time to crash."""
        w.fails = 0
        w.first_fail_s = -1.0
        if self.cfg.crash_rate_per_hour > 0:
            w.crash_epoch += 1
            self.eng.at(float(self.rng.exponential(3600.0 / self.cfg.crash_rate_per_hour)), self._on_crash,
                        (w, w.crash_epoch))

    def finish(self, counters: dict[str, int]) -> None:
        counters.update(self.counts)

    # ------------------------------------------------------------------ events
    def _on_init_timeout(self, arg: tuple[Worker, int]) -> None:
        w, epoch = arg
        if w.epoch == epoch and w.state == S_INIT:
            self.unhealthy(w, "init_timeouts")

    def _on_crash(self, arg: tuple[Worker, int]) -> None:
        w, epoch = arg
        if w.crash_epoch == epoch and w.state in (S_RUN, S_OUTDATED):
            self.unhealthy(w, "crashes")

    def unhealthy(self, w: Worker, reason: str) -> None:
        """Take ``w`` out of service as ``unhealthy``: free its GPUs, requeue its jobs, arm the retry."""
        eng = self.eng
        now = eng.env._now  # type: ignore[attr-defined]
        self.counts[reason] += 1
        jobs = self._cancel_running(w) + w.bound
        w.bound = []
        if w.state == S_INIT:
            eng.n_starting -= 1
        elif w.state == S_RUN:
            eng.n_ready -= 1
            eng._unmark_free(w)
        eng.n_alive -= 1
        eng.in_progress -= w.jobs
        w.jobs = 0
        w.drain = False
        w.retire_on_drain = False
        w.epoch += 1  # pending cold-start phases go stale
        w.idle_since = -1.0
        enter(eng.rec, w, S_UNHEALTHY, P_NONE, now)
        eng.n_held += 1
        eng._release(w)
        w.stopped_at = -1.0  # no FlashBoot from a crashed worker
        if w.fails == 0:
            w.first_fail_s = now
        w.fails += 1
        delay = self.cfg.unhealthy_retry * 2.0 ** (w.fails - 1)
        if now + delay - w.first_fail_s > self.cfg.unhealthy_give_up:
            eng.at(max(0.0, w.first_fail_s + self.cfg.unhealthy_give_up - now), self._give_up, (w, w.epoch))
        else:
            eng.at(delay, self._retry, (w, w.epoch))
        self.requeue(jobs, now)
        if eng.timeline is not None:
            eng.timeline.pump()

    def _retry(self, arg: tuple[Worker, int]) -> None:
        """The platform retries an unhealthy slot: active workers cold start again, flex slots scale down to idle."""
        w, epoch = arg
        eng = self.eng
        if w.epoch != epoch or w.state != S_UNHEALTHY:
            return
        self.counts["unhealthy_retries"] += 1
        now = eng.env._now  # type: ignore[attr-defined]
        assert w.host is not None
        if w.kind == "active":
            host = w.host if w.host.free >= eng.gpw else eng._place()
            if host is None or eng.n_alive >= eng.cap:  # no room now: the platform tries again later
                eng.at(self.cfg.unhealthy_retry, self._retry, (w, w.epoch))
                return
            eng.n_held -= 1
            eng._start(w, host)
            return
        eng.n_held -= 1
        enter(eng.rec, w, S_IDLE, P_NONE, now)
        eng._park(w)
        eng._trim_slots(now)

    def _give_up(self, arg: tuple[Worker, int]) -> None:
        w, epoch = arg
        if w.epoch != epoch or w.state != S_UNHEALTHY:
            return
        self.counts["gave_up"] += 1
        self.eng.n_held -= 1
        w.dropped = True  # stays as an idle row to the horizon; never revived
        enter(self.eng.rec, w, S_IDLE, P_NONE, self.eng.env._now)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ jobs
    def _cancel_running(self, w: Worker) -> list[int]:
        """The jobs running on ``w``; their pending completions are neutralised in place.

        A scan of the event queue (only completions of running jobs, phase and timer events
        live there; arrivals do not), paid per crash so the per-job hot path stays as it is.
        """
        if not w.jobs:
            return []
        eng = self.eng
        owner, wid = eng.job_worker, w.wid
        jobs: list[int] = []
        queue = eng.env._queue  # type: ignore[attr-defined]
        for k, entry in enumerate(queue):
            ev = entry[3]
            if ev.__class__ is int:  # a bare job index: that job's completion
                j = ev
            elif getattr(ev, "fn", None) == eng._on_timeout:
                j = ev.arg
            else:
                continue
            if owner[j] == wid:
                # same (time, priority, id) key, so the heap order is untouched
                queue[k] = (entry[0], entry[1], entry[2], Call(_noop, j))
                jobs.append(j)
        return jobs

    def requeue(self, jobs: list[int], now: float) -> None:
        """Put jobs back at the front of the queue (oldest first), or fail those past the retry limit."""
        eng = self.eng
        rec = eng.rec
        keep: list[int] = []
        for j in jobs:
            n = self.attempts.get(j, 0) + 1
            self.attempts[j] = n
            if n > self.cfg.retry_limit:
                rec.status[j] = J_FAILED
                rec.end_s[j] = now
                self.counts["failed_after_retries"] += 1
                continue
            self.counts["retries"] += 1
            rec.retries += 1
            rec.start_s[j] = float("nan")
            rec.cold[j] = 0
            rec.worker[j] = -1
            keep.append(j)
        if not keep:
            return
        if not eng.scaler.queues:  # per_request: a retried job is dispatched like a new arrival
            for j in keep:
                eng._on_arrival(j)
            return
        for j in keep:
            eng.queue.requeue(j)
        self.dispatch(now)

    def dispatch(self, now: float) -> None:
        """Hand queued jobs to free workers (the queue only holds jobs while none is free), or start one."""
        eng = self.eng
        while eng.n_free and eng.queue:
            w = eng._pop_free()
            if w is None:
                break
            j = eng.queue.pop(now)
            if j < 0:
                eng._mark_free(w)
                break
            eng._begin_job(w, j, now, False)
            if w.jobs < eng.conc:
                eng._mark_free(w)
        if eng.queue and eng.n_alive == 0:
            eng._apply(eng.scaler.on_arrival(eng.view()))
