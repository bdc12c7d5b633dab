"""Other tenants on the GPU hosts, and the throttling they cause.

Owns ``hosts[].other_tenants`` at run time: each host of such a pool has a tenant demand in
GPUs, redrawn as Binomial(gpus_per_host, utilization) at exponential intervals of mean
``time_scale`` (or at the rows of a ``time_s,utilization`` CSV). Tenants take free GPUs up to
their demand, first claim on GPUs our workers give back, and never preempt a running worker.
A scaled-down slot revived on a full host becomes ``throttled`` (not billed) until a GPU frees
there (it starts on it, FlashBoot if eligible) or ``move_after`` passes (the platform moves it:
a cold start on another host); it starts only if jobs still wait, else it returns to ``idle``.
All GPU changes go through ``Host.take/release``.
"""

from __future__ import annotations

import csv
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from simserve.records import P_NONE, S_IDLE, S_THROTTLED
from simserve.sim.hosts import Host
from simserve.sim.worker import Worker, enter

if TYPE_CHECKING:
    from simserve.scenario import OtherTenants
    from simserve.sim.engine import Engine


def read_utilization_csv(path: Path) -> list[tuple[float, float]]:
    """Rows ``(time_s, utilization)`` of a tenants CSV, sorted by time."""
    with path.open(newline="") as fh:
        rows = [(float(r["time_s"]), min(max(float(r["utilization"]), 0.0), 1.0)) for r in csv.DictReader(fh)]
    return sorted(rows)


class Tenants:
    """Tenant demand per host and the throttled slots waiting on each host."""

    def __init__(self, engine: Engine) -> None:
        self.eng = engine
        self.rng = engine.streams.get("tenants")
        pools = engine.sc.hosts
        self.cfg: dict[int, OtherTenants] = {}
        for h in engine.hosts:
            cfg = pools[h.pool].other_tenants if h.pool >= 0 else None
            if cfg is not None:
                self.cfg[h.host_id] = cfg
        self.demand = [0] * len(engine.hosts)
        self.held = [0] * len(engine.hosts)
        self.waiters: dict[int, deque[Worker]] = {hid: deque() for hid in self.cfg}
        self.counts = {"throttle_episodes": 0, "throttle_moves": 0}

    def start(self) -> None:
        """Initial tenant demand at t=0 and the schedule of changes."""
        eng = self.eng
        csv_rows: dict[int, list[tuple[float, float]]] = {}
        for hid, cfg in self.cfg.items():
            h = eng.hosts[hid]
            if cfg.csv is None:
                self._set(h, self._draw(h, cfg.mean_utilization))
                eng.at(float(self.rng.exponential(cfg.time_scale)), self._on_change, hid)
                continue
            if h.pool not in csv_rows:
                p = Path(cfg.csv)
                csv_rows[h.pool] = read_utilization_csv(p if p.is_absolute() else Path(eng.sc.base_dir) / p)
            rows = csv_rows[h.pool]
            first = [u for t, u in rows if t <= 0]
            self._set(h, self._draw(h, first[-1] if first else 0.0))
            for t, u in rows:
                if t > 0:
                    eng.at(t, self._on_row, (hid, u))

    def _draw(self, h: Host, utilization: float) -> int:
        return int(self.rng.binomial(h.gpus, utilization)) if utilization > 0 else 0

    def _on_change(self, hid: int) -> None:
        cfg = self.cfg[hid]
        h = self.eng.hosts[hid]
        self._set(h, self._draw(h, cfg.mean_utilization))
        self.eng.at(float(self.rng.exponential(cfg.time_scale)), self._on_change, hid)

    def _on_row(self, arg: tuple[int, float]) -> None:
        hid, utilization = arg
        h = self.eng.hosts[hid]
        self._set(h, self._draw(h, utilization))

    def _set(self, h: Host, demand: int) -> None:
        hid = h.host_id
        self.demand[hid] = demand
        surplus = self.held[hid] - demand
        if surplus > 0:
            self.held[hid] = demand
            h.release(surplus)
            self._serve(h)
        else:
            self._grab(h)

    def _grab(self, h: Host) -> None:
        n = min(self.demand[h.host_id] - self.held[h.host_id], h.free)
        if n > 0:
            self.held[h.host_id] += n
            h.take(n)

    # ------------------------------------------------------------------ our workers
    def on_release(self, h: Host) -> None:
        """One of our workers gave GPUs back on ``h``: tenants claim first, then throttled slots."""
        if h.host_id in self.cfg:
            self._grab(h)
            self._serve(h)

    def throttle(self, w: Worker) -> None:
        """A scaled-down slot was asked to start but its host is full: throttle it there."""
        eng = self.eng
        assert w.host is not None
        enter(eng.rec, w, S_THROTTLED, P_NONE, eng.env._now)  # type: ignore[attr-defined]
        eng.n_held += 1
        w.epoch += 1
        self.counts["throttle_episodes"] += 1
        self.waiters.setdefault(w.host.host_id, deque()).append(w)
        cfg = self.cfg.get(w.host.host_id)
        eng.at(cfg.move_after if cfg is not None else 300.0, self._on_move, (w, w.epoch))

    def _serve(self, h: Host) -> None:
        """Start throttled slots waiting on ``h`` while it has room (FIFO)."""
        eng = self.eng
        waiting = self.waiters.get(h.host_id)
        while waiting and h.free >= eng.gpw:
            w = waiting.popleft()
            if w.state == S_THROTTLED and w.host is h:
                self._leave(w, h)

    def _on_move(self, arg: tuple[Worker, int]) -> None:
        w, epoch = arg
        eng = self.eng
        if w.epoch != epoch or w.state != S_THROTTLED:
            return
        host = eng._place() if eng.n_alive < eng.cap else None
        if host is None and eng.n_alive < eng.cap:  # nowhere to go yet: wait another period
            eng.at(self.cfg[w.host.host_id].move_after if w.host and w.host.host_id in self.cfg else 300.0,
                   self._on_move, (w, w.epoch))
            return
        if host is not None:
            self.counts["throttle_moves"] += 1
        self._leave(w, host)

    def _leave(self, w: Worker, host: Host | None) -> None:
        """End the throttle episode of ``w``: start it on ``host`` if jobs still wait and max workers allows,
        else it goes back to ``idle`` (scaled down; an extra worker took over or the demand passed)."""
        eng = self.eng
        eng.n_held -= 1
        if host is not None and eng.n_alive < eng.cap and eng.queue:
            eng._start(w, host)
            return
        now = eng.env._now  # type: ignore[attr-defined]
        enter(eng.rec, w, S_IDLE, P_NONE, now)
        eng._park(w)
        eng._trim_slots(now)

    def finish(self, counters: dict[str, int]) -> None:
        counters.update(self.counts)
