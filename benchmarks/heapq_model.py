"""The yardstick of issue #11: hand-written ``heapq`` event loops of the models bench_sim.py times.

Two loops, plain Python over lists, no SimPy and nothing of simserve inside them:

``per_request_loop``  simserve's per_request mode (cases A and B): no queue; a request that finds
    no free worker starts a worker at once (it revives the most recently scaled-down slot if
    there is one, else creates a new one) and is bound to it; it starts when the worker is ready
    (a cold start of deterministic length) and counts as cold; free workers are chosen
    newest-created first (a revived slot keeps its creation rank); a worker job-free for
    ``idle_timeout`` is scaled down (one lazy timer per worker, re-armed at the deadline as in
    simserve); slots beyond max + extra workers are retired least recently scaled-down first;
    at the worker cap a request is rejected. Execution timeout and job TTL are checked per job.
``mmc_loop``  active workers only (case C): ``c`` workers ready at t = 0, one FIFO queue with the
    job TTL checked at each pop, newest-created free worker first.

Both record what simserve records per job (start, end, status, worker, cold flag) into lists
preallocated to the number of jobs, and end by computing the figures they return with numpy.
What they do not do that simserve does: write the workers' state/phase intervals (simserve
appends two rows per job for the busy/warm toggle) and build DataFrames, billing and the
summary; the time-average of alive workers is integrated on the fly instead.

The fair yardstick (issue #26): ``per_request_loop_rows`` and ``mmc_loop_rows`` are the same loops
that also write the worker state intervals simserve writes (worker, state, phase, start, end, with
host -1; the cold-start phases played phase by phase), into an ``array`` as simserve does; bench_core
checks them row for row against simserve's workers table.

Event ties: heap entries are ``(time, seq, kind, arg)`` with ``seq`` a counter bumped at each
push in the same order simserve pushes, and at equal times heap events run before an arrival
(as simserve's ``step_until``), so for identical draws the runs are the same event for event.
Jobs are drawn by simserve's own ``workload.generate`` outside the loops (``draw_jobs``).
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from heapq import heappop, heappush
from typing import Any

import numpy as np

J_PROGRESS, J_DONE, J_TIMED_OUT, J_REJECTED = 1, 2, 5, 6  # simserve.records' job status codes
W_PARKED, W_INIT, W_RUN, W_RETIRED = 0, 1, 2, 3
EV_DONE, EV_READY, EV_IDLE, EV_TIMEOUT, EV_PHASE = 0, 1, 2, 3, 4
S_INIT, S_IDLE, S_RUN = 0, 1, 2  # simserve.records' WorkerState codes (the ``_rows`` variants)
P_BUSY, P_WARM = 7, 8  # simserve.records' Phase codes


# ---------------------------------------------------------------------------------------- set-up
def draw_jobs(sc: Any, seed: int) -> tuple[list[float], list[float]]:
    """Arrival and service times exactly as ``simserve.simulate(sc, seed)`` draws them."""
    import simserve.rng
    import simserve.workload

    jobs = simserve.workload.generate(sc, simserve.rng.RandomStreams(seed))
    return jobs.arrival_s.tolist(), jobs.service_s.tolist()


def per_request_params(sc: Any) -> dict[str, Any]:
    """The loop's parameters read off a per_request scenario; refuses what the loop does not model."""
    ep, cs = sc.endpoint, sc.cold_start
    if ep.scaler.type != "per_request" or ep.concurrency != 1 or ep.active_workers or ep.flashboot:
        raise ValueError("the yardstick models per_request, concurrency 1, no active workers, no FlashBoot")
    if sc.hosts or sc.faults is not None or sc.events or sc.warmup or len(ep.gpu) != 1:
        raise ValueError("the yardstick models one default GPU pool, no faults, events or warmup")
    if cs.model.placement != "none":
        raise ValueError("the yardstick models model placement 'none'")
    for d in (cs.container_start, cs.handler_init):
        if getattr(d, "dist", None) != "constant":
            raise ValueError("the yardstick models deterministic (constant) cold-start phases")
    pull = cs.image_size / cs.registry_bandwidth
    # the non-zero phases in simserve's order; a revived slot's host caches the image (no pull)
    new = tuple(d for d in (pull, cs.container_start.value, cs.handler_init.value) if d > 0)
    revive = tuple(d for d in (cs.container_start.value, cs.handler_init.value) if d > 0)
    return {
        "horizon": sc.horizon,
        "cold_new": new,
        "cold_revive": revive,
        "idle_timeout": ep.idle_timeout,
        "cap": ep.worker_cap,
        "slots_max": ep.worker_cap + ep.extra_workers,
        "exec_timeout": ep.execution_timeout,
        "ttl": ep.job_ttl,
    }


def per_request_row_params(sc: Any) -> dict[str, Any]:
    """``per_request_params`` plus each start's phases as simserve's ``(Phase code, seconds)`` (zero-length
    phases dropped, as ``simserve.endpoint.coldstart`` drops them), for ``per_request_loop_rows``."""
    cs = sc.cold_start
    pull = (1, cs.image_size / cs.registry_bandwidth)
    rest = ((2, cs.container_start.value), (5, cs.handler_init.value))
    new = tuple(p for p in (pull, *rest) if p[1] > 0) or ((5, 0.0),)
    revive = tuple(p for p in rest if p[1] > 0) or ((5, 0.0),)
    return {**per_request_params(sc), "phases_new": new, "phases_revive": revive}


def mmc_params(sc: Any) -> dict[str, Any]:
    ep, cs = sc.endpoint, sc.cold_start
    if ep.active_workers != ep.max_workers or ep.extra_workers or ep.concurrency != 1:
        raise ValueError("the M/M/c yardstick models active workers only, concurrency 1")
    if cs.image_size or cs.container_start.mean_s() or cs.handler_init.mean_s() or sc.warmup:
        raise ValueError("the M/M/c yardstick models zero-length starts and no warmup")
    return {"horizon": sc.horizon, "c": ep.active_workers, "exec_timeout": ep.execution_timeout, "ttl": ep.job_ttl}


def _intervals(iv: array) -> np.ndarray:
    """The rows ``(worker, state, phase, start, end, host)`` sorted by worker, then start (simserve's order)."""
    t = np.frombuffer(iv, dtype=float).reshape(-1, 6)
    return t[np.lexsort((t[:, 3], t[:, 0]))]


def _figures(
    arr: list[float],
    start: list[float],
    end: list[float],
    status: bytearray,
    worker: list[int],
    cold: bytearray,
    alive_area: float,
    horizon: float,
) -> dict[str, Any]:
    """P(cold) (cold over started, as simserve's summary), mean latency of completed jobs, mean alive
    workers, and the per-job columns (under ``jobs``) for an exact comparison with simserve's table."""
    a = np.asarray(arr)
    s = np.asarray(start)
    e = np.asarray(end)
    st = np.frombuffer(status, dtype=np.uint8)
    started = ~np.isnan(s)
    st[(st == 0) & started & np.isnan(e)] = J_PROGRESS  # started, not ended at the horizon
    done = st == J_DONE
    n_started = int(started.sum())
    n_cold = int(np.frombuffer(cold, dtype=np.uint8)[started].sum())
    lat = e[done] - a[done]
    return {
        "p_cold": n_cold / n_started if n_started else 0.0,
        "mean_latency_s": float(np.mean(lat)) if len(lat) else math.nan,
        "mean_alive": alive_area / horizon,
        "arrived": len(arr),
        "completed": int(done.sum()),
        "jobs": {
            "start_s": s,
            "end_s": e,
            "status": st,
            "worker_id": np.asarray(worker),
            "cold_start": np.frombuffer(cold, dtype=np.uint8).astype(bool),
        },
    }


# ---------------------------------------------------------------------------------- per_request
def per_request_loop(
    arr: list[float],
    svc: list[float],
    horizon: float,
    cold_new: tuple[float, ...],
    cold_revive: tuple[float, ...],
    idle_timeout: float,
    cap: int,
    slots_max: int,
    exec_timeout: float,
    ttl: float,
) -> dict[str, Any]:
    n = len(arr)
    nan = math.nan
    start = [nan] * n
    end = [nan] * n
    status = bytearray(n)
    worker = [-1] * n
    cold = bytearray(n)
    # workers: parallel lists indexed by worker id (= creation rank)
    w_state: list[int] = []
    w_jobs: list[int] = []
    w_idle_since: list[float] = []
    w_pending: list[bool] = []  # an idle check is on the heap
    w_in_free: list[bool] = []
    w_bound: list[int] = []  # the job waiting for this worker's cold start (-1: none)
    w_since: list[float] = []  # when it was last scaled down (a slot scaled down this instant is kept)
    parked: deque[int] = deque()  # scaled-down slots in stop order
    free: list[int] = []  # heap of -worker id; stale entries skipped (w_in_free false)
    q: list[tuple[float, int, int, int]] = []
    seq = 0
    n_alive = 0
    area = 0.0
    t_area = 0.0
    i = 0
    next_arr = arr[0] if n else math.inf
    while True:
        if q and q[0][0] <= next_arr:
            if q[0][0] >= horizon:
                break
            now, _, kind, x = heappop(q)
            if kind in (EV_DONE, EV_TIMEOUT):  # job x ends on its worker
                w = worker[x]
                end[x] = now
                status[x] = J_DONE if kind == EV_DONE else J_TIMED_OUT
                w_jobs[w] -= 1
                w_idle_since[w] = now
                if not w_pending[w]:
                    w_pending[w] = True
                    heappush(q, (now + idle_timeout, seq, EV_IDLE, w))
                    seq += 1
                if not w_in_free[w]:
                    w_in_free[w] = True
                    heappush(free, -w)
            elif kind == EV_READY:  # cold start of worker x done: its bound job starts, cold
                w = x
                w_state[w] = W_RUN
                j = w_bound[w]
                w_bound[w] = -1
                start[j] = now
                worker[j] = w
                cold[j] = 1
                w_jobs[w] = 1
                w_idle_since[w] = -1.0
                s = svc[j]
                if s > exec_timeout or now + s > arr[j] + ttl:
                    heappush(q, (now + max(min(exec_timeout, arr[j] + ttl - now), 0.0), seq, EV_TIMEOUT, j))
                else:
                    heappush(q, (now + s, seq, EV_DONE, j))
                seq += 1
            else:  # EV_IDLE: scale worker x down if it has been job-free for idle_timeout
                w = x
                w_pending[w] = False
                if w_state[w] != W_RUN or w_jobs[w] or w_idle_since[w] < 0:
                    continue
                deadline = w_idle_since[w] + idle_timeout
                if now < deadline:
                    w_pending[w] = True
                    heappush(q, (deadline, seq, EV_IDLE, w))
                    seq += 1
                    continue
                w_in_free[w] = False
                w_state[w] = W_PARKED
                w_idle_since[w] = -1.0
                w_since[w] = now
                area += n_alive * (now - t_area)
                t_area = now
                n_alive -= 1
                parked.append(w)
                while n_alive + len(parked) > slots_max and parked:  # retire the least recent slots
                    old = parked.popleft()
                    if w_since[old] >= now:
                        parked.appendleft(old)
                        break
                    w_state[old] = W_RETIRED
        else:
            if next_arr >= horizon:
                break
            now = next_arr
            j = i
            i += 1
            next_arr = arr[i] if i < n else math.inf
            while free:  # the newest-created free worker takes the job, warm
                w = -heappop(free)
                if w_in_free[w]:
                    w_in_free[w] = False
                    start[j] = now
                    worker[j] = w
                    w_jobs[w] = 1
                    w_idle_since[w] = -1.0
                    s = svc[j]
                    if s > exec_timeout or now + s > arr[j] + ttl:
                        heappush(q, (now + max(min(exec_timeout, arr[j] + ttl - now), 0.0), seq, EV_TIMEOUT, j))
                    else:
                        heappush(q, (now + s, seq, EV_DONE, j))
                    seq += 1
                    break
            else:  # none free: start a worker bound to the job, or reject at the cap
                if n_alive >= cap:
                    status[j] = J_REJECTED
                    end[j] = now
                    continue
                if parked:
                    w = parked.pop()
                    phases = cold_revive
                else:
                    w = len(w_state)
                    w_state.append(W_PARKED)
                    w_jobs.append(0)
                    w_idle_since.append(-1.0)
                    w_pending.append(False)
                    w_in_free.append(False)
                    w_bound.append(-1)
                    w_since.append(now)
                    phases = cold_new
                w_state[w] = W_INIT
                w_bound[w] = j
                area += n_alive * (now - t_area)
                t_area = now
                n_alive += 1
                ready = now
                for d in phases:
                    ready = ready + d
                heappush(q, (ready, seq, EV_READY, w))
                seq += 1
    area += n_alive * (horizon - t_area)
    out = _figures(arr, start, end, status, worker, cold, area, horizon)
    out["workers_created"] = len(w_state)
    return out


# ---------------------------------------------------------------------------------------- M/M/c
def mmc_loop(
    arr: list[float], svc: list[float], horizon: float, c: int, exec_timeout: float, ttl: float
) -> dict[str, Any]:
    n = len(arr)
    nan = math.nan
    start = [nan] * n
    end = [nan] * n
    status = bytearray(n)
    worker = [-1] * n
    cold = bytearray(n)
    w_jobs = [0] * c
    w_idle_since = [0.0] * c
    w_in_free = [True] * c
    free = [-w for w in range(c - 1, -1, -1)]  # all ready at t = 0
    queue: deque[int] = deque()
    q: list[tuple[float, int, int, int]] = []
    seq = c  # simserve pushed the c start events first
    i = 0
    next_arr = arr[0] if n else math.inf
    while True:
        if q and q[0][0] <= next_arr:
            if q[0][0] >= horizon:
                break
            now, _, kind, x = heappop(q)
            w = worker[x]
            end[x] = now
            status[x] = J_DONE if kind == EV_DONE else J_TIMED_OUT
            w_jobs[w] -= 1
            j = -1
            while queue:  # the head of the queue that has not outlived the TTL
                j = queue.popleft()
                if arr[j] + ttl <= now:
                    status[j] = J_TIMED_OUT
                    end[j] = arr[j] + ttl
                    j = -1
                    continue
                break
            if j >= 0:
                start[j] = now
                worker[j] = w
                w_jobs[w] += 1
                w_idle_since[w] = -1.0
                s = svc[j]
                if s > exec_timeout or now + s > arr[j] + ttl:
                    heappush(q, (now + max(min(exec_timeout, arr[j] + ttl - now), 0.0), seq, EV_TIMEOUT, j))
                else:
                    heappush(q, (now + s, seq, EV_DONE, j))
                seq += 1
                continue
            w_idle_since[w] = now
            if not w_in_free[w]:
                w_in_free[w] = True
                heappush(free, -w)
        else:
            if next_arr >= horizon:
                break
            now = next_arr
            j = i
            i += 1
            next_arr = arr[i] if i < n else math.inf
            while free:
                w = -heappop(free)
                if w_in_free[w]:
                    w_in_free[w] = False
                    start[j] = now
                    worker[j] = w
                    w_jobs[w] = 1
                    w_idle_since[w] = -1.0
                    s = svc[j]
                    if s > exec_timeout or now + s > arr[j] + ttl:
                        heappush(q, (now + max(min(exec_timeout, arr[j] + ttl - now), 0.0), seq, EV_TIMEOUT, j))
                    else:
                        heappush(q, (now + s, seq, EV_DONE, j))
                    seq += 1
                    break
            else:
                queue.append(j)
    for j in queue:  # still queued at the horizon: expired if past the TTL, else in queue
        if arr[j] + ttl <= horizon:
            status[j] = J_TIMED_OUT
            end[j] = arr[j] + ttl
    return _figures(arr, start, end, status, worker, cold, c * horizon, horizon)


# ---------------------------------------------------------------------------------- per_request
def per_request_loop_rows(
    arr: list[float],
    svc: list[float],
    horizon: float,
    cold_new: tuple[float, ...],
    cold_revive: tuple[float, ...],
    idle_timeout: float,
    cap: int,
    slots_max: int,
    exec_timeout: float,
    ttl: float,
    phases_new: tuple[tuple[int, float], ...] = (),
    phases_revive: tuple[tuple[int, float], ...] = (),
) -> dict[str, Any]:
    """``per_request_loop`` that also writes the worker state intervals simserve writes (host -1)."""
    iv = array("d")
    row = iv.fromlist
    n = len(arr)
    nan = math.nan
    start = [nan] * n
    end = [nan] * n
    status = bytearray(n)
    worker = [-1] * n
    cold = bytearray(n)
    # workers: parallel lists indexed by worker id (= creation rank)
    w_state: list[int] = []
    w_jobs: list[int] = []
    w_idle_since: list[float] = []
    w_pending: list[bool] = []  # an idle check is on the heap
    w_in_free: list[bool] = []
    w_bound: list[int] = []  # the job waiting for this worker's cold start (-1: none)
    w_since: list[float] = []  # when it was last scaled down (a slot scaled down this instant is kept)
    w_ivs: list[float] = []  # when its current (state, phase) began
    w_st: list[int] = []  # its state (simserve's WorkerState code)
    w_ph: list[int] = []  # its phase (simserve's Phase code)
    w_plan: list[tuple[tuple[int, float], ...]] = []  # the start in flight, phase by phase
    parked: deque[int] = deque()  # scaled-down slots in stop order
    free: list[int] = []  # heap of -worker id; stale entries skipped (w_in_free false)
    q: list[tuple[float, int, int, int]] = []
    seq = 0
    n_alive = 0
    area = 0.0
    t_area = 0.0
    i = 0
    next_arr = arr[0] if n else math.inf
    while True:
        if q and q[0][0] <= next_arr:
            if q[0][0] >= horizon:
                break
            now, _, kind, x = heappop(q)
            if kind in (EV_DONE, EV_TIMEOUT):  # job x ends on its worker
                w = worker[x]
                end[x] = now
                status[x] = J_DONE if kind == EV_DONE else J_TIMED_OUT
                w_jobs[w] -= 1
                w_idle_since[w] = now
                if now > w_ivs[w]:
                    row([w, S_RUN, P_BUSY, w_ivs[w], now, -1])
                    w_ivs[w] = now
                w_ph[w] = P_WARM
                if not w_pending[w]:
                    w_pending[w] = True
                    heappush(q, (now + idle_timeout, seq, EV_IDLE, w))
                    seq += 1
                if not w_in_free[w]:
                    w_in_free[w] = True
                    heappush(free, -w)
            elif kind == EV_PHASE:  # the next phase of worker x's start begins
                w = x
                plan = w_plan[w]
                k = next(i for i, (p, _) in enumerate(plan) if p == w_ph[w]) + 1
                if now > w_ivs[w]:
                    row([w, S_INIT, w_ph[w], w_ivs[w], now, -1])
                    w_ivs[w] = now
                w_ph[w] = plan[k][0]
                if k + 1 < len(plan):
                    heappush(q, (now + plan[k][1], seq, EV_PHASE, w))
                else:
                    heappush(q, (now + plan[k][1], seq, EV_READY, w))
                seq += 1
            elif kind == EV_READY:  # cold start of worker x done: its bound job starts, cold
                w = x
                w_state[w] = W_RUN
                if now > w_ivs[w]:
                    row([w, S_INIT, w_ph[w], w_ivs[w], now, -1])
                    w_ivs[w] = now
                w_st[w], w_ph[w] = S_RUN, P_BUSY
                j = w_bound[w]
                w_bound[w] = -1
                start[j] = now
                worker[j] = w
                cold[j] = 1
                w_jobs[w] = 1
                w_idle_since[w] = -1.0
                s = svc[j]
                if s > exec_timeout or now + s > arr[j] + ttl:
                    heappush(q, (now + max(min(exec_timeout, arr[j] + ttl - now), 0.0), seq, EV_TIMEOUT, j))
                else:
                    heappush(q, (now + s, seq, EV_DONE, j))
                seq += 1
            else:  # EV_IDLE: scale worker x down if it has been job-free for idle_timeout
                w = x
                w_pending[w] = False
                if w_state[w] != W_RUN or w_jobs[w] or w_idle_since[w] < 0:
                    continue
                deadline = w_idle_since[w] + idle_timeout
                if now < deadline:
                    w_pending[w] = True
                    heappush(q, (deadline, seq, EV_IDLE, w))
                    seq += 1
                    continue
                w_in_free[w] = False
                w_state[w] = W_PARKED
                w_idle_since[w] = -1.0
                w_since[w] = now
                if now > w_ivs[w]:
                    row([w, S_RUN, w_ph[w], w_ivs[w], now, -1])
                    w_ivs[w] = now
                w_st[w], w_ph[w] = S_IDLE, 0
                area += n_alive * (now - t_area)
                t_area = now
                n_alive -= 1
                parked.append(w)
                while n_alive + len(parked) > slots_max and parked:  # retire the least recent slots
                    old = parked.popleft()
                    if w_since[old] >= now:
                        parked.appendleft(old)
                        break
                    w_state[old] = W_RETIRED
                    if now > w_ivs[old]:
                        row([old, S_IDLE, 0, w_ivs[old], now, -1])
                        w_ivs[old] = now
        else:
            if next_arr >= horizon:
                break
            now = next_arr
            j = i
            i += 1
            next_arr = arr[i] if i < n else math.inf
            while free:  # the newest-created free worker takes the job, warm
                w = -heappop(free)
                if w_in_free[w]:
                    w_in_free[w] = False
                    if w_ph[w] != P_BUSY:
                        if now > w_ivs[w]:
                            row([w, S_RUN, w_ph[w], w_ivs[w], now, -1])
                            w_ivs[w] = now
                        w_ph[w] = P_BUSY
                    start[j] = now
                    worker[j] = w
                    w_jobs[w] = 1
                    w_idle_since[w] = -1.0
                    s = svc[j]
                    if s > exec_timeout or now + s > arr[j] + ttl:
                        heappush(q, (now + max(min(exec_timeout, arr[j] + ttl - now), 0.0), seq, EV_TIMEOUT, j))
                    else:
                        heappush(q, (now + s, seq, EV_DONE, j))
                    seq += 1
                    break
            else:  # none free: start a worker bound to the job, or reject at the cap
                if n_alive >= cap:
                    status[j] = J_REJECTED
                    end[j] = now
                    continue
                if parked:
                    w = parked.pop()
                    plan = phases_revive
                    if now > w_ivs[w]:
                        row([w, S_IDLE, 0, w_ivs[w], now, -1])
                        w_ivs[w] = now
                else:
                    w = len(w_state)
                    w_state.append(W_PARKED)
                    w_jobs.append(0)
                    w_idle_since.append(-1.0)
                    w_pending.append(False)
                    w_in_free.append(False)
                    w_bound.append(-1)
                    w_since.append(now)
                    w_ivs.append(now)
                    w_st.append(S_IDLE)
                    w_ph.append(0)
                    w_plan.append(())
                    plan = phases_new
                w_state[w] = W_INIT
                w_st[w], w_ph[w] = S_INIT, plan[0][0]
                w_plan[w] = plan
                w_bound[w] = j
                area += n_alive * (now - t_area)
                t_area = now
                n_alive += 1
                heappush(q, (now + plan[0][1], seq, EV_PHASE if len(plan) > 1 else EV_READY, w))
                seq += 1
    area += n_alive * (horizon - t_area)
    for w in range(len(w_state)):  # the open intervals, to the horizon
        if w_state[w] != W_RETIRED and horizon > w_ivs[w]:
            row([w, w_st[w], w_ph[w], w_ivs[w], horizon, -1])
    out = _figures(arr, start, end, status, worker, cold, area, horizon)
    out["workers_created"] = len(w_state)
    out["intervals"] = _intervals(iv)
    return out


# ---------------------------------------------------------------------------------------- M/M/c
def mmc_loop_rows(
    arr: list[float], svc: list[float], horizon: float, c: int, exec_timeout: float, ttl: float
) -> dict[str, Any]:
    """``mmc_loop`` that also writes the worker state intervals simserve writes (host -1)."""
    iv = array("d")
    row = iv.fromlist
    w_ivs = [0.0] * c
    w_ph = [P_WARM] * c
    n = len(arr)
    nan = math.nan
    start = [nan] * n
    end = [nan] * n
    status = bytearray(n)
    worker = [-1] * n
    cold = bytearray(n)
    w_jobs = [0] * c
    w_idle_since = [0.0] * c
    w_in_free = [True] * c
    free = [-w for w in range(c - 1, -1, -1)]  # all ready at t = 0
    queue: deque[int] = deque()
    q: list[tuple[float, int, int, int]] = []
    seq = c  # simserve pushed the c start events first
    i = 0
    next_arr = arr[0] if n else math.inf
    while True:
        if q and q[0][0] <= next_arr:
            if q[0][0] >= horizon:
                break
            now, _, kind, x = heappop(q)
            w = worker[x]
            end[x] = now
            status[x] = J_DONE if kind == EV_DONE else J_TIMED_OUT
            w_jobs[w] -= 1
            j = -1
            while queue:  # the head of the queue that has not outlived the TTL
                j = queue.popleft()
                if arr[j] + ttl <= now:
                    status[j] = J_TIMED_OUT
                    end[j] = arr[j] + ttl
                    j = -1
                    continue
                break
            if j >= 0:
                start[j] = now  # w stays busy: no row
                worker[j] = w
                w_jobs[w] += 1
                w_idle_since[w] = -1.0
                s = svc[j]
                if s > exec_timeout or now + s > arr[j] + ttl:
                    heappush(q, (now + max(min(exec_timeout, arr[j] + ttl - now), 0.0), seq, EV_TIMEOUT, j))
                else:
                    heappush(q, (now + s, seq, EV_DONE, j))
                seq += 1
                continue
            w_idle_since[w] = now
            if now > w_ivs[w]:
                row([w, S_RUN, P_BUSY, w_ivs[w], now, -1])
                w_ivs[w] = now
            w_ph[w] = P_WARM
            if not w_in_free[w]:
                w_in_free[w] = True
                heappush(free, -w)
        else:
            if next_arr >= horizon:
                break
            now = next_arr
            j = i
            i += 1
            next_arr = arr[i] if i < n else math.inf
            while free:
                w = -heappop(free)
                if w_in_free[w]:
                    w_in_free[w] = False
                    if now > w_ivs[w]:
                        row([w, S_RUN, P_WARM, w_ivs[w], now, -1])
                        w_ivs[w] = now
                    w_ph[w] = P_BUSY
                    start[j] = now
                    worker[j] = w
                    w_jobs[w] = 1
                    w_idle_since[w] = -1.0
                    s = svc[j]
                    if s > exec_timeout or now + s > arr[j] + ttl:
                        heappush(q, (now + max(min(exec_timeout, arr[j] + ttl - now), 0.0), seq, EV_TIMEOUT, j))
                    else:
                        heappush(q, (now + s, seq, EV_DONE, j))
                    seq += 1
                    break
            else:
                queue.append(j)
    for j in queue:  # still queued at the horizon: expired if past the TTL, else in queue
        if arr[j] + ttl <= horizon:
            status[j] = J_TIMED_OUT
            end[j] = arr[j] + ttl
    for w in range(c):  # the open intervals, to the horizon
        if horizon > w_ivs[w]:
            row([w, S_RUN, w_ph[w], w_ivs[w], horizon, -1])
    out = _figures(arr, start, end, status, worker, cold, c * horizon, horizon)
    out["intervals"] = _intervals(iv)
    return out
