"""A streamed run's statistics, folded on a second thread while the engine goes on.

Owns ``Offload``: calls handed to it run one at a time, in the order given, on one background
thread, so the engine (pure Python, holding the GIL) runs while the sinks' numpy work and a parquet
writer's I/O (which release it) fold the previous block. The results are those of calling each in
turn: one consumer, first in first out, and each call gets arrays that nobody writes to afterwards
(the ring hands over copies). At most ``depth`` calls wait, so memory stays a few blocks.

An error in a call is raised in the caller's thread at its next ``call`` or at ``join``; ``close``
(on an error or Ctrl-C in the caller) drops what waits and lets the call under way finish, so
nothing writes to a file after its owner aborts it. Standard library only.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

#: calls that may wait for the thread (each holds a block of job records or of intervals)
DEPTH = 2


class Offload:
    """Run ``call(fn, *args)`` in order on a background thread; ``join`` waits for them all."""

    def __init__(self, depth: int = DEPTH, name: str = "simserve-stats") -> None:
        self._q: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._q.get()
            try:
                if item is None:
                    return
                if self._error is None and not self._stop.is_set():
                    fn, args = item
                    fn(*args)
            except BaseException as e:  # noqa: BLE001 - handed to the caller's thread: raised at its next call or join
                self._error = e
            finally:
                self._q.task_done()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            self._stop.set()
            raise error

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)`` (waiting while ``depth`` calls wait); raises an earlier call's error."""
        self._raise()
        self._q.put((fn, args))

    def join(self) -> None:
        """Wait until every queued call has run, end the thread; raises the first error of a call."""
        self._q.join()
        self._q.put(None)
        self._thread.join()
        self._raise()

    def close(self) -> None:
        """Drop the calls that wait, let the one under way finish and end the thread (no error raised)."""
        self._stop.set()
        while True:
            try:
                self._q.get_nowait()
                self._q.task_done()
            except queue.Empty:
                break
        self._q.put(None)
        self._thread.join()
