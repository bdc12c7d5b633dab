"""The live executor's endpoint state machine: the simulator's semantics, with no clock and no I/O.

Owns ``Dispatcher``: the queue, the worker slots on local hosts (GPU or CPU slots), the
``EndpointView`` it builds for the policy (field for field as ``sim.engine.Engine.view``),
how it applies the policy's actions, and what happens on arrivals, readiness, job ends,
crashes, start failures and timeouts. Every event method takes ``now_s`` (scenario seconds)
and returns ``Effect``s (launch a worker, send a job, halt a worker, arm a timer) that the
asyncio executor performs. Synchronous, so the parity test can drive it with a fake clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

from simserve.endpoint import JobQueue, apply_actions, make_endpoint_view
from simserve.policy import (
    Action, Autoscaler, EndpointView, HostView, Reject, SlotView, StartWorkers, WorkerView,
    choose_host, choose_retirement, choose_revival,
)
from simserve.records import (
    J_CANCELLED, J_DONE, J_FAILED, J_PROGRESS, J_QUEUE, J_REJECTED, J_TIMED_OUT, P_BUSY, P_CONTAINER, P_FLASHBOOT,
    P_NONE, P_PULL, P_WARM, PHASES, S_IDLE, S_INIT, S_OUTDATED, S_RUN, S_UNHEALTHY, STATES, TRANSITIONS,
    IllegalTransition, Recorder, WorkerMeta,
)
from simserve.scenario import Scenario

_STATUS = {"completed": J_DONE, "failed": J_FAILED, "timed_out": J_TIMED_OUT, "cancelled": J_CANCELLED}


@dataclass(frozen=True)
class Launch:
    worker_id: int
    host: int
    epoch: int


@dataclass(frozen=True)
class Send:
    worker_id: int
    job: int
    epoch: int
    limit_s: float  # execution limit in scenario seconds


@dataclass(frozen=True)
class Halt:
    worker_id: int


@dataclass(frozen=True)
class Suspend:
    """FlashBoot: freeze a scaled-down worker's process instead of stopping it."""

    worker_id: int


@dataclass(frozen=True)
class Resume:
    """FlashBoot: thaw a suspended worker on its own host; it is ready as soon as it runs."""

    worker_id: int
    epoch: int


@dataclass(frozen=True)
class Timer:
    at_s: float
    kind: str  # "idle" | "recover" | "evict"
    worker_id: int


Effect = Union[Launch, Send, Halt, Suspend, Resume, Timer]


class LiveWorker:
    """One worker slot; survives scale-down as an ``idle`` slot whose host keeps the image."""

    __slots__ = ("wid", "kind", "seq", "host", "state", "phase", "since", "jobs", "idle_since",
                 "expiry_pending", "stopped_at", "stop_seq", "epoch", "bound", "retired", "fails",
                 "suspended")

    def __init__(self, wid: int, kind: str, seq: int, now: float) -> None:
        self.wid, self.kind, self.seq = wid, kind, seq
        self.host = -1
        self.state, self.phase, self.since = S_IDLE, P_NONE, now
        self.jobs: set[int] = set()
        self.idle_since = -1.0
        self.expiry_pending = False
        self.stopped_at = -1.0
        self.stop_seq = -1
        self.epoch = 0
        self.bound: list[int] = []
        self.retired = False
        self.fails = 0  # consecutive faults since the worker was last ready (retry backoff)
        self.suspended = False  # FlashBoot: its process is frozen, resumable on its host


class Dispatcher:
    """Endpoint state for one live run on ``len(host_gpu)`` local hosts (one worker each)."""

    def __init__(self, scenario: Scenario, rec: Recorder, scaler: Autoscaler, host_gpu: list[str],
                 unhealthy_retry_s: float = 3600.0) -> None:
        ep = scenario.endpoint
        self.sc, self.rec, self.scaler = scenario, rec, scaler
        self.arr = [float(a) for a in rec.arrival_s]
        self.cap, self.conc, self.ttl = ep.worker_cap, ep.concurrency, ep.job_ttl
        self.exec_timeout, self.idle_timeout = ep.execution_timeout, ep.idle_timeout
        self.slots_max = self.cap + ep.extra_workers
        self.unhealthy_retry_s = unhealthy_retry_s
        rec.host_gpu = list(host_gpu)
        self.host_free = [True] * len(host_gpu)
        self.host_cached: set[int] = set()
        self.workers: list[LiveWorker] = []
        self.scaled_down: list[LiveWorker] = []
        self.queue = JobQueue(self.arr, self.ttl, self._expire)  # the simulator's queue class
        self.in_progress = self.n_starting = self.n_ready = self.n_alive = 0
        self._seq = 0
        self._stop_seq = 0
        self.counters: dict[str, int] = {"cold_starts": 0, "pulls": 0, "scale_downs": 0, "crashes": 0,
                                         "start_failures": 0}

    # ------------------------------------------------------------------ views (as Engine.view)
    @property
    def n_free(self) -> int:
        return sum(1 for w in self.workers if w.state == S_RUN and len(w.jobs) < self.conc)

    def view(self, now: float) -> EndpointView:
        idle_ids: tuple[int, ...] = ()
        if self.scaler.wants_idle_ids:
            idle_ids = tuple(w.wid for w in self.workers
                             if w.kind == "flex" and w.state == S_RUN and not w.jobs and not w.retired)
        return make_endpoint_view(
            now, self.queue, self.scaler.delay_s, in_progress=self.in_progress, n_starting=self.n_starting,
            n_ready=self.n_ready, n_free=self.n_free, n_alive=self.n_alive, n_scaled_down=len(self.scaled_down),
            active_workers=self.sc.endpoint.active_workers, cap=self.cap, idle_flex_ids=idle_ids,
        )

    def worker_view(self, w: LiveWorker) -> WorkerView:
        return WorkerView(w.wid, w.kind, STATES[w.state], len(w.jobs), w.seq, w.idle_since, w.host)

    def _enter(self, w: LiveWorker, state: int, phase: int, now: float) -> None:
        if state != w.state and state not in TRANSITIONS[w.state]:
            raise IllegalTransition(f"worker {w.wid}: {STATES[w.state]} -> {STATES[state]}")
        if now > w.since:
            self.rec.interval(w.wid, w.state, w.phase, w.since, now, w.host)
            w.since = now
        w.state, w.phase = state, phase

    # ------------------------------------------------------------------ actions (as Engine._apply)
    def start(self, now: float) -> list[Effect]:
        """Start the always-on active workers."""
        out: list[Effect] = []
        for _ in range(self.sc.endpoint.active_workers):
            self._scale_up("active", now, out, kind="active")
        return out

    def apply(self, actions: list[Action], now: float, out: list[Effect]) -> None:
        """Carry out actions exactly as the simulator does (``simserve.endpoint.apply_actions``)."""
        apply_actions(
            actions, at_cap=lambda: self.n_alive >= self.cap,
            scale_up=lambda r: self._scale_up(r, now, out) is not None,
            can_stop=lambda wid: (w := self.workers[wid]).state == S_RUN and not w.jobs and w.kind == "flex",
            stop=lambda wid: self._scale_down(self.workers[wid], now, out),
            record=lambda kind, value, reason: self.rec.action(now, kind, value, reason))

    def _scale_up(self, reason: str, now: float, out: list[Effect], kind: str = "flex") -> LiveWorker | None:
        """As ``Engine._scale_up``: revive the most recently scaled-down slot (own host if free), else a new worker."""
        if self.scaled_down and kind == "flex":
            wid = choose_revival([SlotView(w.wid, w.host, w.stop_seq) for w in self.scaled_down])
            assert wid is not None
            w = self.workers[wid]
            self.scaled_down.remove(w)
            host = w.host if w.host >= 0 and self.host_free[w.host] else self._place()
            if host is None:
                self._park(w)
                self.counters["no_capacity"] = self.counters.get("no_capacity", 0) + 1
                return None
            return self._start(w, host, now, out)
        host = self._place()
        if host is None:
            self.counters["no_capacity"] = self.counters.get("no_capacity", 0) + 1
            return None
        w = LiveWorker(len(self.workers), kind, self._seq, now)
        self._seq += 1
        self.workers.append(w)
        self.rec.workers.append(WorkerMeta(w.wid, kind, now))
        return self._start(w, host, now, out)

    def _place(self) -> int | None:
        views = [HostView(h, g, 0, 1, h in self.host_cached, False)
                 for h, g in enumerate(self.rec.host_gpu) if self.host_free[h]]
        return choose_host(views, 1)

    def _park(self, w: LiveWorker) -> None:
        w.stop_seq = self._stop_seq
        self._stop_seq += 1
        self.scaled_down.append(w)

    def _start(self, w: LiveWorker, host: int, now: float, out: list[Effect]) -> LiveWorker:
        """Start ``w`` on ``host``: a FlashBoot resume when its frozen process is there and in the window
        (as the simulator: same host, within ``cold_start.flashboot_window``), else a cold start."""
        flash = w.suspended and host == w.host and now - w.stopped_at <= self.sc.cold_start.flashboot_window
        for v in self.workers:  # a frozen process holds its host: evict it before another worker starts there
            if v.suspended and v.host == host and v is not w:
                self._evict(v, out)
        if w.suspended and not flash:
            self._evict(w, out)
        w.host = host
        self.host_free[host] = False
        w.epoch += 1
        self.n_alive += 1
        self.n_starting += 1
        if flash:
            w.suspended = False
            self.counters["flashboot_resumes"] = self.counters.get("flashboot_resumes", 0) + 1
            self._enter(w, S_INIT, P_FLASHBOOT, now)
            out.append(Resume(w.wid, w.epoch))
            return w
        self.counters["cold_starts"] += 1
        self._enter(w, S_INIT, P_CONTAINER if host in self.host_cached else P_PULL, now)
        out.append(Launch(w.wid, host, w.epoch))
        return w

    def _evict(self, w: LiveWorker, out: list[Effect]) -> None:
        """Drop a frozen FlashBoot process (window over, host needed, or slot retired)."""
        if w.suspended:
            w.suspended = False
            out.append(Halt(w.wid))

    def evict_check(self, wid: int, now: float) -> list[Effect]:
        """The FlashBoot window of a scaled-down worker may be over: stop its frozen process."""
        out: list[Effect] = []
        w = self.workers[wid]
        if w.suspended and now >= w.stopped_at + self.sc.cold_start.flashboot_window - 1e-9:
            self._evict(w, out)
        return out

    def _scale_down(self, w: LiveWorker, now: float, out: list[Effect]) -> None:
        self.n_ready -= 1
        self.n_alive -= 1
        self._enter(w, S_IDLE, P_NONE, now)
        self._release(w, now, out, suspend=self.sc.endpoint.flashboot)
        self._park(w)
        self.counters["scale_downs"] += 1
        while self.n_alive + len(self.scaled_down) > self.slots_max and self.scaled_down:
            wid = choose_retirement([SlotView(s.wid, s.host, s.stop_seq) for s in self.scaled_down])
            old = self.workers[wid]  # type: ignore[index]
            self.scaled_down.remove(old)
            self._evict(old, out)
            self._close(old, now)
            old.retired = True
            self.counters["retired"] = self.counters.get("retired", 0) + 1

    def _release(self, w: LiveWorker, now: float, out: list[Effect], suspend: bool = False) -> None:
        """The worker's process goes away (scale-down or fault), or is frozen for FlashBoot; its host
        keeps the image."""
        self.host_free[w.host] = True
        w.stopped_at = now
        w.idle_since = -1.0
        w.epoch += 1
        if suspend:
            w.suspended = True
            out.append(Suspend(w.wid))
            out.append(Timer(now + self.sc.cold_start.flashboot_window, "evict", w.wid))
        else:
            out.append(Halt(w.wid))

    def _close(self, w: LiveWorker, now: float) -> None:
        if now > w.since:
            self.rec.interval(w.wid, w.state, w.phase, w.since, now, w.host)
            w.since = now

    # ------------------------------------------------------------------ events from the runtime
    def current(self, wid: int, epoch: int) -> bool:
        w = self.workers[wid]
        return w.epoch == epoch and w.state in (S_INIT, S_RUN, S_OUTDATED)

    def phase(self, wid: int, epoch: int, name: str, now: float) -> None:
        """A cold-start phase began (measured by the runtime or the worker)."""
        w = self.workers[wid]
        if w.epoch == epoch and w.state == S_INIT and name in PHASES and PHASES.index(name) != w.phase:
            self._enter(w, S_INIT, PHASES.index(name), max(now, w.since))

    def ready(self, wid: int, epoch: int, now: float) -> list[Effect]:
        out: list[Effect] = []
        w = self.workers[wid]
        if w.epoch != epoch or w.state != S_INIT:
            return out
        now = max(now, w.since)
        if w.phase == P_PULL or w.host not in self.host_cached:
            self.counters["pulls"] += w.phase == P_PULL
            self.host_cached.add(w.host)
        self.n_starting -= 1
        self.n_ready += 1
        self._enter(w, S_RUN, P_WARM, now)
        w.idle_since = now
        w.fails = 0
        bound, w.bound = w.bound, []
        for j in bound:
            self._begin_job(w, j, now, True, out)
        while len(w.jobs) < self.conc:
            j = self.queue.pop(now)
            if j < 0:
                break
            self._begin_job(w, j, now, True, out)
        if not w.jobs:
            self._arm_idle(w, now, out)
        return out

    def start_failed(self, wid: int, epoch: int, now: float) -> list[Effect]:
        """Init crashed or errored: the worker is ``unhealthy``; jobs waiting on it are retried."""
        w = self.workers[wid]
        if w.epoch != epoch or w.state != S_INIT:
            return []
        self.counters["start_failures"] += 1
        self.n_starting -= 1
        return self._fault(w, max(now, w.since))

    def crashed(self, wid: int, epoch: int, now: float) -> list[Effect]:
        """The worker process died while ready: ``unhealthy``, its running jobs requeued."""
        w = self.workers[wid]
        if w.epoch != epoch or w.state not in (S_RUN, S_OUTDATED):
            return []
        self.counters["crashes"] += 1
        self.n_ready -= 1
        return self._fault(w, max(now, w.since))

    def _fault(self, w: LiveWorker, now: float) -> list[Effect]:
        out: list[Effect] = []
        self.n_alive -= 1
        self._enter(w, S_UNHEALTHY, P_NONE, now)
        self._release(w, now, out)
        lost = sorted(w.jobs) + w.bound
        self.in_progress -= len(w.jobs)
        w.jobs, w.bound = set(), []
        for j in lost:
            self._requeue(j, now, out)
        w.fails += 1  # as the simulator: the retry delay doubles with each consecutive failure
        out.append(Timer(now + self.unhealthy_retry_s * 2.0 ** (w.fails - 1), "recover", w.wid))
        if self.scaler.queues and self.n_alive == 0 and self.queue:
            self.apply(self.scaler.on_arrival(self.view(now)), now, out)
        return out

    def _requeue(self, j: int, now: float, out: list[Effect]) -> None:
        rec = self.rec
        rec.retries += 1
        rec.status[j], rec.start_s[j], rec.worker[j], rec.cold[j] = J_QUEUE, math.nan, -1, 0
        if self.scaler.queues:
            w = self._free_worker()
            if w is not None:
                self._begin_job(w, j, now, False, out)
            else:
                self.queue.requeue(j)
        else:
            self._route_unqueued(j, now, out)

    def recover(self, wid: int, now: float) -> None:
        """Unhealthy retry time reached: the slot becomes a scaled-down ``idle`` slot again."""
        w = self.workers[wid]
        if w.state == S_UNHEALTHY and not w.retired:
            self._enter(w, S_IDLE, P_NONE, now)
            self._park(w)

    # ------------------------------------------------------------------ jobs (as Engine)
    def _free_worker(self) -> LiveWorker | None:
        best: LiveWorker | None = None
        for w in self.workers:  # NewestFirst: the newest-created worker with a free slot
            if w.state == S_RUN and len(w.jobs) < self.conc and (best is None or w.seq > best.seq):
                best = w
        return best

    def arrive(self, j: int, now: float) -> list[Effect]:
        out: list[Effect] = []
        w = self._free_worker() if self.n_ready else None
        if w is not None:
            self._begin_job(w, j, now, False, out)
        elif self.scaler.queues:
            self.queue.append(j)
            if self.n_alive == 0:
                self.apply(self.scaler.on_arrival(self.view(now)), now, out)
        else:
            self._route_unqueued(j, now, out)
        return out

    def _route_unqueued(self, j: int, now: float, out: list[Effect]) -> None:
        w = self._free_worker() if self.n_ready else None
        if w is not None:
            self._begin_job(w, j, now, False, out)
            return
        for a in self.scaler.on_arrival(self.view(now)):
            if isinstance(a, StartWorkers):
                nw = self._scale_up(a.reason, now, out)
                if nw is not None:
                    self.rec.action(now, "start_workers", 1, a.reason)
                    nw.bound.append(j)
                    return
            if isinstance(a, (Reject, StartWorkers)):
                self.rec.status[j] = J_REJECTED
                self.rec.end_s[j] = now
                return

    def tick(self, now: float) -> list[Effect]:
        out: list[Effect] = []
        self.queue.purge(now)
        self.apply(self.scaler.tick(self.view(now)), now, out)
        return out

    def _expire(self, j: int) -> None:
        self.rec.status[j] = J_TIMED_OUT
        self.rec.end_s[j] = self.arr[j] + self.ttl

    def _begin_job(self, w: LiveWorker, j: int, now: float, cold: bool, out: list[Effect]) -> None:
        rec = self.rec
        rec.start_s[j], rec.worker[j], rec.status[j] = now, w.wid, J_PROGRESS
        if cold:
            rec.cold[j] = 1
        if not w.jobs:
            self._enter(w, w.state, P_BUSY, now)
            w.idle_since = -1.0
        w.jobs.add(j)
        self.in_progress += 1
        out.append(Send(w.wid, j, w.epoch, min(self.exec_timeout, self.arr[j] + self.ttl - now)))

    def job_done(self, wid: int, j: int, status: str, now: float) -> list[Effect]:
        """A job ended on its worker: completed, failed or timed_out (a timed-out worker restarts)."""
        out: list[Effect] = []
        w = self.workers[wid]
        if j not in w.jobs:
            return out  # already requeued after a crash
        now = max(now, w.since)
        self.rec.end_s[j], self.rec.status[j] = now, _STATUS[status]
        w.jobs.discard(j)
        self.in_progress -= 1
        if status == "timed_out":  # the process was killed to stop the job: restart it in place
            others = sorted(w.jobs)
            self.in_progress -= len(others)
            w.jobs = set()
            self._enter(w, S_IDLE, P_NONE, now)
            self._release(w, now, out)
            self.n_ready -= 1
            self.n_alive -= 1
            self._start(w, w.host, now, out)
            for other in others:
                self._requeue(other, now, out)
            return out
        if self.queue:
            nj = self.queue.pop(now)
            if nj >= 0:
                self._begin_job(w, nj, now, False, out)
                return out
        if not w.jobs:
            self._enter(w, w.state, P_WARM, now)
            self._arm_idle(w, now, out)
        return out

    # ------------------------------------------------------------------ idle timeout (as Engine)
    def _arm_idle(self, w: LiveWorker, now: float, out: list[Effect]) -> None:
        w.idle_since = now
        if w.kind == "flex" and self.scaler.uses_idle_timeout and not w.expiry_pending:
            w.expiry_pending = True
            out.append(Timer(now + self.idle_timeout, "idle", w.wid))

    def idle_check(self, wid: int, now: float) -> list[Effect]:
        out: list[Effect] = []
        w = self.workers[wid]
        w.expiry_pending = False
        if w.state != S_RUN or w.jobs or w.idle_since < 0:
            return out
        deadline = w.idle_since + self.idle_timeout
        if now < deadline:
            w.expiry_pending = True
            out.append(Timer(deadline, "idle", w.wid))
            return out
        self.apply(self.scaler.on_idle_timeout(self.view(now), self.worker_view(w)), now, out)
        return out

    # ------------------------------------------------------------------ end of run
    def finish(self, now: float) -> list[Effect]:
        """End of the run: running and queued jobs are cancelled, every worker's interval closed."""
        out: list[Effect] = []
        rec = self.rec
        for w in self.workers:
            for j in sorted(w.jobs) + w.bound:
                rec.status[j], rec.end_s[j] = J_CANCELLED, now
            w.jobs, w.bound = set(), []
            if not w.retired:
                self._close(w, now)
            if w.state in (S_INIT, S_RUN, S_OUTDATED):
                w.epoch += 1
                out.append(Halt(w.wid))
            self._evict(w, out)
        for j in self.queue.drain():
            if self.arr[j] + self.ttl <= now:
                self._expire(j)
            else:
                rec.status[j], rec.end_s[j] = J_CANCELLED, now
        self.in_progress = 0
        rec.notes.update(self.counters)
        return out
