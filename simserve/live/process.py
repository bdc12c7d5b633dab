"""The default runtime: each worker is a plain OS process on this machine.

Owns ``ProcessRuntime``: the ``pull`` phase (copy the image payload from the local image
store into the host's cache directory unless it is already there, atomically), the
``container_start`` phase (spawn of the interpreter until the shim's first phase marker), and
the launch itself — ``spec.argv`` with ``spec.env`` (``CUDA_VISIBLE_DEVICES`` pins its GPUs),
stdin/stdout/stderr pipes (stderr copied into ``spec.log_path``, capped: ``simserve.live.logs``),
its own session so signals from the
terminal reach only the executor — and ``WorkerProcess``, the launched process as the worker
handle sees it: its exit is known when the process itself exits (``exited``), not when its pipes
close (a child it started may hold them for ever), and a signal or kill goes to its whole
process group; ``reap_strays`` kills what is left of the group and every process carrying the
start's mark (``simserve.live.procs``), also those that left the group. The protocol part is
``simserve.live.worker.attach_worker``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from simserve.live.logs import CappedLog
from simserve.live.procs import MARK_VAR, kill_group, kill_marked
from simserve.live.runtime import PhaseCallback, WorkerHandle, WorkerSpec, WorkerStartError, log_tail
from simserve.live.worker import PIPE_LIMIT_BYTES, attach_worker


def pull_image(store: Path, key: str, cache_dir: Path) -> bool:
    """Copy ``store/key`` into ``cache_dir`` unless cached; True when a copy happened."""
    dest = cache_dir / key
    if dest.exists():
        return False
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".part", dir=cache_dir)  # exclusive: no planted link
    with os.fdopen(fd, "wb") as out, open(store / key, "rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
    os.replace(tmp, dest)
    return True


class _ExitProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """The subprocess stream protocol, plus a future resolved when the process itself exits.

    (``Process.wait()`` resolves only once every pipe has closed as well, which a child the
    worker started may never do.)"""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.exited: asyncio.Future[int] = loop.create_future()
        self._subprocess: asyncio.SubprocessTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert isinstance(transport, asyncio.SubprocessTransport)
        self._subprocess = transport  # kept: the base class forgets it once the pipes close

    def process_exited(self) -> None:
        code = self._subprocess.get_returncode() if self._subprocess is not None else None
        super().process_exited()
        if not self.exited.done():
            self.exited.set_result(-1 if code is None else int(code))


class WorkerProcess:
    """A worker's OS process, the leader of its own session and process group."""

    def __init__(self, proc: asyncio.subprocess.Process, exited: asyncio.Future[int], mark: str) -> None:
        self._proc = proc
        self._exited = exited
        self.mark = mark
        self.pid = proc.pid
        self.stdin = proc.stdin
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def returncode(self) -> int | None:
        return self._exited.result() if self._exited.done() else None

    async def exited(self) -> int:
        """The exit code, as soon as the process has exited (its pipes may still be open)."""
        return await asyncio.shield(self._exited)

    async def wait(self) -> int:
        return await self.exited()

    def send_signal(self, sig: int) -> None:
        """``sig`` to the worker's whole process group (``ProcessLookupError`` when it is gone)."""
        if not kill_group(self.pid, sig):
            raise ProcessLookupError(self.pid)

    def kill(self) -> None:
        """SIGKILL the worker's process group now."""
        kill_group(self.pid, signal.SIGKILL)

    def terminate(self) -> None:
        kill_group(self.pid, signal.SIGTERM)

    async def reap_strays(self) -> list[int]:
        """Kill what the worker left: its process group, and every process carrying its mark
        (children that started their own session too). Returns the pids found by mark."""
        kill_group(self.pid, signal.SIGKILL)
        return await asyncio.to_thread(kill_marked, self.mark) if self.mark else []

    def close(self) -> None:
        """Close the pipes (after the process and its strays are gone)."""
        with contextlib.suppress(Exception):
            self._proc._transport.close()  # type: ignore[attr-defined]


class ProcessRuntime:
    """Workers as local subprocesses (``--runtime process``)."""

    name = "process"
    engine: str | None = None

    async def start(self, spec: WorkerSpec, on_phase: PhaseCallback) -> WorkerHandle:
        if not (spec.cache_dir / spec.image_key).exists():
            on_phase("pull", time.monotonic())
            await asyncio.to_thread(pull_image, spec.image_store, spec.image_key, spec.cache_dir)
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = CappedLog(spec.log_path)  # the worker's stderr, copied from its pipe, size-bounded
        on_phase("container_start", time.monotonic())
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.subprocess_exec(
                lambda: _ExitProtocol(PIPE_LIMIT_BYTES, loop),
                *spec.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=dict(spec.env),
                cwd=str(spec.cwd),
                start_new_session=True,
            )
        except OSError as exc:
            log.close()
            raise WorkerStartError(
                f"cannot start worker {spec.worker_id}: {exc}", log_tail(spec.log_path), "container_start"
            ) from exc
        proc = WorkerProcess(
            asyncio.subprocess.Process(transport, protocol, loop), protocol.exited, spec.env.get(MARK_VAR, "")
        )
        try:
            return await attach_worker(spec, proc, on_phase, log)
        except BaseException:  # a failed or cancelled start: the process group goes, reaped before we leave
            proc.kill()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(proc.exited(), 5.0)
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(proc.reap_strays(), 5.0)
            proc.close()
            raise

    async def close(self) -> None:
        return None
