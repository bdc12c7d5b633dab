"""The endpoint core: the platform's rules, once, for the simulator and the live executor.

Owns one endpoint's state (job queue and TTL, worker slots with max + extra workers, hosts
and their caches) and every rule that changes it: scale up, scale down and revival,
placement, FlashBoot (a snapshot per host, which can miss), idle deadlines, execution timeout,
per_request routing and rejection, low-priority jobs (never a reason to scale up), a refresh
after a job, each worker's own concurrency, the end of a run. Throttling, the events timeline
and faults live in ``tenants.py``, ``timeline.py`` and ``faults.py``, the batching LLM worker
in ``engine.py``, the per-job draws of the workload's shares in ``jobflags.py``, and the job
operations of an open run in ``jobops.py`` (after ``open_workload``: jobs submitted while the run
goes, cancel, retry, purge, a job's own execution timeout and TTL); each sees this class only
through ``ports.CorePort`` (the fields and methods a helper may use) and never imports it.

Events come in as method calls with ``now`` (scenario seconds): ``start``, ``arrive``,
``phase_started``, ``ready``, ``start_failed``, ``job_finished``, ``set_worker_concurrency``,
``crashed``, ``on_timer``, ``finish``. What must happen goes out as data: each call appends
``Effect``s to ``out`` (``simserve.endpoint.effects``) that the driver carries out in order and
then clears. Every decision the policy layer names (autoscaling, routing, placement, revival,
FlashBoot) is taken by calling ``simserve.policy``. The autoscaler's periodic ticks sleep while
none could act (the policy's ``wake``; ``tick_due``), byte-identical to ticking every interval.
Records (jobs, state intervals, actions) are written here and only here. No simpy, asyncio or
clock.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from heapq import heappop, heappush
from typing import Any

from simserve.endpoint.coldstart import cold_phases
from simserve.endpoint.effects import Effect, SetTimer, StartWorker, StopWorker, TimerKind
from simserve.endpoint.engine import BatchEngine
from simserve.endpoint.faults import FaultRules
from simserve.endpoint.hosts import Host
from simserve.endpoint.jobflags import JobFlags
from simserve.endpoint.jobops import OPEN_TOKEN_BASE, JobOps
from simserve.endpoint.queue import JobQueue
from simserve.endpoint.tenants import Tenants
from simserve.endpoint.timeline import Timeline
from simserve.endpoint.workers import Worker, worker_concurrency
from simserve.policy import (
    Action,
    EndpointView,
    FreeWorkers,
    HostIndex,
    Reject,
    ScaledDownSlots,
    ScaleDown,
    StartWorkers,
    WorkerView,
    build_autoscaler,
    build_router,
    choose_pool,
    flashboot_eligible,
)
from simserve.policy.placement import SPREAD_FROM
from simserve.records import (
    STATES,
    TRANSITIONS,
    IllegalTransition,
    JobStatus,
    Phase,
    Recorder,
    WorkerMeta,
    WorkerState,
    nothing_pending,
)
from simserve.rng import Draws, RandomStreams
from simserve.scenario import Scenario

INIT, IDLE, RUNNING = WorkerState.INITIALIZING, WorkerState.IDLE, WorkerState.RUNNING
THROTTLED, OUTDATED, UNHEALTHY = WorkerState.THROTTLED, WorkerState.OUTDATED, WorkerState.UNHEALTHY
BUSY, WARM = int(Phase.BUSY), int(Phase.WARM)  # plain ints on the per-job path
IN_QUEUE, IN_PROGRESS, COMPLETED = JobStatus.IN_QUEUE, JobStatus.IN_PROGRESS, JobStatus.COMPLETED
TIMED_OUT, REJECTED, CANCELLED = JobStatus.TIMED_OUT, JobStatus.REJECTED, JobStatus.CANCELLED
_IN_PROGRESS, _COMPLETED = int(IN_PROGRESS), int(COMPLETED)  # plain ints on the per-job path
_CANCELLED = int(CANCELLED)
ALIVE = frozenset({INIT, RUNNING, OUTDATED})
#: a run that ends so restarts its worker (the platform's way to stop a job), counted under this name
RESTART_COUNTER = {int(TIMED_OUT): "exec_timeouts", int(CANCELLED): "cancel_restarts"}


def _early(t: float) -> float:
    """``t`` less a margin for rounding: a tick this close to a wake time runs in full (harmless); inf stays.

    >>> _early(100.0) < 100.0, _early(math.inf)
    (True, inf)
    """
    return t - 1e-9 * (1.0 + abs(t)) if t < math.inf else t


class EndpointCore:
    """One endpoint run: feed it events, carry out what it appends to ``out``.

    ``hosts`` are the machines workers may run on (the scenario's pools in the simulator and
    the simulated runtime; the local GPU or CPU slots live). ``rec`` receives every record.
    """

    def __init__(self, scenario: Scenario, streams: RandomStreams, rec: Recorder, hosts: Sequence[Host]) -> None:
        self.sc = scenario
        ep = scenario.endpoint
        self.streams = streams
        self.rec = rec
        self.arr: array[float] = rec.arrival_list()
        self.n = len(self.arr)
        self.start_s, self.end_s, self.status = rec.start_s, rec.end_s, rec.status
        self.job_worker, self.iv_extend = rec.worker, rec.iv_extend
        rec.settle = self.settle_flips
        self.hosts = list(hosts)
        rec.host_gpu = [h.gpu for h in self.hosts]
        self.image_key = "image:0"
        self.version = 0  # image version, bumped by each deploy
        self.host_index: HostIndex[Host] = HostIndex(self.hosts, ep.gpus_per_worker, self.image_key)
        for h in self.hosts:
            h.on_change = self.host_index.push
        self.pool_alive = [0] * len(ep.gpu)  # alive workers per GPU pool (priority index)
        self.out: list[Effect] = []
        self.now = 0.0
        self.workers: list[Worker] = []
        self.router = build_router()  # the routing rule (newest-created free worker first) ...
        self.free: FreeWorkers[Worker] = self.router.index()  # ... and its index, inlined on the per-job path
        self.scaled_down: ScaledDownSlots[Worker] = ScaledDownSlots()
        self.n_alive = self.n_starting = self.n_ready = self.in_progress = 0
        self.n_held = 0  # throttled + unhealthy slots: they hold a slot but not a place under max workers
        self._seq = 0
        self.queue = JobQueue(self.arr, scenario.endpoint.job_ttl, self._expire)
        self.queue.on_requeue = self.rouse
        #: the autoscaler's ticks sleep while none could act (``tick_due``); False: every tick is a full one
        self.sleep_ticks = True
        self.tick_wake = -math.inf  # no tick before this time can act (scenario seconds): see ``_sleep``
        self._slept_starting = self._slept_alive = -1  # workers starting and alive when the ticks fell asleep
        self._enq_wait = math.inf  # a job queued now wakes the ticks by its arrival plus this
        self.settings(scenario)
        cs = scenario.cold_start
        rng = streams.get("cold_start")
        self.d_container = Draws(cs.container_start, rng)
        self.d_handler = Draws(cs.handler_init, rng)
        self.d_flash = Draws(cs.flashboot_resume, rng)
        # job attempts: a job's first run reports with token == job; a retried job gets a fresh token
        self.job_token: dict[int, int] = {}
        self.token_job: dict[int, int] = {}
        self.counters: dict[str, int] = {
            "cold_starts": 0,
            "flashboot_resumes": 0,
            "flashboot_misses": 0,
            "pulls": 0,
            "scale_downs": 0,
        }
        #: low-priority jobs queued or running (they never count toward a scale-up), and how many run now
        self.low: set[int] = set()
        self.low_running = 0
        #: jobs whose end refreshes their worker (``workload.refresh_share``), until they end
        self.refreshers: set[int] = set()
        #: the per-job draws of those two sets (None: both shares are 0, nothing is drawn)
        self.job_flags: JobFlags | None = JobFlags.of(scenario, streams, self.low, self.refreshers)
        #: some job may be flagged (drawn, or ``mark_low``): when not, the per-job path looks no further
        self.flagged = self.job_flags is not None
        self.faults = FaultRules(self)
        self.tenants = Tenants(self) if any(h.other_tenants for h in scenario.hosts) else None
        self.timeline = Timeline(self) if scenario.events else None
        llm = scenario.workload.llm
        #: the batching LLM engine of every worker (None: one job per slot takes its drawn service time)
        self.llm: BatchEngine | None = None
        if llm is not None:
            self.llm = BatchEngine(self, llm)
        #: jobs submitted while the run goes and the client's calls on them (``open_workload``)
        self.jobops: JobOps | None = None

    def open_workload(self) -> JobOps:
        """Jobs will also arrive at run time (``JobOps.submit``: ``simserve serve``), beyond the recorder's
        pre-drawn ones; retry tokens move out of the way of the job indices to come."""
        if self.jobops is None:
            self.jobops = JobOps(self)
            self.n = OPEN_TOKEN_BASE
        return self.jobops

    def settings(self, scenario: Scenario) -> None:
        """(Re)read the endpoint settings (at start and on a ``set`` event)."""
        ep = scenario.endpoint
        self.sc = scenario
        self.cap = ep.worker_cap
        self.slots_max = self.cap + ep.extra_workers
        self.concurrency = worker_concurrency(scenario)  # jobs one worker takes at once, unless it says otherwise
        for w in self.workers:
            if not w.concurrency_set and w.concurrency != self.concurrency:
                w.concurrency = self.concurrency
                if w.state == RUNNING and not w.drain and len(w.running) >= w.concurrency:
                    self.free.remove(w)  # lowered by a ``set`` event: drains until below it
                    w.drain = True
        self.gpus_per_worker = ep.gpus_per_worker
        self.exec_timeout = ep.execution_timeout
        self.ttl = ep.job_ttl
        self.idle_timeout = ep.idle_timeout
        self.scaler = build_autoscaler(ep.scaler)
        self.queues = self.scaler.queues
        self.tick_every = ep.scaler_interval
        self.rouse()
        # per kind (index: is_flex), whether job-free workers expire: the policy's rule, read once
        self.expires = (self.scaler.idle_timeout_applies("active"), self.scaler.idle_timeout_applies("flex"))
        self.queue.set_ttl(self.ttl)

    # ------------------------------------------------------------------ effects
    def timer(self, delay_s: float, kind: TimerKind, arg: object = None) -> None:
        """Ask the driver to call ``on_timer(kind, arg)`` after ``delay_s``."""
        self.out.append(SetTimer(self.now + delay_s, kind, arg))

    def timer_at(self, at_s: float, kind: TimerKind, arg: object = None) -> None:
        """Ask the driver to call ``on_timer(kind, arg)`` at ``at_s`` (scenario seconds)."""
        self.out.append(SetTimer(at_s, kind, arg))

    def on_timer(self, kind: TimerKind, arg: object, now: float) -> None:
        self.now = now
        if kind == TimerKind.IDLE:
            assert isinstance(arg, int)
            self._on_idle_check(self.workers[arg])
        elif kind == TimerKind.TICK:
            self._on_tick()
        elif kind in (TimerKind.TENANT_DRAW, TimerKind.TENANT_ROW, TimerKind.THROTTLE_MOVE):
            assert self.tenants is not None
            self.tenants.on_timer(kind, arg)
        elif kind == TimerKind.STEP:
            assert self.llm is not None
            self.llm.on_step(arg)  # type: ignore[arg-type]
        elif kind == TimerKind.EVENT:
            assert self.timeline is not None
            self.timeline.fire(arg)  # type: ignore[arg-type]
        elif kind == TimerKind.JOB_TTL:
            assert self.jobops is not None and isinstance(arg, int)
            self.jobops.on_ttl(arg)
        else:
            self.faults.on_timer(kind, arg)

    # ------------------------------------------------------------------ start of the run
    def start(self, now: float = 0.0) -> None:
        """The run begins: tenants take their GPUs, events are scheduled, active workers start."""
        self.now = now
        if self.tenants is not None:
            self.tenants.start()
        if self.timeline is not None:
            self.timeline.start()
        for _ in range(self.sc.endpoint.active_workers):
            self.scale_up("active", kind="active")
        if self.scaler.uses_ticks:
            self.timer(self.tick_every, TimerKind.TICK)

    # ------------------------------------------------------------------ the autoscaler's ticks
    def _on_tick(self) -> None:
        """The periodic check: purge expired jobs at the queue's heads, ask the autoscaler; while the ticks
        sleep (``tick_due`` is False) a tick only sets the next one, which is all that a full tick with
        nothing to purge and no action would do."""
        now = self.now
        if now < self.tick_wake:
            self.timer(self.tick_every, TimerKind.TICK)
            return
        self.queue.purge(now)
        view = self.view()
        actions = self.scaler.tick(view)
        self.apply(actions)
        self._sleep(view, not actions)
        self.timer(self.tick_every, TimerKind.TICK)

    def tick_due(self, now: float) -> bool:
        """Whether a tick at ``now`` could purge a job or act: False while the ticks sleep (``now`` is before
        ``tick_wake``). A driver may then set the next tick (``now`` plus ``tick_every``, the grid the core
        keeps) without calling the core: that is all the core would do."""
        return now >= self.tick_wake

    def rouse(self) -> None:
        """The next tick is a full one (a setting changed, a job went back to the queue, fewer workers)."""
        self.tick_wake = -math.inf
        self._enq_wait = math.inf
        self._slept_starting = self._slept_alive = -1

    def _fewer(self) -> None:
        """A worker stopped starting or left the alive states: when that leaves fewer than when the ticks
        fell asleep, their wake may rest on the old count (``Wake``), so the next tick is a full one."""
        if self.n_starting < self._slept_starting or self.n_alive < self._slept_alive:
            self.rouse()

    def _sleep(self, view: EndpointView, quiet: bool) -> None:
        """After a full tick on ``view`` (``quiet``: it took no action), let the ticks sleep until one could
        act (the autoscaler's ``wake``) or purge a job: no tick before then can, unless fewer workers start
        or are alive than now (``_fewer``), a job is queued (it wakes them at its arrival plus the wait
        or the TTL, whichever is shorter: ``arrive``), or ``rouse`` is called (a setting, a requeue)."""
        self.rouse()
        if not quiet or not self.sleep_ticks:
            return
        wake = self.scaler.wake(view)
        if wake.queued == 0:
            return
        at = self.queue.next_expiry_s()
        wait = self.ttl
        if wake.queued > 0:
            at = min(at, _early(self.queue.kth_arrival_s(wake.queued) + wake.wait_s))
            wait = min(wait, wake.wait_s)
        self.tick_wake, self._enq_wait = at, wait
        self._slept_starting, self._slept_alive = self.n_starting, self.n_alive

    def _queued(self, j: int) -> None:
        """Job ``j`` was queued: sleeping ticks wake by the time it has waited the wake's wait (or its TTL)."""
        at = _early(self.arr[j] + self._enq_wait)
        if at < self.tick_wake:
            self.tick_wake = at

    # ------------------------------------------------------------------ views
    def view(self) -> EndpointView:
        """The endpoint as the policy sees it now (low-priority jobs, queued or running, are left out of
        the job counts: they never trigger a scale-up)."""
        now, q = self.now, self.queue
        idle_ids: tuple[int, ...] = ()
        if self.scaler.wants_idle_ids:
            idle_ids = tuple(
                w.wid for w in self.workers if w.is_flex and w.state == RUNNING and not w.running and not w.retired
            )
        return EndpointView(
            now_s=now,
            in_queue=q.scaling_len(),
            in_progress=self.in_progress - self.low_running,
            queued_over_delay=q.waited_at_least(now, self.scaler.delay_s),
            oldest_wait_s=q.oldest_wait(now),
            n_starting=self.n_starting,
            n_ready=self.n_ready,
            n_free=len(self.free),
            n_alive=self.n_alive,
            n_scaled_down=len(self.scaled_down),
            active_workers=self.sc.endpoint.active_workers,
            cap=self.cap,
            idle_flex_ids=idle_ids,
        )

    @staticmethod
    def worker_view(w: Worker) -> WorkerView:
        return WorkerView(
            w.wid, w.kind, STATES[w.state], len(w.running), w.seq, w.idle_since, w.host.host_id if w.host else -1
        )

    # ------------------------------------------------------------------ records
    def enter(self, w: Worker, state: WorkerState, phase: int) -> None:
        """Move ``w`` to ``state``/``phase`` now, writing the interval it leaves (not when empty)."""
        if state != w.state and state not in TRANSITIONS[w.state]:
            raise IllegalTransition(f"worker {w.wid}: {STATES[w.state]} -> {STATES[state]}")
        self.close(w)
        w.state = state
        w.phase = phase

    def close(self, w: Worker) -> None:
        """Write the worker's open interval up to now (at a change of state or phase, at the end of its life
        or at the horizon), after the rows of its pending busy/warm flips."""
        now = self.now
        if w.nflips > 1:
            self._write_flips(w)
        if now > w.since:
            self.iv_extend([w.wid, w.state, w.phase, w.since, now, w.host.host_id if w.host is not None else -1])
            w.since = now  # the only entry of ``flips``, written above

    def settle_flips(self) -> None:
        """Write every worker's pending busy/warm flips as rows (the recorder's ``settle``)."""
        for w in self.workers:
            if w.nflips > 1:
                self._write_flips(w)

    def _write_flips(self, w: Worker) -> None:
        self.rec.write_flips(w.wid, w.state, w.phase, w.host.host_id if w.host is not None else -1, w.flips, w.nflips)
        w.keep_last_flip()

    def count(self, name: str, by: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + by

    # ------------------------------------------------------------------ actions
    def apply(self, actions: list[Action]) -> None:
        """Carry out a policy's actions: ``StartWorkers(n)`` one by one until ``n``, the cap or a failed
        start; ``ScaleDown(w)`` only for a ready, job-free flex worker. Each applied action is recorded."""
        now = self.now
        for a in actions:
            if isinstance(a, StartWorkers):
                started = 0
                while started < a.count and self.n_alive < self.cap and self.scale_up(a.reason) is not None:
                    started += 1
                if started:
                    self.rec.action(now, "start_workers", started, a.reason)
            elif isinstance(a, ScaleDown):
                w = self.workers[a.worker_id]
                if w.state == RUNNING and not w.running and w.is_flex:
                    self.scale_down(w)
                    self.rec.action(now, "stop_worker", a.worker_id, a.reason)

    def scale_up(self, reason: str, kind: str = "flex") -> Worker | None:
        """Revive the most recently scaled-down slot (on its host if it has room, else moved), else start a
        new worker while slots allow; None when nothing could start."""
        while len(self.scaled_down) and kind == "flex":
            w = self.scaled_down.revival()
            assert w.host is not None
            if w.host.free < self.gpus_per_worker and self.tenants is not None:
                self.tenants.throttle(w)  # its host is taken: throttled; try the next slot (an extra worker)
                continue
            host = w.host if w.host.free >= self.gpus_per_worker else self.place()
            if host is None:
                self.park(w)
                self.count("no_capacity")
                return None
            return self.start_on(w, host)
        if self.n_held and self.n_alive + len(self.scaled_down) + self.n_held >= self.slots_max:
            self.count("no_slot")  # max + extra slots all held
            return None
        host = self.place()
        if host is None:
            self.count("no_capacity")
            return None
        return self.start_on(self._new_worker(kind), host)

    def park(self, w: Worker) -> None:
        """``w`` becomes a scaled-down slot (most recent first for revival)."""
        self.scaled_down.park(w)

    def place(self) -> Host | None:
        """The host for a new worker: the best host of the first pool with room, spread from 5 workers on."""
        index = self.host_index
        if index.n_pools < 2 or self.n_alive + 1 < SPREAD_FROM:
            return index.best()
        room = [index.has_room(p) for p in range(len(self.pool_alive))]
        pool = choose_pool(self.pool_alive, room)
        return None if pool is None else index.best(pool)

    def release(self, w: Worker) -> None:
        """Give back the GPUs of ``w``, which is leaving the alive states."""
        host = w.host
        assert host is not None
        host.release(self.gpus_per_worker)
        self.pool_alive[host.priority] -= 1
        if self.tenants is not None:
            self.tenants.on_release(host)
        self._fewer()

    def take_out(self, w: Worker) -> list[int]:
        """``w`` leaves the alive states (a fault, a restart): slot counters and the routing index
        forget it, its pending phase and job events go stale; returns the jobs it held (running, in
        job order, then those bound to its start). Its GPUs are still to be ``release``d."""
        jobs = sorted(w.running) + w.bound
        w.bound = []
        if self.flagged:
            self.low_running -= sum(1 for j in w.running if j in self.low)
        w.refresh_due = False
        if w.state == INIT:
            self.n_starting -= 1
        elif w.state == RUNNING:
            self.n_ready -= 1
            self.free.remove(w)
        self.n_alive -= 1
        self._fewer()
        self.in_progress -= len(w.running)
        w.running = set()
        w.drain = False
        w.epoch += 1  # pending phase and job events go stale
        w.idle_since = -1.0
        return jobs

    def resume_rollout(self) -> None:
        """A worker left service: a rolling replacement under way may go on (``timeline``)."""
        if self.timeline is not None:
            self.timeline.pump()

    def new_version(self, cold_start_changes: dict[str, Any]) -> None:
        """A deploy: the image version goes up (a new cache key, so a miss on every host), with the
        deploy's ``cold_start`` changes; start-time draws that changed are drawn afresh."""
        cs = self.sc.cold_start.model_copy(update=cold_start_changes)
        self.sc = self.sc.model_copy(update={"cold_start": cs})
        rng = self.streams.get("cold_start")
        if "container_start" in cold_start_changes:
            self.d_container = Draws(cs.container_start, rng)
        if "handler_init" in cold_start_changes:
            self.d_handler = Draws(cs.handler_init, rng)
        self.version += 1
        self.image_key = f"image:{self.version}"
        self.host_index.rebuild(self.image_key)

    def _new_worker(self, kind: str) -> Worker:
        w = Worker(len(self.workers), kind, self._seq, self.now)
        self._seq += 1
        self.workers.append(w)
        self.rec.workers.append(WorkerMeta(w.wid, kind, self.now))
        return w

    def start_on(self, w: Worker, host: Host) -> Worker:
        """Begin a start of ``w`` on ``host``: a FlashBoot resume when eligible (``policy.flashboot_eligible``)
        and its snapshot is still on the host (``Host.take`` loses snapshots when the host's GPUs are
        taken), unless it misses all the same (``cold_start.flashboot_miss_prob``, drawn from the
        ``flashboot`` stream only when above 0); else cold. An eligible start that is not a resume counts
        as ``flashboot_misses`` (and, as every start that is not a resume, as ``cold_starts``)."""
        cs = self.sc.cold_start
        flash = flashboot_eligible(
            self.sc.endpoint.flashboot,
            w.host is host,
            w.stopped_at,
            self.now,
            cs.flashboot_window,
            self.image_key in host.cache,
        )
        kept = w.host is not None and w.host.drop_snapshot(w.wid)
        if flash and (
            not kept
            or (cs.flashboot_miss_prob > 0 and float(self.streams.get("flashboot").random()) < cs.flashboot_miss_prob)
        ):
            flash = False
            self.counters["flashboot_misses"] += 1
        w.host = host
        host.take(self.gpus_per_worker)
        self.pool_alive[host.priority] += 1
        w.version = self.version
        self.n_alive += 1
        self.n_starting += 1
        self.counters["flashboot_resumes" if flash else "cold_starts"] += 1
        self.begin_cold(w, flash)
        return w

    def begin_cold(self, w: Worker, flash: bool) -> None:
        """Draw the phases of a start of ``w`` on its host and enter the first (a start in flight goes stale)."""
        host = w.host
        assert host is not None
        phases = cold_phases(
            self.sc.cold_start, host.cache, self.image_key, flash, self.d_container, self.d_handler, self.d_flash
        )
        w.epoch += 1
        w.concurrency = self.concurrency  # a fresh process takes the endpoint's value until it says otherwise
        w.concurrency_set = False
        self.faults.on_start(w)
        self.enter(w, INIT, phases[0][0])
        self.out.append(StartWorker(w.wid, w.epoch, host.host_id, phases, flash, w.init_fail, self.version))

    def scale_down(self, w: Worker) -> None:
        """A ready, job-free worker stops; its slot stays scaled down (image cached on its host)."""
        now = self.now
        self.free.remove(w)
        self.n_ready -= 1
        self.n_alive -= 1
        self.enter(w, IDLE, Phase.NONE)
        flash = self.sc.endpoint.flashboot
        host = w.host
        assert host is not None
        if flash:  # kept before the GPUs go back: other tenants that claim them at once take it too
            host.keep_snapshot(w.wid, self.gpus_per_worker)
        self.release(w)
        w.stopped_at = now
        w.idle_since = -1.0
        w.epoch += 1
        self.park(w)
        self.out.append(StopWorker(w.wid, now + self.sc.cold_start.flashboot_window if flash else -1.0))
        self.counters["scale_downs"] += 1
        self.trim_slots()

    def trim_slots(self) -> None:
        """Retire the least recently scaled-down slots while slots exceed max + extra workers.

        A slot scaled down at this very instant is kept for now (its idle row would be empty); it
        can only be first in line after a ``set`` event lowered max workers below the alive count.
        """
        while self.n_alive + len(self.scaled_down) + self.n_held > self.slots_max and len(self.scaled_down):
            old = self.scaled_down.retirement()
            if old.since >= self.now:
                self.scaled_down.unpark_back(old)
                break
            self.close(old)
            old.retired = True
            if old.host is not None:
                old.host.drop_snapshot(old.wid)
            self.count("retired")

    # ------------------------------------------------------------------ worker events
    def current(self, wid: int, epoch: int) -> bool:
        """Whether ``epoch`` is the start in flight (or the process running) of worker ``wid``."""
        w = self.workers[wid]
        return w.epoch == epoch and w.state in ALIVE

    def phase_started(self, wid: int, epoch: int, phase: Phase, now: float) -> None:
        """A cold-start phase of worker ``wid`` began (the previous one ended)."""
        w = self.workers[wid]
        if w.epoch != epoch or w.state != INIT or phase == w.phase:
            return
        self.now = max(now, w.since)
        self._phase_ended(w)
        self.enter(w, INIT, phase)

    def _phase_ended(self, w: Worker) -> None:
        host = w.host
        assert host is not None
        if w.phase == Phase.PULL:
            cs = self.sc.cold_start
            host.insert(self.image_key, cs.image_size + (cs.model.size if cs.model.placement == "baked" else 0.0))
            self.counters["pulls"] += 1
        elif w.phase == Phase.MODEL_DOWNLOAD:
            host.insert("model", self.sc.cold_start.model.size)

    def ready(self, wid: int, epoch: int, now: float) -> None:
        """Worker ``wid`` finished its start: it takes its bound jobs, then queued ones."""
        w = self.workers[wid]
        if w.epoch != epoch or w.state != INIT:
            return
        now = self.now = max(now, w.since)
        host = w.host
        assert host is not None
        self._phase_ended(w)
        host.touch(self.image_key)
        if w.init_fail:
            self.faults.unhealthy(w, "init_failures")
            return
        self.n_starting -= 1
        self._fewer()
        self.n_ready += 1
        self.enter(w, RUNNING, WARM)
        w.idle_since = now
        self.faults.on_ready(w)
        if self.timeline is not None:
            self.timeline.on_ready(w)
        bound, w.bound = w.bound, []
        for j in bound:
            if self.arr[j] + self.ttl <= now:  # its TTL ran out during the cold start
                self._expire(j)
            else:
                self.begin_job(w, j, True)
        while len(w.running) < w.concurrency:
            j = self.queue.pop(now)
            if j < 0:
                break
            self.begin_job(w, j, True)
        if len(w.running) < w.concurrency:
            self.free.add(w)
        if not w.running:
            self.arm_idle(w)

    def start_failed(self, wid: int, epoch: int, now: float) -> None:
        """The start of ``wid`` failed (a real worker exited or errored during its start)."""
        w = self.workers[wid]
        if w.epoch != epoch or w.state != INIT:
            return
        self.now = max(now, w.since)
        self.faults.unhealthy(w, "init_failures")

    def crashed(self, wid: int, epoch: int, now: float) -> None:
        """The process of ready worker ``wid`` died (a real crash)."""
        w = self.workers[wid]
        if w.epoch != epoch or w.state not in (RUNNING, OUTDATED):
            return
        self.now = max(now, w.since)
        self.faults.unhealthy(w, "crashes")

    # ------------------------------------------------------------------ jobs
    def arrive(self, j: int, now: float, fresh: bool = True) -> None:
        """Job ``j`` arrives: the newest free worker takes it, else it queues (or per_request starts a worker).

        A low-priority job (``mark_low``) that finds no free worker waits in the queue whatever the
        scaler (per_request too) and never starts a worker: a worker that comes free takes it. A
        ``fresh`` arrival of the scenario's workload first draws whether it is low priority and whether
        it refreshes its worker (``workload.low_priority_share``, ``workload.refresh_share``; nothing is
        drawn when both are 0); a job dispatched again (a retry under per_request, a submitted job whose
        flags the client set) is not ``fresh``."""
        if fresh and self.job_flags is not None:
            self.job_flags.draw(j)
        self.now = now
        free = self.free
        if free.n:  # the common, warm path: FreeWorkers.pop, inlined (a call per job costs ~5 %)
            heap, by_seq = free.heap, free.by_seq
            while heap:
                w = by_seq[-heappop(heap)]
                if w.in_free:
                    w.in_free = False
                    free.n -= 1
                    self.begin_job(w, j, False)
                    if len(w.running) < w.concurrency:
                        free.add(w)
                    return
        if self.flagged and j in self.low:
            self.queue.append(j, True)
            self._queued(j)
            return
        if self.scaler.queues:
            self.queue.append(j)
            if self.tick_wake > now:
                self._queued(j)
            if self.n_alive == 0:
                self.apply(self.scaler.on_arrival(self.view()))
            return
        self.route_unqueued(j)

    def mark_low(self, j: int) -> None:
        """Job ``j`` (not yet arrived) is low priority: it runs on a free worker but never counts toward a
        scale-up (the API's ``policy.lowPriority``)."""
        self.low.add(j)
        self.flagged = True

    def route_unqueued(self, j: int) -> None:
        """per_request: start a worker for ``j`` (it waits bound to that start), or reject it."""
        for a in self.scaler.on_arrival(self.view()):
            if isinstance(a, Reject):
                break
            if isinstance(a, StartWorkers):
                nw = self.scale_up(a.reason)
                if nw is None:
                    break
                self.rec.action(self.now, "start_workers", 1, a.reason)
                nw.bound.append(j)
                return
        self.status[j] = REJECTED
        self.end_s[j] = self.now

    def _expire(self, j: int) -> None:
        self.status[j] = TIMED_OUT
        self.end_s[j] = self.arr[j] + self.ttl

    def begin_job(self, w: Worker, j: int, cold: bool) -> None:
        """Start job ``j`` on ``w`` now (its end comes back through ``job_finished`` with the token)."""
        now = self.now
        self.start_s[j] = now
        self.job_worker[j] = w.wid
        self.status[j] = _IN_PROGRESS
        if cold:
            self.rec.cold[j] = 1
        if not w.running:
            if w.phase != BUSY:  # a phase change inside the state
                self.close(w)
                w.phase = BUSY
            w.idle_since = -1.0
        w.running.add(j)
        self.in_progress += 1
        if self.flagged and j in self.low:
            self.low_running += 1
        token = j
        if self.job_token and j in self.job_token:  # a retry: a fresh token, so its earlier run's end is stale
            token = self.n + len(self.token_job)
            self.job_token[j] = token
            self.token_job[token] = j
            if self.rec.first_token_s:  # a retried run's first token is its own
                self.rec.first_token_s[j] = math.nan
        left = self.arr[j] + self.ttl - now
        limit = left if left < self.exec_timeout else self.exec_timeout
        if self.jobops is not None:  # a job's own policy (simserve serve)
            limit = self.jobops.limit(j, now, limit)
        if self.llm is not None:
            self.llm.admit(w, j, token, limit)  # the worker's engine runs it, step by step
            return
        self.out.append((w.wid, j, token, limit))  # a RunJob

    def use_worker_engine(self) -> None:
        """The runtime's workers run a real batching engine: hand them each job (``RunJob``) and take the
        end (and first token) they report, instead of modelling engine steps here."""
        self.llm = None

    def first_token(self, token: int, now: float) -> None:
        """A real worker reported the first output token of the run with ``token`` (an earlier, requeued
        run's report is stale, as in ``job_finished``)."""
        j = token
        if self.job_token:
            if token >= self.n:
                j = self.token_job.get(token, -1)
                if j < 0 or self.job_token.get(j) != token:
                    return
            elif token in self.job_token:
                return
        first = self.rec.first_token_s
        if first and self.status[j] == _IN_PROGRESS and math.isnan(first[j]):
            first[j] = now

    def job_finished(
        self, token: int, now: float, status: int = _COMPLETED, restart: bool = True, refresh: bool = False
    ) -> None:
        """A job's run ended: ``completed``, ``failed`` (the handler raised), ``timed_out`` (over its limit)
        or ``cancelled`` (a client's cancel); the last two restart the worker, the platform's way to stop a
        job, unless ``restart`` is False (a batching engine drops one sequence).

        ``refresh``: the job ended with its status as usual and asks for its worker to be refreshed (the
        SDK's ``refresh_worker``, the platform's ``stopPod``): the worker takes no new job, and once its
        running jobs have ended it restarts in place, a cold start (never a FlashBoot resume) counted as
        ``refreshes``. A job the scenario's ``workload.refresh_share`` drew asks the same."""
        j = token
        if self.job_token:  # some job was requeued: its earlier runs' ends are stale
            if token >= self.n:
                j = self.token_job.get(token, -1)
                if j < 0 or self.job_token.get(j) != token:
                    return
            elif token in self.job_token:
                return
        if self.status[j] != _IN_PROGRESS:
            return
        w = self.workers[self.job_worker[j]]
        self.now = now
        self.end_s[j] = now
        self.status[j] = status
        w.running.discard(j)
        self.in_progress -= 1
        if (refresh or self.flagged) and self._flagged_end(w, j, status, restart, refresh):
            return
        if status in RESTART_COUNTER and restart:
            self.faults.restart(w, RESTART_COUNTER[status])
            return
        if w.drain and self._drained(w):  # outdated, retiring, refreshing or over its concurrency
            return
        if self.queues or self.low:  # per_request queues only low-priority jobs
            nj = self.queue.pop(now)
            if nj >= 0:
                self.begin_job(w, nj, False)
                return
        if not w.running:
            self.close(w)  # a phase change inside the state
            w.phase = WARM
            w.idle_since = now  # arm_idle(), inlined (per-job path)
            if not w.expiry_pending and self.expires[w.is_flex]:
                w.expiry_pending = True
                self.out.append(
                    SetTimer(self.scaler.idle_deadline_s(w.kind, now, self.idle_timeout), TimerKind.IDLE, w.wid)
                )
        if not w.in_free:  # FreeWorkers.add, inlined (per-job path); the heap key is NewestFirst's
            w.in_free = True
            free = self.free
            free.n += 1
            free.by_seq[w.seq] = w
            heappush(free.heap, -w.seq)

    def _flagged_end(self, w: Worker, j: int, status: int, restart: bool, refresh: bool) -> bool:
        """Ended job ``j`` leaves the flag sets; when it asked for a refresh (or drew one) and its end does
        not restart the worker anyway, the refresh is under way: True (nothing more to do here)."""
        if j in self.low:
            self.low.discard(j)
            self.low_running -= 1
        if j in self.refreshers:
            self.refreshers.discard(j)
            refresh = True
        if not refresh or (status in RESTART_COUNTER and restart):
            return False
        if w.drain and w.state != RUNNING:
            return False  # outdated or retiring: replaced or stopped anyway (the timeline's)
        if w.running:
            w.refresh_due = True
            if not w.drain:
                w.drain = True
                self.free.remove(w)
            return True
        w.refresh_due = w.drain = False
        self.faults.restart(w, "refreshes")
        return True

    def _drained(self, w: Worker) -> bool:
        """A job ended on a draining worker: a due refresh restarts it once job-free; one over its own
        concurrency takes jobs again once below it (False: go on as a worker that is not draining);
        an outdated or retiring one is the timeline's. True when nothing more is to be done."""
        if w.refresh_due and w.state == RUNNING:
            if w.running:
                return True
            w.refresh_due = w.drain = False
            self.faults.restart(w, "refreshes")
            return True
        w.refresh_due = False
        if w.state == RUNNING and not w.retire_on_drain:  # drained by set_worker_concurrency
            if len(w.running) >= w.concurrency:
                return True
            w.drain = False
            return False
        assert self.timeline is not None
        self.timeline.on_drained(w)
        return True

    # ------------------------------------------------------------------ per-worker concurrency
    def set_worker_concurrency(self, wid: int, epoch: int, n: int, now: float) -> None:
        """From now on worker ``wid`` (start ``epoch``) takes up to ``n`` jobs at once (the worker SDK's
        ``concurrency_modifier``), until its next start. More room: queued jobs are handed to it at once;
        less: its running jobs finish and it takes no new one until below ``n``. Stale epochs, workers
        not alive and the same ``n`` again change nothing."""
        w = self.workers[wid]
        if w.epoch != epoch or w.state not in ALIVE or n < 1:
            return
        w.concurrency_set = True
        if n == w.concurrency:
            return
        w.concurrency = n
        if w.state != RUNNING or w.refresh_due or w.retire_on_drain:
            return  # a start in flight takes up to n at ready; one about to restart or stop takes none
        self.now = now
        if len(w.running) >= n:  # drains until below n (``_drained``): off the per-job path
            self.free.remove(w)
            w.drain = True
            return
        w.drain = False
        while len(w.running) < n:
            j = self.queue.pop(now)
            if j < 0:
                break
            self.begin_job(w, j, False)
        if len(w.running) < n:
            self.free.add(w)

    def requeue_token(self, j: int) -> None:
        """``j`` will run again: its current run's end, if it comes, is stale."""
        self.job_token[j] = -1

    # ------------------------------------------------------------------ jobs of an open run (``jobops``)
    def add_job(self, now: float, tokens: tuple[int, int] | None = None) -> int:
        """A job submitted at ``now`` joins the workload (not yet arrived; an LLM run's with its ``tokens``,
        input and output); returns its index."""
        j = self.rec.add_job(now, tokens)
        self.arr.append(now)
        return j

    def cancel_run(self, j: int, now: float) -> None:
        """End running job ``j`` ``cancelled`` (a client's cancel): its worker restarts, as ``job_finished`` does."""
        self.job_finished(self.job_token.get(j, j), now, _CANCELLED)

    def close_job(self, j: int, status: int, at_s: float) -> None:
        """Job ``j``, not running (queued, bound to a start or taken off a failed worker), ends with
        ``status`` at ``at_s``."""
        self.status[j] = status
        self.end_s[j] = at_s

    def reset_job(self, j: int) -> None:
        """Job ``j`` will wait again: its current run's end is stale and its records are those of a
        job not yet started (the queue's, ``in_queue``)."""
        self.requeue_token(j)
        self.status[j] = IN_QUEUE
        self.start_s[j] = math.nan
        self.end_s[j] = math.nan
        self.job_worker[j] = -1
        self.rec.cold[j] = 0

    def requeue(self, j: int, now: float) -> None:
        """Reset job ``j`` goes back to wait at ``now``: in its place in the queue, then to a free worker
        (per_request: dispatched like a new arrival)."""
        self.now = now
        if not self.scaler.queues:
            self.arrive(j, now, fresh=False)
            return
        self.queue.requeue(j, j in self.low)
        self.dispatch_queued()

    # ------------------------------------------------------------------ idle timeout
    def arm_idle(self, w: Worker) -> None:
        """``w`` became job-free while running: its idle deadline starts now (``policy``'s rule)."""
        w.idle_since = self.now
        if not w.expiry_pending and self.expires[w.is_flex]:
            w.expiry_pending = True
            self.timer_at(self.scaler.idle_deadline_s(w.kind, w.idle_since, self.idle_timeout), TimerKind.IDLE, w.wid)

    def _on_idle_check(self, w: Worker) -> None:
        w.expiry_pending = False
        if w.state != RUNNING or w.running or w.idle_since < 0:
            return
        deadline = self.scaler.idle_deadline_s(w.kind, w.idle_since, self.idle_timeout)
        if self.now < deadline:
            w.expiry_pending = True
            self.timer(deadline - self.now, TimerKind.IDLE, w.wid)
            return
        self.apply(self.scaler.on_idle_timeout(self.view(), self.worker_view(w)))

    # ------------------------------------------------------------------ queued jobs after a change
    def dispatch_queued(self) -> None:
        """Hand queued jobs to free workers (after a retry or a setting change), or start a first worker."""
        now = self.now
        while len(self.free) and self.queue:
            w = self.free.pop()
            if w is None:
                break
            j = self.queue.pop(now)
            if j < 0:
                self.free.add(w)
                break
            self.begin_job(w, j, False)
            if len(w.running) < w.concurrency:
                self.free.add(w)
        if self.n_alive == 0 and self.queue.scaling_len():
            self.apply(self.scaler.on_arrival(self.view()))

    # ------------------------------------------------------------------ end of run
    def finish(self, now: float) -> None:
        """The run ends at ``now``: intervals are closed, jobs still queued or running are in flight
        (queued ones past their TTL timed out), every process is stopped."""
        self.now = now
        rec = self.rec
        for w in self.workers:
            if not w.retired:
                self.close(w)
            if w.state in ALIVE:
                w.epoch += 1
                self.out.append(StopWorker(w.wid))
        self.settle_flips()
        rec.settle = nothing_pending  # nothing pends now, and the recorder need not hold on to the core
        for j in self.queue.drain():
            if self.arr[j] + self.ttl <= now:
                self._expire(j)
            else:
                rec.status[j] = IN_QUEUE
        for w in self.workers:
            for j in w.bound:
                rec.status[j] = IN_QUEUE
        for part in (self.faults, self.tenants, self.timeline, self.llm, self.jobops):
            if part is not None:
                part.finish(self.counters)
        rec.notes.update(self.counters)
