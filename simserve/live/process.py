"""The default runtime: each worker is a plain OS process on this machine.

Owns ``ProcessRuntime``: the ``pull`` phase (copy the image payload from the local image
store into the host's cache directory unless it is already there, atomically), the
``container_start`` phase (spawn of the interpreter until the shim's first phase marker), and
the launch itself — ``spec.argv`` with ``spec.env`` (``CUDA_VISIBLE_DEVICES`` pins its GPUs),
stdin/stdout pipes, stderr appended to ``spec.log_path``, its own session so signals from the
terminal reach only the executor. The protocol part is ``simserve.live.worker.attach_worker``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from pathlib import Path

from simserve.live.runtime import PhaseCallback, WorkerHandle, WorkerSpec, WorkerStartError, log_tail
from simserve.live.worker import attach_worker


def pull_image(store: Path, key: str, cache_dir: Path) -> bool:
    """Copy ``store/key`` into ``cache_dir`` unless cached; True when a copy happened."""
    dest = cache_dir / key
    if dest.exists():
        return False
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{key}.{os.getpid()}.{time.monotonic_ns()}.part")
    shutil.copyfile(store / key, tmp)
    os.replace(tmp, dest)
    return True


class ProcessRuntime:
    """Workers as local subprocesses (``--runtime process``)."""

    name = "process"

    def __init__(self, init_timeout_s: float = 420.0) -> None:
        self.init_timeout_s = init_timeout_s

    async def start(self, spec: WorkerSpec, on_phase: PhaseCallback) -> WorkerHandle:
        if not (spec.cache_dir / spec.image_key).exists():
            on_phase("pull", time.monotonic())
            await asyncio.to_thread(pull_image, spec.image_store, spec.image_key, spec.cache_dir)
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(spec.log_path, "ab", buffering=0)  # noqa: SIM115 - the worker writes it for its whole life
        on_phase("container_start", time.monotonic())
        try:
            proc = await asyncio.create_subprocess_exec(
                *spec.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                env=dict(spec.env),
                cwd=str(spec.cwd),
                start_new_session=True,
                limit=16 << 20,
            )
        except OSError as exc:
            log.close()
            raise WorkerStartError(
                f"cannot start worker {spec.worker_id}: {exc}", log_tail(spec.log_path), "container_start"
            ) from exc
        try:
            return await attach_worker(spec, proc, on_phase, log, self.init_timeout_s)
        except BaseException:  # a failed or cancelled start: the process goes, and is reaped before we leave
            if proc.returncode is None:
                proc.kill()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(proc.wait()), 5.0)
            raise

    async def close(self) -> None:
        return None
