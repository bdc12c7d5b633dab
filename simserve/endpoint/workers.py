"""A worker slot of the endpoint: plain state owned by the core, and how many jobs one takes.

Owns ``Worker`` (kind, host, state and phase with the time it was entered, the jobs running on
it and how many it takes at once, its place in the routing and scaled-down indexes, its
cold-start epoch and fault history)
and ``worker_concurrency`` (the rule for the jobs one worker takes at once, which the core and
the live executor both read). A slot survives scale-down as an ``idle`` row whose host keeps
the image. Only the endpoint core (and its rule helpers, through ``ports.CorePort``) changes it.

Where a C compiler is present the install compiles this module (``setup.py``): ``Worker`` is then an
extension type whose fields have the C types of ``workers.pxd``, read as struct members by the compiled
``sim/hotloop.py``; the same source runs interpreted elsewhere.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING

from simserve.records import Phase, WorkerState, doubles

if TYPE_CHECKING:
    from simserve.endpoint.hosts import Host
    from simserve.scenario import Scenario


def worker_concurrency(scenario: Scenario) -> int:
    """How many jobs one worker takes from the queue at once: the endpoint's ``concurrency``, or for a
    batching LLM worker its ``max_concurrency`` (default ``max_batch``: in its batch, or waiting in its
    engine to join it)."""
    llm = scenario.workload.llm
    return scenario.endpoint.concurrency if llm is None else llm.take


#: doubles a worker's flip buffer starts with (it doubles when full)
FLIPS_CAPACITY = 8


def _doubled(flips: array[float], n: int) -> array[float]:
    """A buffer twice as long holding the first ``n`` doubles of ``flips`` (compiled: a view of one)."""
    bigger = array("d", bytes(16 * n))
    memoryview(bigger).cast("B")[: 8 * n] = memoryview(flips).cast("B")[: 8 * n]
    return bigger


def _rebuilt(state: dict[str, object]) -> Worker:
    """A pickled ``Worker``, field by field."""
    w = Worker.__new__(Worker)
    for name, value in state.items():
        setattr(w, name, value)
    return w


class Worker:
    """One worker slot (flex or active)."""

    __slots__ = (
        "wid",
        "kind",
        "is_flex",
        "seq",
        "host",
        "state",
        "phase",
        "running",
        "in_free",
        "free_epoch",
        "idle_since",
        "expiry_pending",
        "stopped_at",
        "epoch",
        "bound",
        "retired",
        "version",
        "crash_epoch",
        "parked",
        "stop_seq",
        "drain",
        "retire_on_drain",
        "init_fail",
        "fails",
        "first_fail_s",
        "dropped",
        "concurrency",
        "concurrency_set",
        "refresh_due",
        "flips",
        "nflips",
    )

    def __init__(self, wid: int, kind: str, seq: int, now: float) -> None:
        self.wid = wid
        self.kind = kind
        self.is_flex = kind == "flex"
        self.seq = seq  # creation order (routing: newest first)
        self.host: Host | None = None
        self.state: WorkerState = WorkerState.IDLE
        self.phase: int = Phase.NONE  # a Phase value (plain ints on the per-job path)
        self.running: set[int] = set()  # jobs running on it
        self.in_free = False  # in the routing index (a ready worker with a free job slot)
        self.free_epoch = 0
        self.idle_since = -1.0  # when it last became job-free while running; -1 when busy or not running
        self.expiry_pending = False  # an idle timer is armed
        self.stopped_at = -1.0  # last scale-down (FlashBoot window); -1: no FlashBoot from here
        self.epoch = 0  # bumped whenever a start in flight (and its pending events) goes stale
        self.bound: list[int] = []  # jobs waiting for this worker's cold start (per_request)
        self.retired = False  # slot dropped beyond max + extra workers
        self.version = 0  # image version it runs
        self.crash_epoch = 0
        self.parked = False  # in the scaled-down index
        self.stop_seq = -1  # its place in the scaled-down index
        self.drain = False  # takes no new job; the core calls back when its jobs finish (outdated, retiring)
        self.retire_on_drain = False  # an active worker removed by a `set` event: stop once job-free
        self.init_fail = False  # this cold start fails at its end (faults.init_failure_prob)
        self.fails = 0  # consecutive unhealthy episodes (backoff exponent); reset when it becomes ready
        self.first_fail_s = -1.0  # start of the current run of failures (for the give-up limit)
        self.dropped = False  # left the endpoint (given up, or an active worker removed): idle to the horizon
        self.concurrency = 1  # jobs it takes at once: the endpoint's value, set by the core at each start
        self.concurrency_set = False  # its own value (``set_worker_concurrency``) until its next start
        self.refresh_due = False  # restarts once its running jobs end (a job asked for a refresh)
        #: busy/warm phase changes not yet written as rows (``Recorder.write_flips``), the first ``nflips``
        #: entries of a buffer of doubles: when the open row began, then each change's time, appended by
        #: ``sim/hotloop.py``'s per-job path (``add_flip``). The last of them is ``since``. A buffer, not a
        #: list of floats: compiled, a flip is a store of a C double (no float object made, then chased
        #: through memory and freed when the rows are written); at most ~2^19 flips are pending (4 MB)
        self.flips = array("d", bytes(8 * FLIPS_CAPACITY))
        self.flips[0] = now
        self.nflips = 1

    def add_flip(self, t: float) -> None:
        """A busy/warm change at ``t``: one more pending flip (its row is written later)."""
        n = self.nflips
        if n == len(self.flips):
            self.flips = _doubled(self.flips, n)
        self.flips[n] = t
        self.nflips = n + 1

    def keep_last_flip(self) -> None:
        """The pending flips have been written as rows: only the last (``since``) stays."""
        self.flips[0] = self.flips[self.nflips - 1]
        self.nflips = 1

    def __reduce__(self) -> tuple[object, tuple[dict[str, object]]]:
        # compiled, the flip buffer (a typed view) keeps Cython from pickling the type by itself
        state = {name: getattr(self, name) for name in Worker.__slots__}
        state["flips"] = doubles(self.flips)  # an array, copied
        return _rebuilt, (state,)

    @property
    def since(self) -> float:
        """When the current (state, phase) was entered: the last pending flip (a flip moves it on by itself)."""
        return self.flips[self.nflips - 1]

    @since.setter
    def since(self, now: float) -> None:
        # with flips pending this would move the last one: ``EndpointCore.close`` writes them first
        assert self.nflips == 1, f"worker {self.wid}: {self.nflips - 1} flips not written"
        self.flips[0] = now

    @property
    def jobs(self) -> int:
        return len(self.running)
