"""A start's planned phases played back to back on a scheduler: what a simulated start is.

Owns ``PhasePlayback``: given ``StartWorker`` effects, it schedules each planned phase's end
at its drawn duration (``call_at`` of the caller's clock) and reports the next phase's start,
or readiness after the last, for the start's epoch only (a replaced or cut start goes quiet).
The simulator's driver and the live executor's simulated runtime both use it, so a simulated
start means one thing. No clock of its own: the scheduler is passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simserve.endpoint.effects import StartWorker
from simserve.records import Phase


class PhasePlayback:
    """Plays planned starts: ``on_phase(wid, epoch, phase, now)`` then ``on_ready(wid, epoch, now)``."""

    def __init__(
        self,
        call_at: Callable[[float, Callable[[Any], None], Any], None],
        now: Callable[[], float],
        on_phase: Callable[[int, int, Phase, float], None],
        on_ready: Callable[[int, int, float], None],
    ) -> None:
        self.call_at = call_at
        self.now = now
        self.on_phase = on_phase
        self.on_ready = on_ready
        self.plans: dict[int, tuple[int, list[tuple[Phase, float]], int]] = {}  # wid -> (epoch, phases, next)

    def launch(self, e: StartWorker) -> None:
        """Begin playing ``e``'s phases (a newer start of the same worker replaces an older one)."""
        self.plans[e.worker_id] = (e.epoch, e.phases, 1)
        self.call_at(self.now() + e.phases[0][1], self._phase_end, (e.worker_id, e.epoch))

    def _phase_end(self, arg: tuple[int, int]) -> None:
        wid, epoch = arg
        plan = self.plans.get(wid)
        if plan is None or plan[0] != epoch:
            return  # a start that was replaced (deploy) or cut (fault): its events are stale
        _, phases, k = plan
        now = self.now()
        if k < len(phases):
            self.on_phase(wid, epoch, phases[k][0], now)
            self.plans[wid] = (epoch, phases, k + 1)
            self.call_at(now + phases[k][1], self._phase_end, arg)
        else:
            del self.plans[wid]
            self.on_ready(wid, epoch, now)
