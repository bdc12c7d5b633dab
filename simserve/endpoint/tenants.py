"""Other tenants on the GPU hosts, and the throttling they cause.

Owns ``hosts[].other_tenants`` at run time: each host of such a pool has a tenant demand in
GPUs, redrawn as Binomial(gpus_per_host, utilization) at exponential intervals of mean
``time_scale`` (or at the rows of a ``time_s,utilization`` CSV). Tenants take free GPUs up to
their demand, first claim on GPUs our workers give back, and never preempt a running worker.
A scaled-down slot revived on a full host becomes ``throttled`` (not billed) until a GPU frees
there (it starts on it, FlashBoot if eligible) or ``move_after`` passes (the platform moves it:
a cold start on another host); it starts only if jobs still wait, else it returns to ``idle``.
All GPU changes go through ``Host.take/release``; each change of tenant demand is also an effect
(``Reserve``), so the live executor really withholds those slots. Sees the endpoint core only
through ``ports.CorePort``.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from simserve.endpoint.effects import Reserve, TimerKind
from simserve.endpoint.hosts import Host
from simserve.records import Phase, WorkerState
from simserve.workload import read_utilization_csv

if TYPE_CHECKING:
    from simserve.endpoint.ports import CorePort
    from simserve.endpoint.workers import Worker
    from simserve.scenario import OtherTenants


class Tenants:
    """Tenant demand per host and the throttled slots waiting on each host."""

    def __init__(self, core: CorePort) -> None:
        self.core = core
        self.rng = core.streams.get("tenants")
        pools = core.sc.hosts
        self.cfg: dict[int, OtherTenants] = {}
        for h in core.hosts:
            cfg = pools[h.pool].other_tenants if 0 <= h.pool < len(pools) else None
            if cfg is not None:
                self.cfg[h.host_id] = cfg
        self.demand = [0] * len(core.hosts)
        self.held = [0] * len(core.hosts)
        self.waiters: dict[int, deque[Worker]] = {hid: deque() for hid in self.cfg}
        self.counts = {"throttle_episodes": 0, "throttle_moves": 0}

    def start(self) -> None:
        """Initial tenant demand at t=0 and the schedule of changes."""
        core = self.core
        csv_rows: dict[int, list[tuple[float, float]]] = {}
        for hid, cfg in self.cfg.items():
            h = core.hosts[hid]
            if cfg.csv is None:
                self._set(h, self._draw(h, cfg.mean_utilization))
                core.timer(float(self.rng.exponential(cfg.time_scale)), TimerKind.TENANT_DRAW, hid)
                continue
            if h.pool not in csv_rows:
                p = Path(cfg.csv)
                csv_rows[h.pool] = read_utilization_csv(p if p.is_absolute() else Path(core.sc.base_dir) / p)
            rows = csv_rows[h.pool]
            first = [u for t, u in rows if t <= 0]
            self._set(h, self._draw(h, first[-1] if first else 0.0))
            for t, u in rows:
                if t > 0:
                    core.timer(t, TimerKind.TENANT_ROW, (hid, u))

    def _draw(self, h: Host, utilization: float) -> int:
        return int(self.rng.binomial(h.gpus, utilization)) if utilization > 0 else 0

    def on_timer(self, kind: TimerKind, arg: object) -> None:
        if kind == TimerKind.TENANT_DRAW:
            self._on_change(arg)  # type: ignore[arg-type]
        elif kind == TimerKind.TENANT_ROW:
            self._on_row(arg)  # type: ignore[arg-type]
        else:
            self._on_move(arg)  # type: ignore[arg-type]

    def _on_change(self, hid: int) -> None:
        cfg = self.cfg[hid]
        h = self.core.hosts[hid]
        self._set(h, self._draw(h, cfg.mean_utilization))
        self.core.timer(float(self.rng.exponential(cfg.time_scale)), TimerKind.TENANT_DRAW, hid)

    def _on_row(self, arg: tuple[int, float]) -> None:
        hid, utilization = arg
        h = self.core.hosts[hid]
        self._set(h, self._draw(h, utilization))

    def _set(self, h: Host, demand: int) -> None:
        hid = h.host_id
        self.demand[hid] = demand
        surplus = self.held[hid] - demand
        if surplus > 0:
            self.held[hid] = demand
            h.release(surplus)
            self.core.out.append(Reserve(hid, demand))
            self._serve(h)
        else:
            self._grab(h)

    def _grab(self, h: Host) -> None:
        n = min(self.demand[h.host_id] - self.held[h.host_id], h.free)
        if n > 0:
            self.held[h.host_id] += n
            h.take(n)
            self.core.out.append(Reserve(h.host_id, self.held[h.host_id]))

    # ------------------------------------------------------------------ our workers
    def on_release(self, h: Host) -> None:
        """One of our workers gave GPUs back on ``h``: tenants claim first, then throttled slots."""
        if h.host_id in self.cfg:
            self._grab(h)
            self._serve(h)

    def throttle(self, w: Worker) -> None:
        """A scaled-down slot was asked to start but its host is full: throttle it there."""
        core = self.core
        assert w.host is not None
        core.enter(w, WorkerState.THROTTLED, Phase.NONE)
        core.n_held += 1
        w.epoch += 1
        self.counts["throttle_episodes"] += 1
        self.waiters.setdefault(w.host.host_id, deque()).append(w)
        cfg = self.cfg.get(w.host.host_id)
        core.timer(cfg.move_after if cfg is not None else 300.0, TimerKind.THROTTLE_MOVE, (w.wid, w.epoch))

    def _serve(self, h: Host) -> None:
        """Start throttled slots waiting on ``h`` while it has room (FIFO)."""
        core = self.core
        waiting = self.waiters.get(h.host_id)
        while waiting and h.free >= core.gpus_per_worker:
            w = waiting.popleft()
            if w.state == WorkerState.THROTTLED and w.host is h:
                self._leave(w, h)

    def _on_move(self, arg: tuple[int, int]) -> None:
        wid, epoch = arg
        core = self.core
        w = core.workers[wid]
        if w.epoch != epoch or w.state != WorkerState.THROTTLED:
            return
        host = core.place() if core.n_alive < core.cap else None
        if host is None and core.n_alive < core.cap:  # nowhere to go yet: wait another period
            core.timer(
                self.cfg[w.host.host_id].move_after if w.host and w.host.host_id in self.cfg else 300.0,
                TimerKind.THROTTLE_MOVE,
                (w.wid, w.epoch),
            )
            return
        if host is not None:
            self.counts["throttle_moves"] += 1
        self._leave(w, host)

    def _leave(self, w: Worker, host: Host | None) -> None:
        """End the throttle episode of ``w``: start it on ``host`` if jobs still wait and max workers allows,
        else it goes back to ``idle`` (scaled down; an extra worker took over or the demand passed)."""
        core = self.core
        core.n_held -= 1
        if host is not None and core.n_alive < core.cap and core.queue:
            core.start_on(w, host)
            return
        core.enter(w, WorkerState.IDLE, Phase.NONE)
        core.park(w)
        core.trim_slots()

    def finish(self, counters: dict[str, int]) -> None:
        counters.update(self.counts)
