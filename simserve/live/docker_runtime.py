"""``--runtime docker``: each live worker is a container, started through the Docker Engine API.

Owns ``DockerRuntime`` (a ``WorkerRuntime``): per worker it pulls the image unless the engine
already has it (the measured ``pull`` phase; the engine's image store is the host cache), creates
the container with the host network, the GPU device request for ``spec.gpus`` and bind mounts
(the host's Python and simserve read-only, the model placement directories, the worker's cwd),
attaches, starts it (``container_start``) and hands it to ``attach_worker`` so the shim reports
``model_load``/``handler_init`` exactly as in the process runtime. A worker's container is removed
when it exits; with ``evict_images`` its image goes too. Works against Docker or against the
``podman system service`` that ``engine_service`` starts. No policy here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from simserve.live.container import ContainerProcess
from simserve.live.dockerapi import DockerClient
from simserve.live.engine_service import EngineSession, connect
from simserve.live.local_registry import registry_auth
from simserve.live.logs import CappedLog, LogSink
from simserve.live.procs import MARK_VAR, run_mark_of
from simserve.live.reaper import RUN_LABEL
from simserve.live.runtime import PhaseCallback, WorkerHandle, WorkerSpec, WorkerStartError
from simserve.live.worker import attach_worker

DEFAULT_IMAGE_MB = 16


def host_python_paths() -> list[Path]:
    """Host paths a container needs to run this interpreter, its venv and simserve (read-only)."""
    package_root = Path(__file__).resolve().parents[2]  # the directory holding the simserve package
    paths = {
        Path("/usr"),
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(os.path.realpath(sys.executable)).parent.parent,
        package_root,
    }
    return _outermost(p for p in paths if p.exists() and p != Path("/"))


def _outermost(paths: Iterable[Path]) -> list[Path]:
    """Drop paths inside another listed path; sorted."""
    out: list[Path] = []
    for path in sorted({p.resolve() for p in paths}, key=lambda p: len(p.parts)):
        if not any(path == o or o in path.parents for o in out):
            out.append(path)
    return sorted(out)


def _argv_dirs(argv: Iterable[str]) -> list[Path]:
    dirs = []
    for arg in argv:
        if arg.startswith("/") and os.path.exists(arg):
            path = Path(arg)
            dirs.append(path if path.is_dir() else path.parent)
    return dirs


def _run_mark(spec: WorkerSpec) -> str | None:
    """The live run a worker belongs to (its containers' label; ``simserve.live.reaper``)."""
    mark = spec.env.get(MARK_VAR)
    return run_mark_of(mark) if mark else None


class DockerRuntime:
    """Workers as containers. Options:

    ``image``: the image every worker runs (default: ``localhost/simserve-<handler>:16mb``, built
    into the engine on first use when missing — not a pull); ``evict_images``: remove the image
    when a worker's container goes (a host without an image cache); ``engine``: "auto", "docker"
    or "podman" (see ``engine_service.connect``); ``registries``: loopback registries to trust.
    """

    name = "docker"

    def __init__(
        self,
        image: str | None = None,
        evict_images: bool | None = None,
        engine: str = "auto",
        registries: tuple[str, ...] = (),
        session: EngineSession | None = None,
    ) -> None:
        self.image = image or os.environ.get("SIMSERVE_LIVE_IMAGE") or None
        if evict_images is None:
            evict_images = os.environ.get("SIMSERVE_EVICT_IMAGES", "") not in ("", "0", "false")
        self.evict_images = evict_images
        self.engine: str | None = engine
        self.registries = registries or _registries_of(self.image)
        self._session = session
        self._owns_session = session is None
        self._locks: dict[str, asyncio.Lock] = {}
        self._connect_lock = asyncio.Lock()
        self._procs: dict[int, ContainerProcess] = {}
        self._evictions: set[asyncio.Task[None]] = set()  # evict_images: waits for a container to go
        self._logs: list[LogSink] = []
        self.created_ids: list[str] = []  # every container this runtime created (for audits)
        self.pulls: list[tuple[str, float]] = []  # (image ref, seconds) of each real pull

    # ------------------------------------------------------------------ engine
    async def _client(self, mark: str | None = None) -> DockerClient:
        async with self._connect_lock:  # concurrent first starts share one engine session
            if self._session is None:
                self._session = await asyncio.to_thread(connect, self.engine or "auto", self.registries, 300.0, mark)
        return self._session.client

    @property
    def session(self) -> EngineSession | None:
        """The engine session (None before the first start)."""
        return self._session

    async def _ensure_image(self, client: DockerClient, spec: WorkerSpec, on_phase: PhaseCallback) -> str:
        import docker.errors

        ref = self.image or _default_ref(spec)
        lock = self._locks.setdefault(ref, asyncio.Lock())
        async with lock:
            try:
                await asyncio.to_thread(client.images.get, ref)
                return ref
            except docker.errors.ImageNotFound:
                pass
            if self.image is None:  # simserve's own example image: build it, no pull
                from simserve.live.images import build_image

                handler = _handler_path(spec)
                await asyncio.to_thread(build_image, client, handler, DEFAULT_IMAGE_MB)
                return ref
            t0 = time.monotonic()
            on_phase("pull", t0)
            try:
                await asyncio.to_thread(_pull, client, ref)
            except Exception as exc:
                raise WorkerStartError(f"pull of {ref} failed: {exc}", phase="pull") from exc
            self.pulls.append((ref, time.monotonic() - t0))
        return ref

    # ------------------------------------------------------------------ WorkerRuntime
    async def start(self, spec: WorkerSpec, on_phase: PhaseCallback) -> WorkerHandle:
        """Pull (unless the engine has the image), create, attach, start, wait until ready."""
        client = await self._client(_run_mark(spec))
        ref = await self._ensure_image(client, spec, on_phase)
        on_phase("container_start", time.monotonic())
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = CappedLog(spec.log_path)  # the container's stderr, size-bounded
        self._logs.append(log)
        try:
            proc = await asyncio.to_thread(self._create, client, ref, spec, log, asyncio.get_running_loop())
        except Exception as exc:
            raise WorkerStartError(f"container create/start failed: {exc}", phase="container_start") from exc
        self._procs[spec.worker_id] = proc
        if self.evict_images:
            eviction = asyncio.ensure_future(self._evict_after(proc, client, ref))
            self._evictions.add(eviction)
            eviction.add_done_callback(self._evictions.discard)
        try:
            return await attach_worker(spec, proc, on_phase, log)
        except BaseException:
            if proc.returncode is None:
                proc.kill()
            raise

    def _create(
        self, client: DockerClient, ref: str, spec: WorkerSpec, log: LogSink, loop: asyncio.AbstractEventLoop
    ) -> ContainerProcess:
        import docker.types

        api = client.api
        rw = [spec.cwd.resolve()]
        ro = [
            p
            for p in _outermost([*host_python_paths(), *_argv_dirs(spec.argv), *spec.mounts])
            if not any(p == w or w in p.parents for w in rw)
        ]
        binds = {str(p): {"bind": str(p), "mode": "ro"} for p in ro}
        binds.update({str(p): {"bind": str(p), "mode": "rw"} for p in rw})
        env = dict(spec.env)
        device_requests = None
        if spec.gpus:
            device_requests = [
                docker.types.DeviceRequest(device_ids=[str(g) for g in spec.gpus], capabilities=[["gpu"]])
            ]
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(len(spec.gpus)))
        host_config = api.create_host_config(binds=binds, network_mode="host", device_requests=device_requests)
        created = api.create_container(
            ref,
            list(spec.argv),
            stdin_open=True,
            detach=False,
            environment=env,
            working_dir=str(spec.cwd),
            host_config=host_config,
            labels={RUN_LABEL: _run_mark(spec) or str(os.getpid()), "io.simserve.worker": str(spec.worker_id)},
            name=f"simserve-w{spec.worker_id}-{os.getpid()}-{time.monotonic_ns() % 10**9}",
        )
        self.created_ids.append(created["Id"])
        proc = ContainerProcess(api, created["Id"], log, loop)
        try:
            proc.start()
        except Exception:
            proc.remove()
            raise
        return proc

    async def _evict_after(self, proc: ContainerProcess, client: DockerClient, ref: str) -> None:
        await proc.wait()
        await asyncio.to_thread(proc.removed.wait, 30)
        with contextlib.suppress(Exception):  # still used by another worker: keep it
            await asyncio.to_thread(client.images.remove, ref)

    def container_id(self, worker_id: int) -> str | None:
        """The container id of the worker's latest container (crash injection, audits)."""
        proc = self._procs.get(worker_id)
        return None if proc is None else proc.container_id

    async def close(self) -> None:
        """Remove every container this runtime created that is still there; stop the engine service."""
        for proc in list(self._procs.values()):
            if proc.returncode is None:
                proc.kill()
        for proc in list(self._procs.values()):
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(proc.wait(), 15)
            await asyncio.to_thread(proc.removed.wait, 15)
        if self._session is not None:
            import docker.errors

            api = self._session.client.api
            left = list(self.created_ids)
            for attempt in range(5):  # a busy engine may refuse a removal for a moment: try again
                still = []
                for cid in left:
                    try:
                        await asyncio.to_thread(api.remove_container, cid, force=True)
                    except docker.errors.NotFound:  # the SDK's error for a 404: gone already
                        pass
                    except Exception:  # noqa: BLE001 - the engine is busy
                        still.append(cid)
                left = still
                if not left:
                    break
                await asyncio.sleep(0.2 * (attempt + 1))
        for log in self._logs:
            with contextlib.suppress(OSError):
                log.close()
        self._logs.clear()
        if self._session is not None and self._owns_session:
            await asyncio.to_thread(self._session.close)
            self._session = None


def _pull(client: DockerClient, ref: str) -> None:
    repository, _, tag = ref.rpartition(":")
    if "/" in tag or not repository:
        repository, tag = ref, "latest"
    auth = registry_auth(ref)  # a loopback registry simserve runs wants its credentials
    for line in client.api.pull(repository, tag=tag, stream=True, decode=True, auth_config=auth):
        if isinstance(line, dict) and line.get("error"):
            raise RuntimeError(line["error"])
    client.images.get(ref)  # raises ImageNotFound when the pull did not produce it


def _registries_of(ref: str | None) -> tuple[str, ...]:
    if not ref or "/" not in ref:
        return ()
    host = ref.split("/", 1)[0]
    return (host,) if host.startswith(("127.", "localhost:")) else ()


def _handler_path(spec: WorkerSpec) -> Path:
    for arg in reversed(spec.argv):
        if arg.endswith(".py") and not arg.endswith("shim.py") and os.path.isfile(arg):
            return Path(arg)
    raise WorkerStartError("no image given (--image) and no handler file in the worker command")


def _default_ref(spec: WorkerSpec) -> str:
    from simserve.live.images import image_ref

    return image_ref(_handler_path(spec), DEFAULT_IMAGE_MB)
