"""One record schema for both engines: jobs, worker state intervals and actions.

Owns the worker-state and phase vocabularies, the legal state transitions, and ``Recorder``,
which appends records to columnar buffers (``array.array``: 8 bytes a number, no Python
object per record) and turns them into the pandas tables of the output contract. The
simulator and the live executor both write through it.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any

import numpy as np

STATES: tuple[str, ...] = ("initializing", "idle", "running", "throttled", "outdated", "unhealthy")
PHASES: tuple[str, ...] = (
    "", "pull", "container_start", "model_download", "model_load", "handler_init", "flashboot_resume",
    "busy", "warm",
)
S_INIT, S_IDLE, S_RUN, S_THROTTLED, S_OUTDATED, S_UNHEALTHY = range(6)
P_NONE, P_PULL, P_CONTAINER, P_MODEL_DL, P_MODEL_LOAD, P_HANDLER, P_FLASHBOOT, P_BUSY, P_WARM = range(9)
COLD_PHASES: tuple[str, ...] = PHASES[1:7]

#: legal state changes (a phase change inside a state is always legal)
TRANSITIONS: dict[int, frozenset[int]] = {
    S_INIT: frozenset({S_RUN, S_IDLE, S_THROTTLED, S_UNHEALTHY, S_OUTDATED}),
    S_IDLE: frozenset({S_INIT, S_THROTTLED}),
    S_RUN: frozenset({S_IDLE, S_THROTTLED, S_OUTDATED, S_UNHEALTHY}),
    S_THROTTLED: frozenset({S_INIT, S_RUN, S_IDLE, S_UNHEALTHY}),
    S_OUTDATED: frozenset({S_IDLE, S_UNHEALTHY}),
    S_UNHEALTHY: frozenset({S_INIT, S_IDLE}),
}

JOB_STATUSES: tuple[str, ...] = (
    "in_queue", "in_progress", "completed", "failed", "cancelled", "timed_out", "rejected",
)
J_QUEUE, J_PROGRESS, J_DONE, J_FAILED, J_CANCELLED, J_TIMED_OUT, J_REJECTED = range(7)
TERMINAL = frozenset({J_DONE, J_FAILED, J_CANCELLED, J_TIMED_OUT, J_REJECTED})

JOB_COLUMNS = ("job_id", "arrival_s", "start_s", "end_s", "status", "worker_id", "cold_start",
               "queue_wait_s", "execution_s", "latency_s")
WORKER_COLUMNS = ("worker_id", "kind", "host", "gpu", "state", "phase", "start_s", "end_s", "billed", "cost_usd")


class IllegalTransition(RuntimeError):
    """A worker was asked to change state along an edge TRANSITIONS does not have."""


@dataclass
class WorkerMeta:
    """What does not change over a worker's life."""

    worker_id: int
    kind: str  # active | flex
    created_s: float


@dataclass
class Recorder:
    """Columnar buffers for one run. ``n_jobs`` is known up front (arrivals are pre-drawn)."""

    arrival_s: np.ndarray
    start_s: list[float] = field(init=False)
    end_s: list[float] = field(init=False)
    status: bytearray = field(init=False)
    worker: list[int] = field(init=False)
    cold: bytearray = field(init=False)
    retries: int = 0
    # worker state intervals: one flat buffer, 6 numbers a row (worker, state, phase, start, end, host)
    iv: array = field(default_factory=lambda: array("d"))
    workers: list[WorkerMeta] = field(default_factory=list)
    host_gpu: list[str] = field(default_factory=list)
    actions: list[tuple[float, str, int, str]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.iv_extend = self.iv.extend
        n = len(self.arrival_s)
        self.start_s = [float("nan")] * n
        self.end_s = [float("nan")] * n
        self.status = bytearray(n)  # J_QUEUE == 0
        self.worker = [-1] * n
        self.cold = bytearray(n)

    def interval(self, worker_id: int, state: int, phase: int, start: float, end: float, host: int) -> None:
        self.iv_extend((worker_id, state, phase, start, end, host))

    def interval_table(self) -> np.ndarray:
        """The intervals as an (n, 6) float array: worker, state, phase, start, end, host."""
        return np.frombuffer(self.iv, dtype=float).reshape(-1, 6) if len(self.iv) else np.empty((0, 6))

    def action(self, now_s: float, kind: str, value: int, reason: str) -> None:
        self.actions.append((now_s, kind, value, reason))

    # ------------------------------------------------------------------ frames
    def jobs_frame(self) -> Any:
        import pandas as pd

        arrival = np.asarray(self.arrival_s, dtype=float)
        start = np.asarray(self.start_s, dtype=float)
        end = np.asarray(self.end_s, dtype=float)
        status_codes = np.frombuffer(bytes(self.status), dtype=np.uint8)
        worker = np.asarray(self.worker, dtype=np.int64)
        executed = ~np.isnan(start)
        exec_s = np.where(executed & ~np.isnan(end), end - start, np.nan)
        return pd.DataFrame({
            "job_id": np.arange(len(arrival), dtype=np.int64),
            "arrival_s": arrival,
            "start_s": start,
            "end_s": end,
            "status": pd.Categorical.from_codes(status_codes.astype(np.int8), categories=list(JOB_STATUSES)),
            "worker_id": worker,
            "cold_start": np.frombuffer(bytes(self.cold), dtype=np.uint8).astype(bool),
            "queue_wait_s": start - arrival,
            "execution_s": exec_s,
            "latency_s": end - arrival,
        })

    def intervals_frame(self) -> Any:
        """Worker state intervals sorted by (worker, start), without billing columns (billing.py adds them)."""
        import pandas as pd

        t = self.interval_table()
        wid = t[:, 0].astype(np.int64)
        order = np.argsort(wid, kind="stable")  # each worker's rows are appended in time order
        t, wid = t[order], wid[order]
        host = t[:, 5].astype(np.int64)
        kind_code = np.array([1 if m.kind == "flex" else 0 for m in self.workers] or [1], dtype=np.int8)
        gpu_names = sorted(set(self.host_gpu)) + [""]
        gpu_code = np.array([gpu_names.index(g) for g in self.host_gpu] + [len(gpu_names) - 1], dtype=np.int16)
        return pd.DataFrame({
            "worker_id": wid,
            "kind": pd.Categorical.from_codes(kind_code[wid], categories=["active", "flex"]),
            "host": host,
            "gpu": pd.Categorical.from_codes(gpu_code[host], categories=gpu_names),
            "state": pd.Categorical.from_codes(t[:, 1].astype(np.int8), categories=list(STATES)),
            "phase": pd.Categorical.from_codes(t[:, 2].astype(np.int8), categories=list(PHASES)),
            "start_s": t[:, 3].copy(),
            "end_s": t[:, 4].copy(),
        })

    def actions_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.actions, columns=["time_s", "action", "value", "reason"])
