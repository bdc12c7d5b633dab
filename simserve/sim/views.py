"""Snapshots of the simulated endpoint for the policies: ``EndpointView`` and ``WorkerView``.

Owns the translation from the engine's counters, queue and worker slots to the frozen views
of ``simserve.policy.view`` (the same views the live executor builds). Read-only over the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simserve.endpoint import make_endpoint_view
from simserve.policy import EndpointView, WorkerView
from simserve.records import S_RUN, STATES

if TYPE_CHECKING:
    from simserve.sim.engine import Engine
    from simserve.sim.worker import Worker


def endpoint_view(eng: Engine) -> EndpointView:
    """The endpoint at the engine's current time."""
    idle_ids: tuple[int, ...] = ()
    if eng.scaler.wants_idle_ids:
        idle_ids = tuple(w.wid for w in eng.workers
                         if w.kind == "flex" and w.state == S_RUN and w.jobs == 0 and not w.retired)
    return make_endpoint_view(
        eng.env._now, eng.queue, eng.scaler.delay_s,  # type: ignore[attr-defined]
        in_progress=eng.in_progress, n_starting=eng.n_starting, n_ready=eng.n_ready, n_free=eng.n_free,
        n_alive=eng.n_alive, n_scaled_down=eng.n_parked, active_workers=eng.sc.endpoint.active_workers,
        cap=eng.cap, idle_flex_ids=idle_ids,
    )


def worker_view(w: Worker) -> WorkerView:
    """One worker as a policy sees it."""
    return WorkerView(w.wid, w.kind, STATES[w.state], w.jobs, w.seq, w.idle_since,
                      w.host.host_id if w.host else -1)
