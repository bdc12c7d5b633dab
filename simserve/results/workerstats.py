"""Worker statistics computed online, chunk by chunk: what ``summary.json`` says about workers and cost.

Owns two pieces that let a streamed run forget its worker-state intervals as it goes:

- ``IntervalBiller`` bills intervals a chunk at a time with ``billing.session_costs`` (the one
  billing rule): each worker's last interval of a chunk is held back until the next chunk shows
  whether its billing session goes on, and a held interval carries the seconds its session already
  had, so every interval handed on has its final cost. Memory: one held interval per worker.
- ``WorkerStats`` folds billed intervals into the figures the summary reports (time by state, alive
  workers and their peak, cost by state, GPU utilisation) and into the per-minute series (workers by
  state, cost). Alive intervals are kept only as merged runs (a worker's back-to-back alive intervals
  become one), which is what the peak needs and far fewer than intervals.

A run with tables feeds ``WorkerStats`` its whole billed workers table as one chunk, so both kinds
of run report the same figures (to the last bits of summation order). Imports numpy and simserve's
records, billing and jobstats only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from simserve.billing import billed_lookup, rate_table, session_costs
from simserve.records import PHASES, STATES, ByWorker
from simserve.results.jobstats import MINUTE_S, Buckets

ALIVE_CODES = tuple(STATES.index(s) for s in ("initializing", "running", "outdated"))
#: ``IS_ALIVE[state]``: whether a worker in that state is alive
IS_ALIVE = np.isin(np.arange(len(STATES)), ALIVE_CODES)
BUSY, WARM = PHASES.index("busy"), PHASES.index("warm")
RUNNING = STATES.index("running")

#: where billed intervals go: ``(worker, kind, host, gpu, state, phase, start, end, billed, cost)`` arrays
BilledSink = Callable[..., None]


def merge_runs(wid: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge intervals of one worker that touch (rows sorted by worker, then start): ``(worker, start, end)``."""
    if len(start) == 0:
        return wid, start, end
    cont = (wid[1:] == wid[:-1]) & (start[1:] == end[:-1])
    first = np.r_[True, ~cont]
    last = np.r_[~cont, True]
    return wid[first], start[first], end[last]


def peak_concurrent(start: np.ndarray, end: np.ndarray) -> int:
    """Largest number of intervals open at once (touching intervals do not overlap)."""
    if len(start) == 0:
        return 0
    times = np.concatenate([start, end])
    delta = np.concatenate([np.ones(len(start)), -np.ones(len(end))])
    order = np.lexsort((delta, times))  # at equal times, ends (-1) before starts (+1)
    return int(np.max(np.cumsum(delta[order])))


class WorkerStats:
    """Time by state, alive runs, costs and GPU-seconds of billed intervals, fed a chunk at a time."""

    def __init__(self, warmup_s: float, horizon_s: float, gpus_per_worker: int) -> None:
        self.warmup_s, self.horizon_s, self.gpus_per_worker = warmup_s, horizon_s, gpus_per_worker
        n_states = len(STATES)
        self.time_by_state = np.zeros(n_states)
        self.cost_by_state = np.zeros(n_states)
        self.alive_s = 0.0
        self.total = 0.0
        self.running_busy = self.running_warm = 0.0
        self.busy_gpu_s = self.billed_gpu_s = 0.0
        self.n_minutes = max(1, int(np.ceil(horizon_s / MINUTE_S)))
        self.minute_workers = np.zeros((n_states, self.n_minutes))
        self.minute_cost = np.zeros(self.n_minutes)
        self._runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(
        self,
        wid: np.ndarray,
        state: np.ndarray,
        phase: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
        billed: np.ndarray,
        cost: np.ndarray,
    ) -> None:
        """A chunk of billed intervals, sorted by (worker, start)."""
        if not len(wid):
            return
        n_states = len(STATES)
        ov = np.clip(np.minimum(end, self.horizon_s) - np.maximum(start, self.warmup_s), 0.0, None)
        self.time_by_state += np.bincount(state, weights=ov, minlength=n_states)
        alive = IS_ALIVE[state]
        self.alive_s += float(ov[alive].sum())
        dur = end - start
        frac = np.divide(ov, dur, out=np.zeros_like(ov), where=dur > 0)
        c = cost * np.where(dur > 0, frac, 1.0)
        self.cost_by_state += np.bincount(state, weights=c, minlength=n_states)
        self.total += float(c.sum())
        running = state == RUNNING
        self.running_busy += float(c[running & (phase == BUSY)].sum())
        self.running_warm += float(c[running & (phase == WARM)].sum())
        self.busy_gpu_s += float(ov[phase == BUSY].sum()) * self.gpus_per_worker
        self.billed_gpu_s += float(ov[billed].sum()) * self.gpus_per_worker
        buckets = Buckets(start, end, self.n_minutes, MINUTE_S)
        buckets.add_area(self.minute_workers, key=state)
        rate = np.divide(cost, dur, out=np.zeros_like(dur), where=dur > 0)
        buckets.add_area(self.minute_cost, weight=rate)
        self._runs.append(
            merge_runs(wid, start, end) if alive.all() else merge_runs(wid[alive], start[alive], end[alive])
        )

    def peak_alive(self) -> int:
        """Most workers alive at once within [warmup, horizon] (each worker's touching alive runs merged)."""
        if not self._runs:
            return 0
        wid = np.concatenate([r[0] for r in self._runs])
        start = np.concatenate([r[1] for r in self._runs])
        end = np.concatenate([r[2] for r in self._runs])
        order = np.lexsort((start, wid))
        _, a_s, a_e = merge_runs(wid[order], start[order], end[order])
        a_s, a_e = np.maximum(a_s, self.warmup_s), np.minimum(a_e, self.horizon_s)
        keep = a_e > a_s
        return peak_concurrent(a_s[keep], a_e[keep])

    def summary_part(self, window_s: float) -> dict[str, Any]:
        """The ``workers``, ``cost_usd`` (without per-request figures) and ``gpu_utilization`` entries."""
        return {
            "workers": {
                "mean_alive": self.alive_s / window_s,
                "peak_alive": self.peak_alive(),
                "mean_by_state": {s: float(self.time_by_state[i] / window_s) for i, s in enumerate(STATES)},
            },
            "cost_usd": {
                "total": self.total,
                "per_hour": self.total / window_s * 3600.0,
                "by_state": {s: float(self.cost_by_state[i]) for i, s in enumerate(STATES)},
                "running_busy": self.running_busy,
                "running_warm": self.running_warm,
            },
            "gpu_utilization": (self.busy_gpu_s / self.billed_gpu_s) if self.billed_gpu_s > 0 else 0.0,
        }

    def minute_columns(self) -> dict[str, np.ndarray]:
        """Per-minute time-averaged workers by state and cost (``summary.minute_frame``'s columns)."""
        cols = {f"workers_{s}": self.minute_workers[i] / MINUTE_S for i, s in enumerate(STATES)}
        cols["cost_usd"] = self.minute_cost
        return cols


class IntervalBiller:
    """Bills a streamed run's worker intervals a chunk at a time (see the module doc) and hands each
    billed chunk, sorted by (worker, start), to ``sink``."""

    def __init__(
        self,
        table: Mapping[str, bool],
        gpus_per_worker: int,
        pricing: Mapping[str, Any],
        host_gpu: list[str],
        sink: BilledSink,
    ) -> None:
        self.lookup = billed_lookup(table)
        gpus = sorted(set(host_gpu))
        self.rates = rate_table(gpus, gpus_per_worker, pricing)
        self.host_gpu_code = np.array([gpus.index(g) for g in host_gpu] + [0], dtype=np.int64)
        self.gpu_names = np.array([*host_gpu, ""], dtype=object)
        self.sink = sink
        self.held = np.empty((0, 6))
        self.held_secs = np.empty(0)

    def add(self, rows: np.ndarray, worker_kind: np.ndarray, final: bool = False) -> None:
        """Intervals ``rows`` (n x 6: worker, state, phase, start, end, host; appended in time order per
        worker) closed since the last call; ``worker_kind[w]`` is 1 for an active worker, else 0.
        ``final``: the run has ended, nothing is held back."""
        t = np.vstack([self.held, rows]) if len(self.held) else rows
        carried = np.r_[self.held_secs, np.zeros(len(rows))]
        if not len(t):
            return
        rows_by_worker = ByWorker(t)  # held rows are older: they stay first in their worker
        wid, order, carried = rows_by_worker.wid, rows_by_worker.order, carried[rows_by_worker.order]
        state = rows_by_worker.column(1).astype(np.int64)
        phase = rows_by_worker.column(2).astype(np.int64)
        start, end = rows_by_worker.column(3), rows_by_worker.column(4)
        host = rows_by_worker.column(5).astype(np.int64)
        kind = worker_kind[wid]
        billed = self.lookup[kind, state, phase]
        rate = self.rates[self.host_gpu_code[host], kind]
        last_of_worker = np.r_[wid[1:] != wid[:-1], True]
        open_last = None if final else last_of_worker
        cost, secs_at = session_costs(wid, host, billed, start, end, rate, carried, open_last)
        out = np.ones(len(t), dtype=bool) if final else ~last_of_worker
        keep = ~out
        self.held = t[order[keep]]
        self.held_secs = np.where(billed[keep], secs_at[keep] - (end[keep] - start[keep]), 0.0)
        o = out
        gpu = self.gpu_names[host[o]]
        self.sink(wid[o], kind[o], host[o], gpu, state[o], phase[o], start[o], end[o], billed[o], cost[o])
