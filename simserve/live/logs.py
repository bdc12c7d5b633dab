"""Worker logs with a bounded size: ``logs/<worker_id>.log``, rotated once to ``<worker_id>.log.1``.

Owns ``CappedLog``: the file object a runtime writes a worker's stderr and stray stdout lines to
(the executor reads them from the worker's pipes; the worker never holds the file). The two files
of one worker together hold at most ``WORKER_LOG_BYTES``: when the current file would pass half of
it, it becomes ``.log.1`` (replacing the older one) and a new file begins; a single write larger
than half the cap keeps its last half-cap bytes. Files are opened without following a symbolic
link planted at their path. Nothing here knows about workers' states or jobs.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Protocol

#: the most bytes of log a worker keeps (its current file and the one before it together)
WORKER_LOG_BYTES = 8 << 20

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class LogSink(Protocol):
    """Where a worker's log lines go (``CappedLog``, or any binary file object)."""

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class CappedLog:
    """An append-only binary log file of at most ``cap_bytes`` over two files (see the module docstring)."""

    def __init__(self, path: Path, cap_bytes: int = WORKER_LOG_BYTES) -> None:
        self.path = path
        self.half = max(cap_bytes // 2, 1)
        self.rotated = 0  # times the file was rotated
        self._fd = -1
        self._size = 0
        self._open()

    def _open(self) -> None:
        self._fd = os.open(self.path, _FLAGS, 0o644)
        self._size = os.fstat(self._fd).st_size

    def write(self, data: bytes) -> int:
        if self._fd < 0:
            raise ValueError("write to a closed log")
        if len(data) > self.half:
            data = data[-self.half :]
        if self._size + len(data) > self.half and self._size > 0:
            self._rotate()
        n = 0
        while n < len(data):
            n += os.write(self._fd, data[n:])
        self._size += n
        return n

    def _rotate(self) -> None:
        os.close(self._fd)
        self._fd = -1
        with contextlib.suppress(OSError):
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        self.rotated += 1
        self._open()

    def flush(self) -> None:
        return None  # unbuffered

    def close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1

    @property
    def closed(self) -> bool:
        return self._fd < 0


__all__ = ["WORKER_LOG_BYTES", "CappedLog", "LogSink"]
