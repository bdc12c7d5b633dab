"""Per-job draws of the scenario's workload shares: which jobs are low priority, which refresh their worker.

Owns ``JobFlags``: at each fresh arrival of the scenario's workload, the endpoint core asks it to
draw the job's flags, each from its own named stream (``low_priority``, ``refresh``), the k-th
arrival taking the k-th draw of each, so every configuration compared under one seed flags the
same jobs (common random numbers) and a run whose shares are 0 draws nothing (its tables stay
byte for byte those of a run without the fields). The flags land in the core's sets, which it
reads on the per-job path. No simpy, asyncio or clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simserve.rng import RandomStreams

if TYPE_CHECKING:
    from simserve.scenario import Scenario

#: uniforms drawn at once per stream
BLOCK = 1024


class _Uniforms:
    """Scalar uniforms in [0, 1) from one named stream, drawn ``BLOCK`` at a time."""

    __slots__ = ("_rng", "_buf", "_i")

    def __init__(self, streams: RandomStreams, name: str) -> None:
        self._rng = streams.get(name)
        self._buf: list[float] = []
        self._i = 0

    def next(self) -> float:
        if self._i >= len(self._buf):
            self._buf = self._rng.random(BLOCK).tolist()
            self._i = 0
        u = self._buf[self._i]
        self._i += 1
        return u


class JobFlags:
    """The flag draws of one run; ``draw(j)`` puts job ``j`` in (or takes it out of) ``low`` and ``refresh``.

    >>> low, refresh = set(), set()
    >>> f = JobFlags(0.5, 1.0, RandomStreams(0), low, refresh)
    >>> for j in range(4):
    ...     f.draw(j)
    >>> sorted(refresh)
    [0, 1, 2, 3]
    """

    __slots__ = ("low_share", "refresh_share", "_low_u", "_refresh_u", "low", "refresh")

    def __init__(
        self, low_share: float, refresh_share: float, streams: RandomStreams, low: set[int], refresh: set[int]
    ) -> None:
        self.low_share = low_share
        self.refresh_share = refresh_share
        self._low_u = _Uniforms(streams, "low_priority") if low_share > 0 else None
        self._refresh_u = _Uniforms(streams, "refresh") if refresh_share > 0 else None
        self.low = low
        self.refresh = refresh

    @classmethod
    def of(cls, scenario: Scenario, streams: RandomStreams, low: set[int], refresh: set[int]) -> JobFlags | None:
        """The draws of ``scenario``'s workload shares, or None when both are 0 (nothing to draw)."""
        wl = scenario.workload
        if wl.low_priority_share <= 0 and wl.refresh_share <= 0:
            return None
        return cls(wl.low_priority_share, wl.refresh_share, streams, low, refresh)

    def draw(self, j: int) -> None:
        """Job ``j`` arrives for the first time: draw its flags (an index reused by a streamed run's ring
        forgets the flags of the job that held it)."""
        if self._low_u is not None:
            if self._low_u.next() < self.low_share:
                self.low.add(j)
            else:
                self.low.discard(j)
        if self._refresh_u is not None:
            if self._refresh_u.next() < self.refresh_share:
                self.refresh.add(j)
            else:
                self.refresh.discard(j)
