"""The lifetime of a live run's processes: every process a worker starts ends with the run.

Owns the marker each worker process carries in its environment (``SIMSERVE_PROCESS_MARK =
<run mark>.<worker id>.<start>``; children inherit it, also those that leave the worker's
process group with ``setsid``, double forks and the Runpod SDK's own forks), ``find_marked``
(the pids of this user's processes whose environment holds a mark, read from ``/proc``) and
``kill_marked`` (SIGKILL them). A worker runs in its own session, so its process group is killed
first (``os.killpg``); the marker sweep catches what left the group. Without ``/proc`` (not
Linux) the sweep finds nothing and only the group kill applies. No policy, no platform rule.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
from collections.abc import Iterable
from pathlib import Path

#: the environment variable every worker process of a live run carries (inherited by its children)
MARK_VAR = "SIMSERVE_PROCESS_MARK"
PROC = Path("/proc")


def new_run_mark() -> str:
    """A mark no other run shares: the prefix of every worker mark of one run."""
    return f"r{os.getpid()}-{secrets.token_hex(6)}"


def worker_mark(run_mark: str, worker_id: int, start: int) -> str:
    """The mark of one start of one worker (a restart gets a new one)."""
    return f"{run_mark}.{worker_id}.{start}"


def _pids() -> Iterable[int]:
    try:
        names = os.listdir(PROC)
    except OSError:
        return ()
    return (int(n) for n in names if n.isdigit())


def find_marked(mark: str, *, prefix: bool = False) -> list[int]:
    """Pids of live processes whose environment has ``SIMSERVE_PROCESS_MARK`` equal to ``mark`` (or, with
    ``prefix``, starting with ``mark + "."``). Processes of other users (unreadable) are skipped; zombies too."""
    needle = f"{MARK_VAR}={mark}".encode() + (b"." if prefix else b"\0")
    me = os.getpid()
    found = []
    for pid in _pids():
        if pid == me:
            continue
        try:
            env = (PROC / str(pid) / "environ").read_bytes()
        except OSError:
            continue
        if needle in env and not _zombie(pid):
            found.append(pid)
    return sorted(found)


def _zombie(pid: int) -> bool:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


def kill_marked(mark: str, *, prefix: bool = False) -> list[int]:
    """SIGKILL every process ``find_marked`` finds; returns their pids."""
    pids = find_marked(mark, prefix=prefix)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return pids


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> bool:
    """Send ``sig`` to the process group ``pgid`` (a worker's session); False when it is gone."""
    if pgid <= 0:
        return False
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


__all__ = ["MARK_VAR", "find_marked", "kill_group", "kill_marked", "new_run_mark", "worker_mark"]
