"""The simulator's per-job fast path: ``Kernel.run_merged`` with the core's two common events inlined.

Owns ``run_hot``, the speed trick of the simulator, kept in this one module: it steps the kernel's
queue exactly as ``Kernel.run_merged`` does (pre-drawn arrivals merged in, heap entries first at
equal times, the core's pending effects carried after each arrival and completion) and, for the
two events that happen once per job, runs the endpoint core's own code inline on local names:

- an arrival that a free worker takes at once (``EndpointCore.arrive``'s warm path and
  ``begin_job``), its completion pushed onto the heap directly (``Kernel.carry``'s ``RunJob``), or
  that a queue scaler queues (``arrive``'s queued path);
- a completed job on a worker that is not draining (``EndpointCore.job_finished``): the worker
  takes the next queued job (``JobQueue.pop`` of a live head, then ``begin_job``) or turns warm,
  arms its idle timer and is free.

A busy/warm phase change on this path writes no row: it appends its time to the worker's ``flips``
(``Worker.add_flip``: one double in a buffer, where a row is six and a list), and
``Recorder.write_flips`` turns them into the rows ``EndpointCore.close`` would have written whenever
the core writes a row of that worker, a streamed run loads a block or hands over intervals, and at the
end (``Recorder.settle``). The worker's ``since`` is the last of its flips, so a flip moves it on
too. The core's ``in_progress`` and the free index's count change here as two local deltas, added to
them before any method of the core, the driver or the kernel runs (nothing else reads them).

Everything else (a rejected arrival or one that starts a worker, an expired queue head, a retried
job's stale token, a draining worker, timeouts, starts, timers) goes to the core's methods, which
stay the reference: the tables are the same byte for byte with and without this path
(``tests/sim/test_hotloop.py``). It applies only to runs whose per-job rules are the plain ones
(``hot_ok``): no LLM engine, no open workload, no drawn job flags, no setting changes. No rule is
decided here that the core does not decide the same way; a change to ``arrive``, ``begin_job``,
``job_finished`` or ``JobQueue.pop`` must be made here too.

Where a C compiler is present the install compiles this module with Cython (``setup.py``; the C types
of its local names are in ``hotloop.pxd``, the worker's in ``endpoint/workers.pxd``): the per-job
arithmetic, comparisons and record stores become C, and the completions this path schedules wait in a
``timeheap.TimeHeap`` (C comparisons of time and event id) beside the kernel's queue, taken in the order
one heap would give and put back on the queue when the loop ends; the sets, the free-worker heap and
the core's methods are the same Python objects. The source is the same either way, and the two give
the same tables byte for byte (``tests/sim/test_compiled.py``); after editing it or a ``.pxd``,
``pip install -e .`` compiles it again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from heapq import heappop, heappush

from simserve.endpoint import EndpointCore, SetTimer, TimerKind
from simserve.endpoint.queue import COMPACT_AFTER
from simserve.records import JobStatus, Phase
from simserve.sim.kernel import NORMAL, Call, Kernel, Ticker
from simserve.sim.timeheap import TimeHeap

try:  # compiled, ``cython.compiled`` is True; interpreted, False (Cython's pure-Python shadow) or absent
    import cython

    COMPILED: bool = bool(cython.compiled)
except ImportError:
    COMPILED = False

BUSY, WARM = int(Phase.BUSY), int(Phase.WARM)
IN_PROGRESS, COMPLETED = int(JobStatus.IN_PROGRESS), int(JobStatus.COMPLETED)
IDLE_TIMER = TimerKind.IDLE
#: arrivals between two writes of every worker's pending flips (``EndpointCore.settle_flips``): the flips
#: (8 bytes each, ~4 MB at most) never pile up beside the rows they become, and the writes, some 10 µs a
#: worker, stay rare (2^16: case B, ~1000 workers, 9 % slower)
SETTLE_EVERY = 1 << 18


def hot_ok(core: EndpointCore) -> bool:
    """Whether the core's per-job rules are the plain ones ``run_hot`` inlines, for the whole run."""
    return (
        core.llm is None
        and core.jobops is None
        and core.job_flags is None
        and not core.flagged
        and core.timeline is None
        and not core.low
        and not core.refreshers
    )


def run_hot(
    env: Kernel,
    core: EndpointCore,
    arrival_s: Sequence[float],
    until: float,
    refill: Callable[[], tuple[Sequence[float], int] | None] | None = None,
) -> None:
    """``env.run_merged(arrival_s, core.arrive, core.job_finished, until, refill)``, with the per-job
    events inlined (see the module doc). ``env`` must be bound (``Kernel.bind``) to ``core.out``."""
    env.on_done = core.job_finished  # type: ignore[method-assign]
    q, eid = env.raw()
    set_now = env.set_now
    pending, svc, on_timeout = env._pending, env._service_s, env._on_timeout
    other, carry = env._other, env.carry
    call, ticker = Call, Ticker
    push, pop, normal = heappush, heappop, NORMAL  # (local names: no global look-up per job)
    arrive, finished = core.arrive, core.job_finished
    arr, start_s, end_s, status = core.arr, core.start_s, core.end_s, core.status
    job_worker, close, settle, workers = core.job_worker, core.close, core.settle_flips, core.workers
    free = core.free
    fheap, by_seq = free.heap, free.by_seq
    queue, job_token = core.queue, core.job_token
    qpop, qlist, qarr, qttl = queue.pop, queue._q, queue._arr, queue._ttl
    qappend = qlist.append  # JobQueue.append of a job that is not low priority
    queues, expires = core.queues, core.expires
    exec_timeout, ttl, idle_timeout, scaler = core.exec_timeout, core.ttl, core.idle_timeout, core.scaler

    n = len(arrival_s)
    i = base = 0
    if not n and refill is not None and (nxt := refill()) is not None:
        arrival_s, base = nxt
        n = len(arrival_s)
    seg = min(n, SETTLE_EVERY)
    next_arr = arrival_s[0] if n else math.inf
    # what this path changes of ``core.in_progress`` and ``free.n`` (the free index's count) is kept in two local
    # deltas, added to them before any method of the core, the driver or the kernel runs: only those read them
    dip = dfree = 0
    # compiled, the completions this path schedules wait in a ``TimeHeap`` (C comparisons) beside the kernel's
    # queue, first taken by (time, priority, id) as one heap would: they are put back on the queue at the end
    compiled = COMPILED
    ch = TimeHeap()
    try:
        while True:
            src = 0  # what comes next: 0 the next arrival, 1 the kernel's queue, 2 the completion heap
            if q and (t := q[0][0]) <= next_arr:
                src = 1
            if compiled and ch.n:
                tc = ch.t[0]
                if tc <= next_arr and (
                    src == 0 or tc < t or (tc == t and (q[0][1] > normal or (q[0][1] == normal and ch.e[0] < q[0][2])))
                ):
                    src, t = 2, tc
            if src:
                if t >= until:
                    break
                if src == 1:
                    now, _, _, ev = pop(q)  # the kernel's clock is set only where something reads it
                    if type(ev) is not int:
                        if type(ev) is ticker and now < ev.src.tick_wake:  # a sleeping tick: one grid step on
                            push(q, (now + ev.src.tick_every, normal, next(eid), ev))
                            continue
                        set_now(now)
                        core.in_progress += dip
                        free.n += dfree
                        dip = dfree = 0
                        if type(ev) is call:
                            ev.fn(ev.arg)
                        else:
                            env._run_entry(ev)
                        continue
                    j = ev
                else:
                    now = t
                    j = ch.pop()
                # a completion: ``EndpointCore.job_finished(j, now)``, inlined for a plain one
                if not job_token and status[j] != IN_PROGRESS:  # a stale completion: nothing to do
                    continue
                if not job_token:  # (with retry tokens in play ``j`` is a token, not a job)
                    w = workers[job_worker[j]]
                if job_token or w.drain:  # the core's method: retry tokens, a drain
                    core.in_progress += dip
                    free.n += dfree
                    dip = dfree = 0
                    finished(j, now)
                    if pending:
                        set_now(now)
                        carry(now)
                    continue
                core.now = now
                end_s[j] = now
                status[j] = COMPLETED
                running = w.running
                running.discard(j)
                dip -= 1
                if queues and ((h := queue._head) < len(qlist) or queue._low):  # JobQueue.pop, inlined
                    # for a live head that needs no compacting; else (expired, time to compact, low
                    # priority) the method itself (with no low-priority queue the outer test gave h < len(qlist))
                    if h < COMPACT_AFTER and not queue._low and qarr[(j := qlist[h])] + qttl > now:
                        queue._head = h + 1
                    else:
                        core.in_progress += dip
                        free.n += dfree
                        dip = dfree = 0
                        j = qpop(now)
                else:
                    j = -1
                if j < 0:  # nothing queued: the worker turns warm and is free
                    if not running:
                        if w.phase == BUSY:  # a flip: one number, its row written later (``Recorder.write_flips``)
                            w.add_flip(now)
                        else:
                            close(w)
                        w.phase = WARM
                        w.idle_since = now
                        if not w.expiry_pending and expires[w.is_flex]:
                            w.expiry_pending = True
                            deadline = scaler.idle_deadline_s(w.kind, now, idle_timeout)
                            set_now(now)
                            core.in_progress += dip
                            free.n += dfree
                            dip = dfree = 0
                            other(SetTimer(deadline, IDLE_TIMER, w.wid), now)  # Kernel.carry's path for it
                    if not w.in_free:
                        w.in_free = True
                        dfree += 1
                        by_seq[w.seq] = w
                        push(fheap, -w.seq)
                    continue
                arriving = False  # the worker takes queued job ``j``: below
            else:
                if next_arr >= until:
                    break
                now = next_arr
                core.now = now
                j = base + i
                w = None
                # ``arrive``'s warm path: FreeWorkers.pop (stale entries only dropped sooner), then begin_job
                while fheap:
                    w = by_seq[-pop(fheap)]
                    if w.in_free:
                        w.in_free = False
                        dfree -= 1
                        break
                    w = None
                arriving = True
                if w is None:
                    if queues:  # ``arrive``'s queued path (the plain rules have no low-priority job)
                        qappend(j)
                        if core.tick_wake > now:
                            core.in_progress += dip
                            free.n += dfree
                            dip = dfree = 0
                            core._queued(j)
                        if core.n_alive == 0:
                            set_now(now)
                            core.in_progress += dip
                            free.n += dfree
                            dip = dfree = 0
                            core.apply(scaler.on_arrival(core.view()))
                    else:
                        set_now(now)
                        core.in_progress += dip
                        free.n += dfree
                        dip = dfree = 0
                        arrive(j, now)
            if w is not None:
                # ``EndpointCore.begin_job(w, j, False)`` and its ``RunJob``'s push, no retry token in play
                start_s[j] = now
                job_worker[j] = w.wid
                status[j] = IN_PROGRESS
                running = w.running
                if not running:
                    ph = w.phase
                    if ph == WARM:  # a flip
                        w.add_flip(now)
                        w.phase = BUSY
                    elif ph != BUSY:
                        close(w)
                        w.phase = BUSY
                    w.idle_since = -1.0
                running.add(j)
                dip += 1
                arrived = arr[j]
                left = arrived + ttl - now
                limit = left if left < exec_timeout else exec_timeout
                s = svc[j]
                if s > limit:
                    push(q, (now + limit, normal, next(eid), call(on_timeout, j)))
                elif compiled:
                    ch.push(now + s, next(eid), j)
                else:
                    push(q, (now + s, normal, next(eid), j))
                if arriving and len(running) < w.concurrency:  # room for more: back in the free index
                    w.in_free = True
                    dfree += 1
                    push(fheap, -w.seq)  # by_seq has it: it was just taken from the index
            if arriving:
                i += 1  # the next arrival (after this one's effects, as ``run_merged``: a refill may flush records)
                if i < seg:
                    next_arr = arrival_s[i]
                elif i < n:  # every SETTLE_EVERY arrivals, the flips become rows: few are ever pending
                    settle()
                    seg = min(n, i + SETTLE_EVERY)
                    next_arr = arrival_s[i]
                else:
                    set_now(now)  # a refill reads it
                    core.in_progress += dip
                    free.n += dfree
                    dip = dfree = 0
                    if refill is not None and (nxt := refill()) is not None:
                        arrival_s, base = nxt
                        n, i = len(arrival_s), 0
                        seg = min(n, SETTLE_EVERY)
                        next_arr = arrival_s[0] if n else math.inf
                    else:
                        next_arr = math.inf
            if pending:  # Kernel.carry for what the core's methods left
                set_now(now)
                core.in_progress += dip
                free.n += dfree
                dip = dfree = 0
                carry(now)
    finally:  # the completions still waiting go back on the kernel's queue, as the interpreted path leaves them
        while ch.n:
            t, e = ch.t[0], ch.e[0]
            push(q, (t, normal, e, ch.pop()))
    core.in_progress += dip
    free.n += dfree
    set_now(until)
