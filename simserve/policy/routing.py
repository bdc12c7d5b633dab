"""Which free worker takes the next job: the routing rule and its registry.

Owns the routing order: the newest-created free worker first (SimFaaS and Lambda do this;
it lets older workers reach their idle timeout), kept as an incremental index
(``FreeWorkers``: a heap of ``-created_seq`` with lazy deletion) that the endpoint core
uses in both drivers, so each choice is O(log n). ``NewestFirst.pick`` is the reference
version of the same rule (a property test checks the index against it). Routers are chosen
by kind through ``REGISTRY`` and ``build_router``, as autoscalers are. Pure: no simpy,
asyncio or clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from heapq import heappop, heappush
from typing import Any, Generic, Protocol, TypeVar

from simserve.policy.view import WorkerView


class Routable(Protocol):
    """What ``FreeWorkers`` reads and writes of a worker."""

    seq: int
    in_free: bool
    free_epoch: int


W = TypeVar("W", bound=Routable)


class FreeWorkers(Generic[W]):
    """Workers with a free job slot, in ``NewestFirst`` order. ``len()`` counts them.

    The heap holds plain ints (``-seq``: an int compares several times faster than a tuple, and a
    heap of a thousand workers compares about twenty times a pop), and ``by_seq`` the workers.
    Deletion is lazy: an entry whose worker is not ``in_free`` is dropped when it surfaces; a worker
    added again while an older entry of its own is still in the heap has two entries with the same
    key, and whichever surfaces first takes it (the same worker either way).

    >>> from types import SimpleNamespace as W
    >>> free = FreeWorkers(); a, b = W(seq=0, in_free=False, free_epoch=0), W(seq=1, in_free=False, free_epoch=0)
    >>> free.add(a); free.add(b); free.remove(b); len(free), free.pop() is a, free.pop()
    (1, True, None)
    """

    __slots__ = ("heap", "n", "by_seq")

    def __init__(self) -> None:
        self.heap: list[int] = []
        self.n = 0
        self.by_seq: dict[int, W] = {}

    def __len__(self) -> int:
        return self.n

    def add(self, w: W) -> None:
        if not w.in_free:
            w.in_free = True
            self.n += 1
            self.by_seq[w.seq] = w
            heappush(self.heap, -w.seq)

    def remove(self, w: W) -> None:
        if w.in_free:
            w.in_free = False
            w.free_epoch += 1
            self.n -= 1

    def pop(self) -> W | None:
        """Take the preferred free worker out of the index (None when there is none)."""
        heap, by_seq = self.heap, self.by_seq
        while heap:
            w = by_seq[-heappop(heap)]
            if w.in_free:
                w.in_free = False
                self.n -= 1
                return w
        return None


class Router(Protocol):
    """A routing rule: its reference choice and the incremental index that makes the same choice fast."""

    kind: str

    def index(self) -> FreeWorkers[Any]: ...

    def pick(self, free: Sequence[WorkerView]) -> int | None: ...


class NewestFirst:
    """Route to the free worker created most recently."""

    kind = "newest_first"

    def index(self) -> FreeWorkers[Any]:
        """A new, empty index of free workers in this order (the core's per-job structure)."""
        return FreeWorkers()

    def pick(self, free: Sequence[WorkerView]) -> int | None:
        """The worker id to route to among ``free`` workers, or None when there is none."""
        if not free:
            return None
        return max(free, key=lambda w: w.created_seq).worker_id


#: the routing kind the platform uses (every endpoint today)
DEFAULT_ROUTING = "newest_first"

#: the registry: a routing kind -> its router class
REGISTRY: dict[str, type[Router]] = {NewestFirst.kind: NewestFirst}


def build_router(kind: str = DEFAULT_ROUTING) -> Router:
    """The router of ``kind`` (``REGISTRY``).

    >>> build_router().kind
    'newest_first'
    """
    cls = REGISTRY.get(kind)
    if cls is None:
        raise ValueError(f"no router of kind {kind!r} (known: {', '.join(sorted(REGISTRY))})")
    return cls()
