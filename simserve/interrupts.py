"""Signals that end a command: Ctrl-C (SIGINT) and SIGTERM, with the exit codes a shell expects.

Owns ``Terminated`` (a ``KeyboardInterrupt`` raised for SIGTERM, so every path that already
cleans up on Ctrl-C — a process pool shut down, a staged output directory removed — does so for
SIGTERM too), ``sigterm_raises`` (installs that for the duration of a command, main thread only),
``StopSignals`` (on an asyncio loop: a signal asks a run to stop instead, and the exit code it
owes is kept) and ``SIGNAL_EXIT`` (128 + the signal's number: 130 for SIGINT, 143 for SIGTERM). The CLI maps
``Terminated`` to exit 143; a plain ``KeyboardInterrupt`` is 130 in ``simserve.cli.main``.
Standard library only; nothing here prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

#: exit code of a command a signal ended: 128 + the signal's number
SIGNAL_EXIT: dict[int, int] = {signal.SIGINT: 130, signal.SIGTERM: 143}


class StopSignals:
    """Ctrl-C and SIGTERM on the running asyncio loop call ``stop`` (the run ends as ``--duration`` ends
    it, writing everything); ``exit_code`` is then 130 or 143 for the first signal, else 0."""

    def __init__(self, stop: Callable[[], None]) -> None:
        self.received: list[int] = []
        self._stop = stop
        loop = asyncio.get_running_loop()
        for signum in SIGNAL_EXIT:
            loop.add_signal_handler(signum, self._on_signal, signum)

    def _on_signal(self, signum: int) -> None:
        self.received.append(signum)
        self._stop()

    @property
    def exit_code(self) -> int:
        return SIGNAL_EXIT[self.received[0]] if self.received else 0


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: end the command as Ctrl-C would, then exit 143."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(f"signal {signum}")


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises ``Terminated`` in the main thread (elsewhere: no change)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def pool_child_signals() -> None:
    """For the processes of a pool: SIGINT ignored (the parent decides and ends them), SIGTERM the default
    (the parent's ``terminate`` ends them at once, whatever handler they inherited)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


__all__ = ["SIGNAL_EXIT", "Terminated", "pool_child_signals", "sigterm_raises"]
