"""One record schema for both engines: jobs, worker state intervals and actions.

Owns the worker-state and phase vocabularies, the legal state transitions, and ``Recorder``,
which appends records to columnar buffers (``array.array``: 8 bytes a number, no Python
object per record) and turns them into the pandas tables of the output contract. The
simulator and the live executor both write through it. The simulator's per-job path records a
worker's busy/warm changes as bare times (``Recorder.write_flips`` makes them rows; ``settle``
does it for every worker before the intervals are read).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np


class WorkerState(IntEnum):
    """The six worker states (the seed's table); values index ``STATES``."""

    INITIALIZING = 0
    IDLE = 1
    RUNNING = 2
    THROTTLED = 3
    OUTDATED = 4
    UNHEALTHY = 5


class Phase(IntEnum):
    """Sub-phases of a state: cold-start phases while initializing, busy/warm while running."""

    NONE = 0
    PULL = 1
    CONTAINER_START = 2
    MODEL_DOWNLOAD = 3
    MODEL_LOAD = 4
    HANDLER_INIT = 5
    FLASHBOOT_RESUME = 6
    BUSY = 7
    WARM = 8


BUSY_CODE, WARM_CODE = int(Phase.BUSY), int(Phase.WARM)


class JobStatus(IntEnum):
    """Job states (the platform's, in lower case in all outputs)."""

    IN_QUEUE = 0
    IN_PROGRESS = 1
    COMPLETED = 2
    FAILED = 3
    CANCELLED = 4
    TIMED_OUT = 5
    REJECTED = 6


STATES: tuple[str, ...] = tuple(s.name.lower() for s in WorkerState)
PHASES: tuple[str, ...] = tuple("" if p is Phase.NONE else p.name.lower() for p in Phase)
COLD_PHASES: tuple[str, ...] = PHASES[1:7]
JOB_STATUSES: tuple[str, ...] = tuple(j.name.lower() for j in JobStatus)

_W = WorkerState
#: legal state changes (a phase change inside a state is always legal)
TRANSITIONS: dict[WorkerState, frozenset[WorkerState]] = {
    _W.INITIALIZING: frozenset({_W.RUNNING, _W.IDLE, _W.THROTTLED, _W.UNHEALTHY, _W.OUTDATED}),
    _W.IDLE: frozenset({_W.INITIALIZING, _W.THROTTLED}),
    _W.RUNNING: frozenset({_W.IDLE, _W.THROTTLED, _W.OUTDATED, _W.UNHEALTHY}),
    _W.THROTTLED: frozenset({_W.INITIALIZING, _W.RUNNING, _W.IDLE, _W.UNHEALTHY}),
    _W.OUTDATED: frozenset({_W.IDLE, _W.UNHEALTHY}),
    _W.UNHEALTHY: frozenset({_W.INITIALIZING, _W.IDLE}),
}
TERMINAL = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT, JobStatus.REJECTED}
)

JOB_COLUMNS = (
    "job_id",
    "arrival_s",
    "start_s",
    "end_s",
    "status",
    "worker_id",
    "cold_start",
    "queue_wait_s",
    "execution_s",
    "latency_s",
)
WORKER_COLUMNS = ("worker_id", "kind", "host", "gpu", "state", "phase", "start_s", "end_s", "billed", "cost_usd")


#: the jobs table's extra columns in an LLM run
LLM_JOB_COLUMNS = ("input_tokens", "output_tokens", "ttft_s", "tpot_s")


def token_times(
    arrival: np.ndarray, end: np.ndarray, status: np.ndarray, output_tokens: np.ndarray, first_token_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(ttft_s, tpot_s)`` per job of an LLM run: arrival to first output token (NaN without one), and for
    a completed job with more than one output token, (completion - first token) / (output tokens - 1)
    (else NaN). The one definition, used by the jobs table and the summary."""
    ttft = first_token_s - arrival
    more = (status == int(JobStatus.COMPLETED)) & (output_tokens > 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(more, (end - first_token_s) / np.maximum(output_tokens - 1, 1), np.nan)
    return ttft, tpot


def llm_columns(
    arrival: np.ndarray, end: np.ndarray, status: np.ndarray, input_tokens: Any, output_tokens: Any, first: Any
) -> dict[str, np.ndarray]:
    """The LLM columns of a jobs table (none when ``output_tokens`` is None)."""
    if output_tokens is None:
        return {}
    out_tok = np.asarray(output_tokens, dtype=np.int64)
    ttft, tpot = token_times(arrival, end, status, out_tok, np.asarray(first, dtype=float))
    return {
        "input_tokens": np.asarray(input_tokens, dtype=np.int64),
        "output_tokens": out_tok,
        "ttft_s": ttft,
        "tpot_s": tpot,
    }


def stable_order(wid: np.ndarray) -> np.ndarray:
    """The stable sort order of worker ids: a radix sort of 16-bit keys while they fit (4x a merge sort of
    int64 on a chunk of intervals), else numpy's stable sort."""
    key = wid.astype(np.uint16) if len(wid) and wid.min() >= 0 and wid.max() < 1 << 16 else wid
    return np.argsort(key, kind="stable")


def doubles(values: Any) -> array[float]:
    """``values`` (numbers: a list, an array, any buffer) copied into a buffer of doubles, which compiled
    code reads as C doubles and Python as floats."""
    return array("d", np.ascontiguousarray(values, dtype=float).tobytes())


class ByWorker:
    """An interval table (n x 6: worker, state, phase, start, end, host; each worker's rows in time order)
    read sorted by (worker, start): a stable sort by worker, then each column gathered on its own when asked
    (``column``), which costs half of gathering whole rows of six (``np.take`` along axis 0)."""

    __slots__ = ("table", "order", "wid")

    def __init__(self, table: np.ndarray) -> None:
        self.table = table
        wid = table[:, 0].astype(np.int64)
        self.order = stable_order(wid)
        self.wid = wid[self.order]

    def column(self, k: int) -> np.ndarray:
        """Column ``k``, sorted (floats)."""
        return np.take(self.table[:, k], self.order)


#: pending flips of one worker written with numpy from this many on (fewer: a row at a time)
FLIPS_VECTOR = 32
#: and this many rows at a time
FLIPS_CHUNK = 1 << 14


def nothing_pending() -> None:
    """No worker has pending flips (a recorder that no running endpoint core writes to)."""


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
    """Columnar buffers for one run. ``n_jobs`` is known up front (arrivals are pre-drawn), except in an
    open run (``simserve serve``), where ``add_job`` appends jobs as they arrive and ``seal`` ends that."""

    arrival_s: Any  # np.ndarray; a list of floats while ``add_job`` appends (an open run), until ``seal``
    #: when each job started and ended (NaN: not yet), 8 bytes a job (a list holds a float object as well)
    start_s: array[float] = field(init=False)
    end_s: array[float] = field(init=False)
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
    #: an LLM run's token counts per job (None otherwise), and when each job's first output token came
    input_tokens: Any = None
    output_tokens: Any = None
    first_token_s: list[float] = field(init=False)
    #: writes every worker's pending busy/warm flips as rows (``write_flips``); the endpoint core sets it,
    #: and every reader of the intervals calls it first
    settle: Callable[[], None] = field(default=nothing_pending, repr=False)

    def __post_init__(self) -> None:
        #: appends one row, given as a list: ``array.fromlist`` of 6 numbers costs half of ``extend`` of a tuple
        self.iv_extend = self.iv.fromlist
        n = len(self.arrival_s)
        self.start_s = array("d", (math.nan,)) * n
        self.end_s = array("d", (math.nan,)) * n
        self.status = bytearray(n)  # JobStatus.IN_QUEUE == 0
        self.worker = [-1] * n
        self.cold = bytearray(n)
        self.first_token_s = [float("nan")] * n if self.output_tokens is not None else []
        if self.output_tokens is not None:
            self.input_tokens = list(map(int, self.input_tokens))
            self.output_tokens = list(map(int, self.output_tokens))

    @property
    def llm(self) -> bool:
        """Whether the jobs carry token counts (an LLM run)."""
        return self.output_tokens is not None

    def arrival_list(self) -> array[float]:
        """Arrival times indexed by job (the endpoint core's view of them, its own copy): a buffer of doubles,
        which the compiled fast path reads as C doubles and Python as floats."""
        return doubles(self.arrival_s)

    def add_job(self, arrival_s: float, tokens: tuple[int, int] | None = None) -> int:
        """Append a job that arrived at run time (an open run); returns its index. An LLM run's job comes
        with its ``tokens`` (input, output)."""
        if (tokens is None) != (self.output_tokens is None):
            raise ValueError("a job added to an LLM run carries its token counts (input, output); others none")
        if tokens is not None:
            self.input_tokens.append(int(tokens[0]))
            self.output_tokens.append(int(tokens[1]))
            self.first_token_s.append(math.nan)
        if not isinstance(self.arrival_s, list):
            self.arrival_s = list(np.asarray(self.arrival_s, dtype=float).tolist())
        j = len(self.arrival_s)
        self.arrival_s.append(arrival_s)
        self.start_s.append(math.nan)
        self.end_s.append(math.nan)
        self.status.append(0)
        self.worker.append(-1)
        self.cold.append(0)
        return j

    def seal(self) -> None:
        """No more jobs will be added: the arrival times become an array again."""
        if isinstance(self.arrival_s, list):
            self.arrival_s = np.asarray(self.arrival_s, dtype=float)

    def write_flips(self, wid: int, state: int, phase: int, host: int, flips: Any, n: int) -> None:
        """Write the rows of one worker's ``n`` pending busy/warm flips, the first ``n`` doubles of the
        buffer ``flips`` (the caller then keeps only the last: ``Worker.keep_last_flip``).

        A flip is one number, the time the worker's phase turned from busy to warm or back
        (``sim/hotloop.py`` appends it instead of writing a row): ``flips`` holds when the row open
        at the first pending flip began, then each flip's time. The rows alternate between the two
        phases, the last in the one other than ``phase`` (the worker's phase now); state and host
        are the worker's, unchanged by a flip. A row of no length is not written, as ``EndpointCore.close``
        writes none.
        """
        k = n - 1
        if k <= 0:
            return
        assert phase in (WARM_CODE, BUSY_CODE), phase
        other = WARM_CODE + BUSY_CODE - phase
        t = np.asarray(flips)[:n]  # a view, no copy
        if k < FLIPS_VECTOR:
            p = other if k % 2 else phase  # the first row's: the last one's is ``other``
            times = t.tolist()
            t0 = times[0]
            for t1 in times[1:]:
                if t1 > t0:
                    self.iv_extend([wid, state, p, t0, t1, host])
                p = other + phase - p
                t0 = t1
        else:
            for a in range(0, k, FLIPS_CHUNK):  # a chunk at a time: the rows' moment of memory stays small
                b = min(a + FLIPS_CHUNK, k)
                rows = np.empty((b - a, 6))
                rows[:, 0], rows[:, 1], rows[:, 5] = wid, state, host
                rows[:, 2] = other
                rows[(k - a) % 2 :: 2, 2] = phase  # every other row from the one before the last
                rows[:, 3], rows[:, 4] = t[a:b], t[a + 1 : b + 1]
                keep = rows[:, 4] > rows[:, 3]
                self.iv.frombytes((rows if keep.all() else rows[keep]).tobytes())

    def interval_table(self) -> np.ndarray:
        """The intervals as an (n, 6) float array: worker, state, phase, start, end, host."""
        self.settle()
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
        return pd.DataFrame(
            {
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
                **(llm_columns(arrival, end, status_codes, self.input_tokens, self.output_tokens, self.first_token_s)),
            },
            # no copy of the columns built here (arrival_s is the recorder's own array: pandas copies it on a
            # write), and no consolidating the float columns into one 2-D block (a copy of them all)
            copy=False,
        )

    def intervals_frame(self, open_rows: list[tuple[int, int, int, float, float, int]] | None = None) -> Any:
        """Worker state intervals sorted by (worker, start), without billing columns (billing.py adds them);
        ``open_rows`` adds intervals still open (a run in progress)."""
        import pandas as pd

        t = self.interval_table()
        if open_rows:
            t = np.vstack([t, np.asarray(open_rows, dtype=float).reshape(-1, 6)])
        rows = ByWorker(t)
        wid = rows.wid
        host = rows.column(5).astype(np.int64)
        kind_code = np.array([1 if m.kind == "flex" else 0 for m in self.workers] or [1], dtype=np.int8)
        gpu_names = [*sorted(set(self.host_gpu)), ""]
        gpu_code = np.array([gpu_names.index(g) for g in self.host_gpu] + [len(gpu_names) - 1], dtype=np.int16)
        return pd.DataFrame(
            {
                "worker_id": wid,
                "kind": pd.Categorical.from_codes(kind_code[wid], categories=["active", "flex"]),
                "host": host,
                "gpu": pd.Categorical.from_codes(gpu_code[host], categories=gpu_names),
                "state": pd.Categorical.from_codes(rows.column(1).astype(np.int8), categories=list(STATES)),
                "phase": pd.Categorical.from_codes(rows.column(2).astype(np.int8), categories=list(PHASES)),
                "start_s": rows.column(3),
                "end_s": rows.column(4),
            },
            copy=False,  # fresh arrays: no copy, and no consolidating the float columns into one block
        )

    def actions_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.actions, columns=["time_s", "action", "value", "reason"])


#: jobs per block of a streamed run (``RingRecorder``), and per block of ``JobStats`` in every run
STREAM_BLOCK = 1 << 17
#: blocks a ring holds: a block is freed when the block this many later arrives
RING_BLOCKS = 4
#: closed worker intervals a streamed run keeps before billing and folding them (48 bytes each; checked as
#: each block loads). The billing of a chunk needs some ten times its rows' bytes for a moment, on the
#: folding thread while the engine goes on: 2^16 keeps a month run's peak at 467-508 MB (2^18: 632-665 MB)
IV_FLUSH_ROWS = 1 << 16


class JobsInFlightError(RuntimeError):
    """A streamed run had more jobs queued or running at once than its ring holds."""


class RingRecorder(Recorder):
    """A recorder whose job records live in a ring of ``RING_BLOCKS`` blocks of ``STREAM_BLOCK`` slots:
    job ``g`` has slot ``g % capacity``. ``load(block_index, arrival_s)`` puts a block's arrivals in its
    slots, first handing the block that held them before to ``sink`` (its jobs must all have ended:
    else ``JobsInFlightError``); ``flush_all()`` hands over what is left at the end. Memory is bounded
    by the ring, whatever the number of jobs; the worker intervals and actions are kept as usual."""

    def __init__(
        self,
        sink: Any,
        block: int = STREAM_BLOCK,
        blocks: int = RING_BLOCKS,
        llm: bool = False,
    ) -> None:
        self.block, self.blocks, self.capacity = block, blocks, block * blocks
        self.sink = sink
        self.ring_arr = array("d", (math.inf,)) * self.capacity
        self.loaded: list[tuple[int, int]] = []  # (block index, jobs) of the blocks in the ring, in order
        zeros = np.zeros(self.capacity, dtype=np.int64) if llm else None
        super().__init__(np.empty(self.capacity), input_tokens=zeros, output_tokens=zeros)
        self.status = bytearray([int(JobStatus.REJECTED)]) * self.capacity  # free slots read as ended
        self.job_token: dict[int, int] | None = None  # the core's retry tokens, forgotten with their slots
        #: where closed worker intervals go, ``iv_sink(rows n x 6, final)``, once ``IV_FLUSH_ROWS`` have
        #: piled up (checked as each block loads) and at the end; None keeps them (``interval_table``)
        self.iv_sink: Any = None

    def arrival_list(self) -> array[float]:
        return self.ring_arr

    def slots(self, block_index: int) -> int:
        return (block_index % self.blocks) * self.block

    def load(
        self,
        block_index: int,
        arrival_s: np.ndarray,
        now_s: float,
        input_tokens: np.ndarray | None = None,
        output_tokens: np.ndarray | None = None,
    ) -> int:
        """Make room for block ``block_index`` and put its arrivals (and token counts) in; returns its
        first slot."""
        if len(self.loaded) == self.blocks:
            self._flush(*self.loaded.pop(0), now_s=now_s)
        if self.iv_sink is not None:
            self.settle()
            if len(self.iv) >= 6 * IV_FLUSH_ROWS:
                self._flush_intervals(final=False)
        base, n = self.slots(block_index), len(arrival_s)
        end = base + n
        np.frombuffer(self.ring_arr, dtype=float)[base:end] = arrival_s
        nan = array("d", (math.nan,)) * n
        self.start_s[base:end] = nan
        self.end_s[base:end] = nan
        self.status[base:end] = bytes(n)
        self.worker[base:end] = [-1] * n
        self.cold[base:end] = bytes(n)
        if self.llm:
            assert input_tokens is not None and output_tokens is not None
            self.input_tokens[base:end] = input_tokens.tolist()
            self.output_tokens[base:end] = output_tokens.tolist()
            self.first_token_s[base:end] = nan
        self.loaded.append((block_index, n))
        return base

    def _flush(self, block_index: int, n: int, now_s: float | None) -> None:
        base = self.slots(block_index)
        end = base + n
        status = np.frombuffer(bytes(self.status[base:end]), dtype=np.uint8)
        if now_s is not None and np.any(status <= int(JobStatus.IN_PROGRESS)):
            raise JobsInFlightError(
                f"more than {(self.blocks - 1) * self.block:,} requests were queued or running at once "
                f"(at t={now_s:.0f}s): a run without tables (--tables none|parquet) cannot hold them; "
                "use --tables csv"
            )
        if self.job_token:
            for j in [k for k in self.job_token if base <= k < end]:
                del self.job_token[j]
        self.sink(
            block_index * self.block,
            np.frombuffer(self.ring_arr, dtype=float)[base:end].copy(),
            np.asarray(self.start_s[base:end], dtype=float),
            np.asarray(self.end_s[base:end], dtype=float),
            status.copy(),
            np.asarray(self.worker[base:end], dtype=np.int64),
            np.frombuffer(bytes(self.cold[base:end]), dtype=np.uint8).astype(bool),
            *(
                (
                    np.asarray(self.input_tokens[base:end], dtype=np.int64),
                    np.asarray(self.output_tokens[base:end], dtype=np.int64),
                    np.asarray(self.first_token_s[base:end], dtype=float),
                )
                if self.llm
                else ()
            ),
        )

    def _flush_intervals(self, final: bool) -> None:
        self.settle()
        rows = np.frombuffer(self.iv, dtype=float).reshape(-1, 6).copy() if len(self.iv) else np.empty((0, 6))
        del self.iv[:]  # the same array: the core's bound iv_extend keeps appending to it
        self.iv_sink(rows, final)

    def flush_all(self) -> None:
        """Hand every block still in the ring to the sink (the run has ended: jobs left are in flight), and
        every interval left to ``iv_sink``."""
        while self.loaded:
            self._flush(*self.loaded.pop(0), now_s=None)
        if self.iv_sink is not None:
            self._flush_intervals(final=True)
