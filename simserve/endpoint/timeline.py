"""The events timeline: rolling updates (``deploy``) and setting changes (``set``) at given times.

Owns ``events:`` at run time. A deploy bumps the image version (a new cache key, so a miss on
every host), restarts cold starts in flight on the new version, and marks every ready worker
``outdated``: it takes no new job and is billed only while processing. Outdated workers are
replaced ``max(1, ceil(10% of max workers))`` at a time: a job-free one is stopped and its slot
cold-starts the new version (the next one goes when a replacement is ready); a busy one
finishes its jobs first. A ``set`` swaps endpoint settings (validated at load time). Sees the
endpoint core only through ``ports.CorePort``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from simserve.endpoint.effects import StopWorker, TimerKind
from simserve.records import Phase, WorkerState

if TYPE_CHECKING:
    from simserve.endpoint.ports import CorePort
    from simserve.endpoint.workers import Worker
    from simserve.scenario import Event

INIT, IDLE, RUNNING, OUTDATED = WorkerState.INITIALIZING, WorkerState.IDLE, WorkerState.RUNNING, WorkerState.OUTDATED


class Timeline:
    """Scheduled deploys and setting changes, and the rolling replacement of outdated workers."""

    def __init__(self, core: CorePort) -> None:
        self.core = core
        self.batch = 1
        self.events: list[Event] = sorted(core.sc.events, key=lambda e: e.at)
        self.outdated: list[Worker] = []  # awaiting replacement, in marking order
        self.replacing: dict[int, tuple[Worker, int]] = {}  # wid -> (worker, epoch) cold-starting the new version
        self.counts = {"deploys": 0, "replaced": 0, "settings_changed": 0}

    def start(self) -> None:
        for i, ev in enumerate(self.events):
            if ev.at < self.core.sc.horizon:
                self.core.timer(ev.at - self.core.now, TimerKind.EVENT, i)

    def fire(self, i: int) -> None:
        ev = self.events[i]
        if ev.deploy is not None:
            self.deploy(ev.deploy.model_dump(exclude_none=True))
        else:
            self.set(ev.set or {})

    # ------------------------------------------------------------------ deploy
    def deploy(self, changes: dict[str, Any]) -> None:
        """Release a new version: new image key everywhere, outdated marks, rolling replacement."""
        core = self.core
        self.counts["deploys"] += 1
        core.new_version(changes)
        self.batch = max(1, math.ceil(0.1 * core.cap))
        for w in core.workers:
            if w.retired or w.version == core.version:
                continue
            if w.state == INIT:  # a cold start of the old version: start over on the new one
                w.version = core.version
                core.begin_cold(w, False)
            elif w.state == RUNNING:
                core.free.remove(w)
                core.n_ready -= 1
                core.enter(w, OUTDATED, w.phase)
                w.drain = True
                w.idle_since = -1.0
                self.outdated.append(w)
        self.pump()

    def pump(self) -> None:
        """Replace job-free outdated workers while fewer than ``batch`` replacements are under way."""
        self.replacing = {wid: (w, e) for wid, (w, e) in self.replacing.items() if w.state == INIT and w.epoch == e}
        self.outdated = [w for w in self.outdated if w.state == OUTDATED]
        for w in list(self.outdated):
            if len(self.replacing) >= self.batch:
                return
            if w.jobs == 0:
                self.outdated.remove(w)
                self._replace(w)

    def _replace(self, w: Worker) -> None:
        core = self.core
        w.drain = False
        core.n_alive -= 1
        core.enter(w, IDLE, Phase.NONE)
        core.out.append(StopWorker(w.wid))
        core.release(w)
        w.stopped_at = -1.0
        w.epoch += 1
        self.counts["replaced"] += 1
        assert w.host is not None
        host = w.host if w.host.free >= core.gpus_per_worker else core.place()
        if host is None or core.n_alive >= core.cap:
            core.park(w)
            core.trim_slots()
            return
        core.start_on(w, host)
        self.replacing[w.wid] = (w, w.epoch)

    def on_ready(self, w: Worker) -> None:
        """A worker became ready: a finished replacement lets the next one go."""
        if w.wid in self.replacing:
            del self.replacing[w.wid]
            self.pump()

    def on_drained(self, w: Worker) -> None:
        """A job ended on a draining (outdated or retiring) worker."""
        if w.running:
            return
        core = self.core
        core.enter(w, w.state, Phase.WARM)  # job-free: outdated and warm is not billed
        if w.retire_on_drain:
            self._retire(w)
        else:
            self.pump()

    # ------------------------------------------------------------------ set
    def set(self, values: dict[str, Any]) -> None:
        """Apply endpoint setting changes (keys are ``endpoint.<field>`` or ``endpoint.scaler.value``)."""
        core = self.core
        self.counts["settings_changed"] += 1
        ep = core.sc.endpoint.model_dump()
        for key, value in values.items():
            parts = key.split(".")[1:]
            node = ep
            for part in parts[:-1]:
                node = node[part]
            node[parts[-1]] = value
        old_active = core.sc.endpoint.active_workers
        new_ep = type(core.sc.endpoint).model_validate(ep)
        core.settings(core.sc.model_copy(update={"endpoint": new_ep}))
        if new_ep.active_workers > old_active:
            for _ in range(new_ep.active_workers - old_active):
                if core.n_alive >= core.cap or core.scale_up("active", kind="active") is None:
                    break
        elif new_ep.active_workers < old_active:
            active = [
                w
                for w in core.workers
                if w.kind == "active" and not w.retire_on_drain and w.state in (RUNNING, OUTDATED)
            ]
            for w in sorted(active, key=lambda x: -x.seq)[: old_active - new_ep.active_workers]:
                w.retire_on_drain = True
                w.drain = True
                if w.state == RUNNING:
                    core.free.remove(w)
                if not w.running:
                    self._retire(w)
        core.trim_slots()
        core.dispatch_queued()

    def _retire(self, w: Worker) -> None:
        """Stop an active worker removed by a ``set``: it leaves the endpoint (an idle row to the horizon)."""
        core = self.core
        if w.state == RUNNING:
            core.n_ready -= 1
        core.n_alive -= 1
        core.enter(w, IDLE, Phase.NONE)
        core.out.append(StopWorker(w.wid))
        core.release(w)
        w.epoch += 1
        w.dropped = True
        w.drain = w.retire_on_drain = False
        self.pump()

    def finish(self, counters: dict[str, int]) -> None:
        counters.update(self.counts)
