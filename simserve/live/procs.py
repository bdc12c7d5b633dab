"""The lifetime of a live run's processes: every process a worker starts ends with the run.

Owns the marker each worker process carries in its environment (``SIMSERVE_PROCESS_MARK = <run mark>.<worker
id>.<start>``; children inherit it, also those that leave the worker's process group with ``setsid``,
double forks and the Runpod SDK's own forks), ``find_marked`` (the pids of this user's processes whose
environment holds a mark, read from ``/proc``) and ``kill_marked`` (SIGKILL them). A run mark names its
executor by pid and start time (``owner_alive``), so ``kill_orphans`` can end what the processes of a
dead executor left. A worker runs in its own session, so its process group is killed first
(``os.killpg``); the marker sweep catches what left the group. Without ``/proc`` (not Linux) the sweep
finds nothing and only the group kill applies. No policy, no platform rule.
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


def start_ticks(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, ``/proc/PID/stat`` field 22); None when it is
    gone (or without ``/proc``). A pid and its start time name one process, even after the pid is reused."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[19]) if len(fields) > 19 and fields[0] != "Z" else None


def new_run_mark() -> str:
    """A mark no other run shares: the prefix of every worker mark of one run. It names the executor
    (``r<pid>-<start ticks>-<random>``), so ``owner_alive`` can tell whether the run's executor still runs."""
    return f"r{os.getpid()}-{start_ticks(os.getpid()) or 0}-{secrets.token_hex(6)}"


def run_mark_of(mark: str) -> str:
    """The run mark of a worker mark (``<run mark>.<worker>.<start>``), or of a run mark itself."""
    return mark.split(".", 1)[0]


def owner_alive(run_mark: str) -> bool:
    """Whether the executor that made ``run_mark`` still runs (a mark it cannot parse counts as alive: it is
    not simserve's to judge)."""
    try:
        pid_text, ticks_text, _ = run_mark[1:].split("-", 2)
        pid, ticks = int(pid_text), int(ticks_text)
    except ValueError:
        return True
    if not run_mark.startswith("r"):
        return True
    now = start_ticks(pid)
    return now is not None and (ticks == 0 or now == ticks)


def marked_processes() -> dict[int, str]:
    """Every live process of this user that carries a mark: ``{pid: mark}`` (zombies skipped)."""
    key = f"{MARK_VAR}=".encode()
    me = os.getpid()
    found = {}
    for pid in _pids():
        if pid == me:
            continue
        try:
            env = (PROC / str(pid) / "environ").read_bytes()
        except OSError:
            continue
        for item in env.split(b"\0"):
            if item.startswith(key) and not _zombie(pid):
                found[pid] = item[len(key) :].decode(errors="replace")
                break
    return found


def kill_orphans() -> dict[str, list[int]]:
    """SIGKILL the processes of every run whose executor is gone (``owner_alive``): what a crashed executor
    left (its reaper normally kills them within a second). ``{run mark: pids}``."""
    killed: dict[str, list[int]] = {}
    for pid, mark in sorted(marked_processes().items()):
        run = run_mark_of(mark)
        if owner_alive(run):
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            killed.setdefault(run, []).append(pid)
    return killed


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
    head = mark + "."
    return sorted(pid for pid, m in marked_processes().items() if m == mark or (prefix and m.startswith(head)))


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


__all__ = [
    "MARK_VAR",
    "find_marked",
    "kill_group",
    "kill_marked",
    "kill_orphans",
    "marked_processes",
    "new_run_mark",
    "owner_alive",
    "run_mark_of",
    "start_ticks",
    "worker_mark",
]
