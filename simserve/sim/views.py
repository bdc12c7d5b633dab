"""Snapshots of the simulated endpoint for the policies: ``EndpointView`` and ``WorkerView``.

Owns the translation from the engine's counters, queue and worker slots to the frozen views
of ``simserve.policy.view`` (the same views the live executor builds). Read-only over the engine.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import TYPE_CHECKING

from simserve.policy import EndpointView, WorkerView
from simserve.records import S_RUN, STATES

if TYPE_CHECKING:
    from simserve.sim.engine import Engine
    from simserve.sim.worker import Worker


def endpoint_view(eng: Engine) -> EndpointView:
    """The endpoint at the engine's current time."""
    now = eng.env._now  # type: ignore[attr-defined]
    q, qh = eng.queue, eng.qh
    in_queue = len(q) - qh
    over = 0
    if in_queue and eng.scaler.delay_s != math.inf:
        over = bisect_right(q, now - eng.scaler.delay_s, lo=qh, key=eng.arr.__getitem__) - qh
    idle_ids: tuple[int, ...] = ()
    if eng.scaler.wants_idle_ids:
        idle_ids = tuple(w.wid for w in eng.workers
                         if w.kind == "flex" and w.state == S_RUN and w.jobs == 0 and not w.retired)
    return EndpointView(
        now_s=now, in_queue=in_queue, in_progress=eng.in_progress, queued_over_delay=over,
        oldest_wait_s=(now - eng.arr[q[qh]]) if in_queue else 0.0,
        n_starting=eng.n_starting, n_ready=eng.n_ready, n_free=eng.n_free, n_alive=eng.n_alive,
        n_scaled_down=eng.n_parked, active_workers=eng.sc.endpoint.active_workers,
        cap=eng.cap, idle_flex_ids=idle_ids,
    )


def worker_view(w: Worker) -> WorkerView:
    """One worker as a policy sees it."""
    return WorkerView(w.wid, w.kind, STATES[w.state], w.jobs, w.seq, w.idle_since,
                      w.host.host_id if w.host else -1)
