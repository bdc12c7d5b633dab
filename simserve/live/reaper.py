"""A live run's workers die with its executor, however the executor dies (SIGKILL runs no cleanup code).

Owns ``Reaper``: a small process (``python -m simserve.live.reaper``) that each live run starts in a
session of its own, holding the read end of a pipe whose write end only the executor has. When the
executor exits, for any reason, the kernel closes that end and the reaper's read returns: it then
SIGKILLs every process carrying the run's mark (``simserve.live.procs``: workers, their children,
FlashBoot-frozen workers, a ``podman system service`` simserve started for the run) and removes the
run's containers (label ``io.simserve.live=<run mark>``), then exits. An executor that ends normally
says so first (``done``): it has stopped everything itself, and the reaper only sweeps the processes
(a no-op) and exits. ``sweep_containers`` and ``remove_orphan_containers`` are the container side,
also used by ``simserve cleanup`` and at the start of every container run (containers of runs whose
executor is gone, found by their label). No policy here.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from typing import IO, Any

from simserve.live.procs import kill_marked, owner_alive

#: the label every worker container of a live run carries: its run mark
RUN_LABEL = "io.simserve.live"


class Reaper:
    """The watchdog of one live run (see the module docstring); ``done()`` at a normal end."""

    def __init__(self, run_mark: str, engine: str | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simserve.live.reaper"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # not in the executor's process group: a Ctrl-C or a group kill spares it
            close_fds=True,
        )
        self._pipe: IO[bytes] | None = self.proc.stdin
        self._send({"mark": run_mark, "engine": engine})

    def _send(self, msg: dict[str, Any]) -> None:
        if self._pipe is not None:
            with contextlib.suppress(OSError):
                self._pipe.write(json.dumps(msg).encode() + b"\n")
                self._pipe.flush()

    def done(self) -> None:
        """The run ended normally (its workers are stopped): the reaper exits without touching containers."""
        self._send({"done": True})
        if self._pipe is not None:
            with contextlib.suppress(OSError):
                self._pipe.close()
            self._pipe = None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


def sweep_containers(engine: str, label_value: str | None = None) -> list[str]:
    """Remove (forced) the live-run containers on ``engine``: those of run ``label_value``, or, when None, of
    every run whose executor is gone. Returns their names; [] when no engine answers."""
    from simserve.live.engine_service import connect

    removed: list[str] = []
    try:
        session = connect(engine, timeout_s=60)
    except Exception:  # noqa: BLE001 - no engine, nothing of ours can be running on it
        return removed
    with session:
        api = session.client.api
        filters = {"label": f"{RUN_LABEL}={label_value}" if label_value else RUN_LABEL}
        try:
            found = api.containers(all=True, filters=filters)
        except Exception:  # noqa: BLE001 - the engine went away meanwhile
            return removed
        for c in found:
            labels = c.get("Labels")
            mark = str(labels.get(RUN_LABEL, "")) if isinstance(labels, dict) else ""
            if label_value is None and owner_alive(mark):
                continue
            names = c.get("Names")
            name = str(names[0]).lstrip("/") if isinstance(names, list) and names else str(c.get("Id", ""))[:12]
            with contextlib.suppress(Exception):
                api.remove_container(str(c.get("Id")), force=True)
                removed.append(name)
    return removed


def remove_orphan_containers(engine: str = "auto") -> list[str]:
    """Containers of live runs whose executor is gone, removed (``simserve cleanup``, a container run's start)."""
    return sweep_containers(engine, None)


def main() -> None:
    """The reaper process: wait for the executor's end, then end what it left."""
    spec = json.loads(sys.stdin.buffer.readline() or b"{}")
    mark, engine = spec.get("mark"), spec.get("engine")
    done = False
    for line in sys.stdin.buffer:  # returns at EOF: the executor closed the pipe or died
        with contextlib.suppress(ValueError):
            done = done or bool(json.loads(line).get("done"))
    if not mark:
        return
    kill_marked(mark, prefix=True)  # workers first: a frozen or busy worker gives its GPU back at once
    if engine and not done:
        sweep_containers(engine, mark)
        kill_marked(mark, prefix=True)  # the podman service simserve started for the run, if any


if __name__ == "__main__":
    main()


__all__ = ["RUN_LABEL", "Reaper", "remove_orphan_containers", "sweep_containers"]
