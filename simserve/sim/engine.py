"""The simulation engine: endpoint queue, dispatch, cold starts and the policy drivers.

Owns one run on a ``simpy.Environment``. Jobs are not SimPy processes (that idiom costs ~8x):
arrivals, job completions, cold-start phases and idle timers are plain callbacks scheduled
on SimPy's event queue (SimPy's monotone event id breaks ties deterministically), while the
autoscaler's control loop is an ordinary SimPy process. Per-event work is O(log workers):
free workers sit in a heap keyed by the routing policy. Decisions come only from
``simserve.policy``; records go to a ``Recorder``. Platform dynamics (other tenants, the
events timeline, faults) live in ``tenants.py``, ``timeline.py`` and ``faults.py`` and hook in
at worker start, readiness, scale-down and job end; each is ``None`` when its section is absent.
"""

from __future__ import annotations

from collections import deque
from heapq import heappop, heappush
from typing import Any, Callable

import numpy as np
import simpy

from simserve.policy import (
    Action,
    EndpointView,
    NewestFirst,
    Reject,
    StartWorkers,
    WorkerView,
    build_autoscaler,
)
from simserve.policy.placement import SPREAD_FROM, choose_pool
from simserve.records import (
    J_DONE, J_PROGRESS, J_QUEUE, J_REJECTED, J_TIMED_OUT, P_BUSY, P_HANDLER, P_MODEL_DL, P_NONE, P_PULL, P_WARM,
    S_IDLE, S_INIT, S_OUTDATED, S_RUN, Recorder, WorkerMeta,
)
from simserve.rng import Draws, RandomStreams
from simserve.scenario import Scenario
from simserve.sim.coldstart import cold_phases
from simserve.sim.faults import Faults
from simserve.endpoint import JobQueue, apply_actions
from simserve.sim.hosts import Host, HostIndex, build_hosts
from simserve.sim.loop import NORMAL, Call, step_until
from simserve.sim.tenants import Tenants
from simserve.sim.timeline import Timeline
from simserve.sim.views import endpoint_view, worker_view
from simserve.sim.worker import Worker, close, enter
from simserve.workload import Jobs, generate

ALIVE_STATES = frozenset({S_INIT, S_RUN, S_OUTDATED})


class Engine:
    """One simulation run. Build, ``run()``, then read ``rec``."""

    def __init__(self, scenario: Scenario, seed: int, jobs: Jobs | None = None) -> None:
        self.sc = scenario
        ep = scenario.endpoint
        self.streams = RandomStreams(seed)
        self.jobs = jobs if jobs is not None else generate(scenario, self.streams)
        self.arr = self.jobs.arrival_s.tolist()
        self.svc = self.jobs.service_s.tolist()
        self.n = len(self.arr)
        self.rec = Recorder(self.jobs.arrival_s)
        # the recorder's columns, bound once for the hot path
        self.start_s, self.end_s, self.status = self.rec.start_s, self.rec.end_s, self.rec.status
        self.job_worker, self.iv_extend = self.rec.worker, self.rec.iv_extend
        self.env = simpy.Environment()
        self.hosts: list[Host] = build_hosts(scenario)
        self.rec.host_gpu = [h.gpu for h in self.hosts]
        self.host_index = HostIndex(self.hosts, ep.gpus_per_worker, "image:0")
        self.scaler = build_autoscaler(ep.scaler)
        self.router = NewestFirst()
        self.conc = ep.concurrency
        self.gpw = ep.gpus_per_worker
        self.cap = ep.worker_cap
        self.slots_max = self.cap + ep.extra_workers
        self.exec_timeout = ep.execution_timeout
        self.ttl = ep.job_ttl
        self.idle_timeout = ep.idle_timeout
        self.workers: list[Worker] = []
        self.free: list[tuple[int, int, Worker]] = []  # (route key, free_epoch, worker)
        self.n_free = 0
        self.n_alive = 0
        self.n_starting = 0
        self.n_ready = 0
        self.in_progress = 0
        self.queue = JobQueue(self.arr, self.ttl, self._expire)  # shared with the live driver
        self.queues = self.scaler.queues
        self.parked: deque[Worker] = deque()  # scaled-down slots in stop order (lazy deletion)
        self.n_parked = 0
        self._stop_seq = 0
        self._seq = 0
        self.image_key = "image:0"
        cs = scenario.cold_start
        rng = self.streams.get("cold_start")
        self.d_container = Draws(cs.container_start, rng)
        self.d_handler = Draws(cs.handler_init, rng)
        self.d_flash = Draws(cs.flashboot_resume, rng)
        self.counters: dict[str, int] = {"cold_starts": 0, "flashboot_resumes": 0, "pulls": 0, "scale_downs": 0}
        # platform dynamics (issue #3): each is None when its scenario section is absent
        self.n_held = 0  # throttled + unhealthy slots: they hold a slot but not a place under max workers
        self.version = 0  # image version, bumped by each deploy
        self.pool_alive = [0] * len(ep.gpu)  # alive workers per GPU pool (priority index)
        self.tenants = Tenants(self) if any(h.other_tenants for h in scenario.hosts) else None
        self.faults = Faults(self) if scenario.faults is not None else None
        self.timeline = Timeline(self) if scenario.events else None

    # ------------------------------------------------------------------ scheduling
    def at(self, delay: float, fn: Callable[[Any], None], arg: Any) -> None:
        """Run ``fn(arg)`` after ``delay`` seconds (ties: FIFO by SimPy's event id)."""
        env = self.env
        heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), Call(fn, arg)))  # type: ignore[attr-defined]

    def run(self) -> Recorder:
        sc = self.sc
        if self.tenants is not None:
            self.tenants.start()
        if self.timeline is not None:
            self.timeline.start()
        for _ in range(sc.endpoint.active_workers):
            self._scale_up("active", kind="active")
        if self.scaler.uses_ticks:
            self.env.process(self._control_loop())
        step_until(self.env, self.arr, self._on_arrival, self._finish_job, sc.horizon)
        self._finish(sc.horizon)
        return self.rec

    def _control_loop(self) -> Any:
        interval = self.sc.endpoint.scaler_interval
        while True:
            yield self.env.timeout(interval)
            self.queue.purge(self.env._now)  # type: ignore[attr-defined]
            self._apply(self.scaler.tick(self.view()))

    # ------------------------------------------------------------------ views
    def view(self) -> EndpointView:
        return endpoint_view(self)

    def worker_view(self, w: Worker) -> WorkerView:
        return worker_view(w)

    # ------------------------------------------------------------------ actions
    def _apply(self, actions: list[Action]) -> None:
        now = self.env._now  # type: ignore[attr-defined]
        apply_actions(
            actions, at_cap=lambda: self.n_alive >= self.cap, scale_up=lambda r: self._scale_up(r) is not None,
            can_stop=lambda wid: self._stoppable(self.workers[wid]),
            stop=lambda wid: self._scale_down(self.workers[wid]),
            record=lambda kind, value, reason: self.rec.action(now, kind, value, reason))

    @staticmethod
    def _stoppable(w: Worker) -> bool:
        return w.state == S_RUN and w.jobs == 0 and w.kind == "flex"

    def _scale_up(self, reason: str, kind: str = "flex") -> Worker | None:
        """Revive the most recently scaled-down slot (on its host if it has room, else moved), else start a new worker.

        Scaled-down slots sit in a deque in stop order: ``choose_revival`` (most recent) is its
        right end and ``choose_retirement`` (least recent) its left end, so both are O(1).
        """
        while self.n_parked and kind == "flex":
            w = self._unpark(right=True)
            assert w.host is not None
            if w.host.free < self.gpw and self.tenants is not None:
                self.tenants.throttle(w)  # its host is taken: throttled; try the next slot (an extra worker)
                continue
            host = w.host if w.host.free >= self.gpw else self._place()
            if host is None:
                self._park(w)
                self.counters["no_capacity"] = self.counters.get("no_capacity", 0) + 1
                return None
            return self._start(w, host)
        if self.n_held and self.n_alive + self.n_parked + self.n_held >= self.slots_max:
            self.counters["no_slot"] = self.counters.get("no_slot", 0) + 1  # max + extra slots all held
            return None
        host = self._place()
        if host is None:
            self.counters["no_capacity"] = self.counters.get("no_capacity", 0) + 1
            return None
        return self._start(self._new_worker(kind), host)

    def _park(self, w: Worker) -> None:
        w.parked = True
        w.stop_seq = self._stop_seq
        self._stop_seq += 1
        self.parked.append(w)
        self.n_parked += 1

    def _unpark(self, right: bool) -> Worker:
        pop = self.parked.pop if right else self.parked.popleft
        while True:
            w = pop()
            if w.parked:
                w.parked = False
                self.n_parked -= 1
                return w

    def _place(self) -> Host | None:
        """The host for a new worker: the best host of the first pool with room, spread from 5 workers on."""
        index = self.host_index
        if index.n_pools < 2 or self.n_alive + 1 < SPREAD_FROM:
            return index.best()
        room = [p < index.n_pools and index.best(p) is not None for p in range(len(self.pool_alive))]
        pool = choose_pool(self.pool_alive, room)
        return None if pool is None else index.best(pool)

    def _release(self, w: Worker) -> None:
        """Give back the GPUs of ``w``, which is leaving the alive states (scale-down, crash, replacement)."""
        host = w.host
        assert host is not None
        host.release(self.gpw)
        self.pool_alive[host.priority] -= 1
        if self.tenants is not None:
            self.tenants.on_release(host)

    def _new_worker(self, kind: str) -> Worker:
        now = self.env._now
        w = Worker(len(self.workers), kind, self._seq, now, S_IDLE, P_NONE)
        self._seq += 1
        self.workers.append(w)
        self.rec.workers.append(WorkerMeta(w.wid, kind, now))
        return w

    def _start(self, w: Worker, host: Host) -> Worker:
        """Begin a cold start of ``w`` on ``host`` (FlashBoot when it comes back to its own host)."""
        now = self.env._now
        flash = (self.sc.endpoint.flashboot and w.host is host and w.stopped_at >= 0
                 and now - w.stopped_at <= self.sc.cold_start.flashboot_window and self.image_key in host.cache)
        w.host = host
        host.take(self.gpw)
        self.pool_alive[host.priority] += 1
        w.version = self.version
        self.n_alive += 1
        self.n_starting += 1
        self.counters["flashboot_resumes" if flash else "cold_starts"] += 1
        self._begin_cold(w, flash, now)
        return w

    def _begin_cold(self, w: Worker, flash: bool, now: float) -> None:
        """Draw the cold-start phases of ``w`` on its host and enter the first (earlier phase events go stale)."""
        assert w.host is not None
        w.phases = cold_phases(self.sc.cold_start, w.host.cache, self.image_key, flash,
                               self.d_container, self.d_handler, self.d_flash)
        w.epoch += 1
        if self.faults is not None:
            self.faults.on_start(w, sum(d for _, d in w.phases))
        phase, dur = w.phases.pop(0) if w.phases else (P_HANDLER, 0.0)
        enter(self.rec, w, S_INIT, phase, now)
        self.at(dur, self._on_phase_done, (w, w.epoch))

    def _on_phase_done(self, arg: tuple[Worker, int]) -> None:
        w, epoch = arg
        if epoch != w.epoch or w.state != S_INIT:
            return
        now = self.env._now
        host = w.host
        assert host is not None
        if w.phase == P_PULL:
            cs = self.sc.cold_start
            size = cs.image_size + (cs.model.size if cs.model.placement == "baked" else 0.0)
            host.insert(self.image_key, size)
            self.counters["pulls"] += 1
        elif w.phase == P_MODEL_DL:
            host.insert("model", self.sc.cold_start.model.size)
        if w.phases:
            phase, dur = w.phases.pop(0)
            enter(self.rec, w, S_INIT, phase, now)
            self.at(dur, self._on_phase_done, (w, epoch))
            return
        host.touch(self.image_key)
        if self.faults is not None and w.init_fail:
            self.faults.unhealthy(w, "init_failures")
            return
        self.n_starting -= 1
        self.n_ready += 1
        enter(self.rec, w, S_RUN, P_WARM, now)
        w.idle_since = now
        if self.faults is not None:
            self.faults.on_ready(w)
        if self.timeline is not None:
            self.timeline.on_ready(w)
        bound, w.bound = w.bound, []
        for j in bound:
            self._begin_job(w, j, now, cold=True)
        while w.jobs < self.conc:
            j = self.queue.pop(now)
            if j < 0:
                break
            self._begin_job(w, j, now, cold=True)
        if w.jobs < self.conc:
            self._mark_free(w)
        if w.jobs == 0:
            self._arm_idle(w, now)

    def _scale_down(self, w: Worker) -> None:
        now = self.env._now
        self._unmark_free(w)
        self.n_ready -= 1
        self.n_alive -= 1
        enter(self.rec, w, S_IDLE, P_NONE, now)
        self._release(w)
        w.stopped_at = now
        w.idle_since = -1.0
        self._park(w)
        self.counters["scale_downs"] += 1
        self._trim_slots(now)

    def _trim_slots(self, now: float) -> None:
        """Retire the least recently scaled-down slots while slots exceed max + extra workers.

        A slot scaled down at this very instant is kept for now (its idle row would be empty); it
        can only be first in line after a ``set`` event lowered max workers below the alive count.
        """
        while self.n_alive + self.n_parked + self.n_held > self.slots_max and self.n_parked:
            old = self._unpark(right=False)
            if old.since >= now:
                old.parked = True
                self.parked.appendleft(old)
                self.n_parked += 1
                break
            close(self.rec, old, now)
            old.retired = True
            self.counters["retired"] = self.counters.get("retired", 0) + 1

    # ------------------------------------------------------------------ free-worker heap
    def _mark_free(self, w: Worker) -> None:
        if not w.in_free:
            w.in_free = True
            self.n_free += 1
            heappush(self.free, (-w.seq, w.free_epoch, w))

    def _unmark_free(self, w: Worker) -> None:
        if w.in_free:
            w.in_free = False
            w.free_epoch += 1
            self.n_free -= 1

    def _pop_free(self) -> Worker | None:
        free = self.free
        while free:
            _, epoch, w = heappop(free)
            if w.in_free and epoch == w.free_epoch:
                w.in_free = False
                self.n_free -= 1
                return w
        return None

    # ------------------------------------------------------------------ jobs
    def _on_arrival(self, j: int) -> None:
        now = self.env._now  # type: ignore[attr-defined]
        if self.n_free:  # the common, warm path: pop the routing heap (inline _pop_free)
            free = self.free
            while free:
                _, epoch, w = heappop(free)
                if w.in_free and epoch == w.free_epoch:
                    w.in_free = False
                    self.n_free -= 1
                    self._begin_job(w, j, now, False)
                    if w.jobs < self.conc:
                        self._mark_free(w)
                    return
        if self.scaler.queues:
            self.queue.append(j)
            if self.n_alive == 0:
                self._apply(self.scaler.on_arrival(self.view()))
            return
        for a in self.scaler.on_arrival(self.view()):
            if isinstance(a, Reject):
                self.rec.status[j] = J_REJECTED
                self.rec.end_s[j] = now
                return
            if isinstance(a, StartWorkers):
                nw = self._scale_up(a.reason)
                if nw is None:
                    self.rec.status[j] = J_REJECTED
                    self.rec.end_s[j] = now
                    return
                self.rec.action(now, "start_workers", 1, a.reason)
                nw.bound.append(j)
                return

    def _expire(self, j: int) -> None:
        self.rec.status[j] = J_TIMED_OUT
        self.rec.end_s[j] = self.arr[j] + self.ttl

    def _begin_job(self, w: Worker, j: int, now: float, cold: bool) -> None:
        """Start job ``j`` on ``w`` at ``now``; its completion (or timeout) is one event carrying ``j``."""
        s = self.svc[j]
        self.start_s[j] = now
        self.job_worker[j] = w.wid  # status stays J_QUEUE until the end; _finish marks runs in progress
        if cold:
            self.rec.cold[j] = 1
        if w.jobs == 0:
            if w.phase != P_BUSY:  # inline enter(): a phase change inside the state
                if now > w.since:
                    self.iv_extend((w.wid, w.state, w.phase, w.since, now, w.host.host_id))  # type: ignore[union-attr]
                    w.since = now
                w.phase = P_BUSY
            w.idle_since = -1.0
        w.jobs += 1
        self.in_progress += 1
        env = self.env
        if s > self.exec_timeout or now + s > self.arr[j] + self.ttl:
            limit = max(min(self.exec_timeout, self.arr[j] + self.ttl - now), 0.0)
            heappush(env._queue, (now + limit, NORMAL, next(env._eid), Call(self._on_timeout, j)))  # type: ignore[attr-defined]
        else:
            heappush(env._queue, (now + s, NORMAL, next(env._eid), j))  # type: ignore[attr-defined]  # bare j: completion

    def _on_timeout(self, j: int) -> None:
        self._finish_job(j, J_TIMED_OUT)

    def _finish_job(self, j: int, status: int = J_DONE) -> None:
        w = self.workers[self.job_worker[j]]
        now = self.env._now  # type: ignore[attr-defined]
        self.end_s[j] = now
        self.status[j] = status
        w.jobs -= 1
        self.in_progress -= 1
        if w.drain:  # outdated or retiring: takes no new job
            self.timeline.on_drained(w)  # type: ignore[union-attr]
            return
        if self.queues and self.queue:
            nj = self.queue.pop(now)
            if nj >= 0:
                self._begin_job(w, nj, now, cold=False)
                return
        # per-job hot path: enter(), _arm_idle() and _mark_free() are inlined below on purpose
        # (calling them costs ~10% of per_request throughput, measured with bench_sim.py case A)
        if w.jobs == 0:
            if now > w.since:  # inline enter(): a phase change inside the state
                self.iv_extend((w.wid, w.state, w.phase, w.since, now, w.host.host_id))  # type: ignore[union-attr]
                w.since = now
            w.phase = P_WARM
            w.idle_since = now
            if not w.expiry_pending and w.kind == "flex" and self.scaler.uses_idle_timeout:
                w.expiry_pending = True
                self.at(self.idle_timeout, self._on_idle_check, w)
        if not w.in_free:
            w.in_free = True
            self.n_free += 1
            heappush(self.free, (-w.seq, w.free_epoch, w))

    # ------------------------------------------------------------------ idle timeout
    def _arm_idle(self, w: Worker, now: float) -> None:
        w.idle_since = now
        if w.kind == "flex" and self.scaler.uses_idle_timeout and not w.expiry_pending:
            w.expiry_pending = True
            self.at(self.idle_timeout, self._on_idle_check, w)

    def _on_idle_check(self, w: Worker) -> None:
        w.expiry_pending = False
        if w.state != S_RUN or w.jobs or w.idle_since < 0:
            return
        now = self.env._now
        deadline = w.idle_since + self.idle_timeout
        if now < deadline:
            w.expiry_pending = True
            self.at(deadline - now, self._on_idle_check, w)
            return
        self._apply(self.scaler.on_idle_timeout(self.view(), self.worker_view(w)))

    # ------------------------------------------------------------------ end of run
    def _finish(self, horizon: float) -> None:
        rec = self.rec
        for w in self.workers:
            if not w.retired:
                close(rec, w, horizon)
        for j in self.queue.drain():
            if self.arr[j] + self.ttl <= horizon:
                self._expire(j)
            else:
                rec.status[j] = J_QUEUE
        for w in self.workers:
            for j in w.bound:
                rec.status[j] = J_QUEUE
        if self.n:  # started, not ended: in progress at the horizon
            st = np.frombuffer(rec.status, dtype=np.uint8)
            running = (st == J_QUEUE) & ~np.isnan(np.asarray(rec.start_s)) & np.isnan(np.asarray(rec.end_s))
            st[running] = J_PROGRESS
        for part in (self.faults, self.tenants, self.timeline):
            if part is not None:
                part.finish(self.counters)
        rec.notes.update(self.counters)


def simulate_tables(scenario: Scenario, seed: int | None = None, jobs: Jobs | None = None) -> Recorder:
    """Run one replication and return its recorder (no files, no printing)."""
    engine = Engine(scenario, scenario.seed if seed is None else seed, jobs=jobs)
    return engine.run()
