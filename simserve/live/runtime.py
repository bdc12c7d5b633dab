"""The worker runtime interface of the live executor: how a real worker is started, fed and stopped.

A runtime (``process`` here, ``docker``/``podman`` elsewhere) turns a ``WorkerSpec`` into a
running ``WorkerHandle``. ``start`` must measure the cold-start phases it owns and report each
phase's *start* through ``on_phase(name, t)`` (``t`` = ``time.monotonic()``; a phase ends when
the next one starts or ``start`` returns): ``pull`` (copy/pull the image into the per-host cache
``spec.cache_dir`` unless already there — skip the callback on a cache hit), ``container_start``
(spawn to "the worker's own code runs"), then the worker itself reports ``model_load`` and
``handler_init`` (``attach_worker`` in ``simserve.live.worker`` parses them). Results come back
as ``JobOutcome`` values from ``WorkerHandle.run_job``; a worker that dies mid-job gives status
``crashed``, a failed start raises ``WorkerStartError`` carrying the log tail. No policy here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, TypeAlias, runtime_checkable

#: a job's input or output, or one chunk of it: whatever JSON a client or the user's handler sends;
#: arbitrary by design, so not typed further
Json: TypeAlias = Any

#: the largest job result a worker delivers: its JSON encoding, in bytes (a larger one fails the job at once)
MAX_RESULT_BYTES = 64 << 20

#: the most chunk times one job's result carries (a generator handler's later chunks are counted, not timed)
MAX_TOKEN_TIMES = 1 << 16

#: ``JobOutcome.status`` values
OUTCOMES: tuple[str, ...] = ("completed", "failed", "timed_out", "crashed", "cancelled")


class PhaseCallback(Protocol):
    """Called when a cold-start phase begins: ``on_phase("pull", time.monotonic())``."""

    def __call__(self, phase: str, t_monotonic: float, /) -> None: ...


#: called with the ``time.monotonic()`` at which a job's handler yielded its first chunk (an LLM's first token)
FirstCallback = Callable[[float], None]
#: called with each chunk a generator handler yields, as it comes (``simserve serve``'s ``/stream``)
ChunkCallback = Callable[[Json], None]
#: called with a job's id and the output of each ``runpod.serverless.progress_update`` while it runs
ProgressCallback = Callable[[str, Json], None]


@dataclass(frozen=True, slots=True)
class JobHooks:
    """What one job's caller hears while it runs, and the job's extra fields (the request's ``s3Config``):
    the one value ``WorkerHandle.run_job`` and ``JobBroker.submit`` take (``NO_HOOKS``: nothing)."""

    on_first: FirstCallback | None = None
    on_chunk: ChunkCallback | None = None
    on_progress: ProgressCallback | None = None
    extra: dict[str, Json] | None = None


NO_HOOKS = JobHooks()


class HookBook:
    """The hooks of the jobs in flight at one worker or broker, by job id; a job's ``on_first`` fires once.

    >>> book, heard = HookBook(), []
    >>> book.add("j", JobHooks(on_first=heard.append, on_chunk=heard.append))
    >>> book.first("j", 1.0); book.first("j", 2.0); book.chunk("j", "a"); book.forget("j"); book.chunk("j", "b")
    >>> heard
    [1.0, 'a']
    """

    __slots__ = ("_by_job",)

    def __init__(self) -> None:
        self._by_job: dict[str, JobHooks] = {}

    def add(self, job_id: str, hooks: JobHooks) -> None:
        if hooks.on_first is not None or hooks.on_chunk is not None or hooks.on_progress is not None:
            self._by_job[job_id] = hooks

    def first(self, job_id: str, t: float) -> None:
        """The job's first chunk came at ``t`` (``time.monotonic()``): ``on_first(t)``, the first time only."""
        hooks = self._by_job.get(job_id)
        if hooks is not None and hooks.on_first is not None:
            self._by_job[job_id] = replace(hooks, on_first=None)  # heard: the job keeps its other hooks
            hooks.on_first(t)

    def chunk(self, job_id: str, chunk: Json) -> None:
        hooks = self._by_job.get(job_id)
        if hooks is not None and hooks.on_chunk is not None:
            hooks.on_chunk(chunk)

    def progress(self, job_id: str, output: Json) -> None:
        hooks = self._by_job.get(job_id)
        if hooks is not None and hooks.on_progress is not None:
            hooks.on_progress(job_id, output)

    def forget(self, job_id: str) -> None:
        self._by_job.pop(job_id, None)

    def clear(self) -> None:
        self._by_job.clear()


def result_error(error: Json) -> str:
    """A result's ``error`` as the job's error text: a string as is, anything else (``rp_validator``'s list of
    errors, an object) as the JSON the SDK sent.

    >>> result_error("bad input"), result_error(["x is a required input."])
    ('bad input', '["x is a required input."]')
    """
    if isinstance(error, str):
        return error
    try:
        return json.dumps(error)
    except (TypeError, ValueError):
        return str(error)


class JobBroker(Protocol):
    """The executor's side of a pull protocol (runpod): jobs for one worker, results back."""

    def url(self) -> str: ...

    async def first_take(self, worker_id: int) -> float:
        """The ``time.monotonic()`` of the worker's first job-take request (its ready time)."""
        ...

    def submit(
        self,
        worker_id: int,
        job_id: str,
        payload: Json,
        hooks: JobHooks = NO_HOOKS,
    ) -> asyncio.Future[JobOutcome]: ...

    def cancel(self, job_id: str) -> None: ...

    def release(self, worker_id: int) -> None:
        """The worker is being stopped: its polls end at once."""
        ...


@dataclass(frozen=True)
class WorkerSpec:
    """Everything needed to start one worker; built by the executor, read by runtimes.

    ``argv``/``env``/``cwd`` are the command that boots the worker (the simserve shim for
    ``native``, the user's file under a tiny boot wrapper for ``runpod``); a container runtime
    runs the same command inside its container with every path in ``mounts`` bind-mounted at
    the same path and the host network (the runpod broker listens on 127.0.0.1).
    """

    worker_id: int
    protocol: str  # "native" | "runpod"
    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    host_id: int
    gpus: tuple[int, ...]  # GPU indices pinned via CUDA_VISIBLE_DEVICES; () = a CPU slot
    image_key: str  # name of the image payload file in ``image_store``
    image_store: Path  # the local "registry": <image_store>/<image_key>
    cache_dir: Path  # per-host image cache; survives scale-down (next start skips the pull)
    log_path: Path  # stdout+stderr of the worker go here (appended across restarts, capped and rotated)
    mounts: tuple[Path, ...] = ()
    concurrency: int = 1
    broker: JobBroker | None = field(default=None, compare=False)  # set for protocol "runpod"


@dataclass(frozen=True)
class JobOutcome:
    """How one job ended on a worker. Times are ``time.monotonic()`` seconds.

    A generator handler's run also says when it yielded each chunk (``token_t``, at most
    ``MAX_TOKEN_TIMES`` of them; ``chunks`` counts them all): a streaming LLM handler yields one
    chunk a token, so ``token_t[0]`` is its first token."""

    status: str  # one of OUTCOMES
    output: Json = None
    error: str = ""
    started_t: float = float("nan")
    ended_t: float = float("nan")
    token_t: tuple[float, ...] = ()
    chunks: int = 0
    #: the result asked for its worker to be refreshed (the SDK's ``refresh_worker``, the platform's ``stopPod``)
    refresh: bool = False


class WorkerStartError(RuntimeError):
    """The worker failed to start (crashed or errored before ready); ``log_tail`` for the user."""

    def __init__(self, message: str, log_tail: str = "", phase: str = "") -> None:
        super().__init__(message)
        self.log_tail = log_tail
        self.phase = phase


@runtime_checkable
class WorkerHandle(Protocol):
    """A started, ready worker."""

    worker_id: int
    log_path: Path

    async def run_job(
        self,
        job_id: str,
        payload: Json,
        timeout_s: float,
        hooks: JobHooks = NO_HOOKS,
    ) -> JobOutcome:
        """Run one job; on timeout the job is killed (the worker may be restarted) -> ``timed_out``.
        ``hooks.on_first(t)`` is called as soon as a generator handler yields its first chunk,
        ``on_chunk(c)`` with each chunk as it comes, ``on_progress(job_id, x)`` with each progress update;
        ``hooks.extra``: more fields of the job the handler gets (the request's ``s3Config``)."""
        ...

    def is_alive(self) -> bool: ...

    async def stop(self, grace_s: float = 2.0) -> int | None:
        """Ask the worker to exit (SIGTERM, then SIGKILL after ``grace_s``); returns the exit code."""
        ...

    def kill(self) -> None:
        """SIGKILL now (crash injection, Ctrl-C)."""
        ...

    def suspend(self) -> bool:
        """FlashBoot: freeze the worker (SIGSTOP); False where the runtime cannot."""
        ...

    def resume(self) -> bool:
        """Thaw a frozen worker."""
        ...

    async def wait_exit(self) -> int:
        """Wait until the worker process exits; returns its exit code (used to detect crashes)."""
        ...


@runtime_checkable
class WorkerRuntime(Protocol):
    """A backend that starts workers: ``ProcessRuntime`` (default), container runtimes."""

    name: str
    #: the container engine its workers run on ("auto", "docker" or "podman"; ``connect``), None for processes
    engine: str | None

    async def start(self, spec: WorkerSpec, on_phase: PhaseCallback) -> WorkerHandle:
        """Pull (unless cached), launch, wait until ready; raise ``WorkerStartError`` on failure.

        No init time limit of its own (the core enforces ``faults.init_timeout`` by cancelling the
        start): a cancelled start kills what it launched."""
        ...

    async def close(self) -> None:
        """Release runtime resources (all workers have been stopped by then)."""
        ...


def log_size(path: Path) -> int:
    """The size of a worker log now, in bytes (0 when it does not exist): where a new start's lines begin."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def log_tail(path: Path, lines: int = 20, start_byte: int = 0) -> str:
    """The last ``lines`` lines of a worker log written from ``start_byte`` on ('' when there are none)."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if start_byte > size:  # the log was rotated since (simserve.live.logs)
                start_byte = 0
            f.seek(max(start_byte, size - 16384, 0))
            data = f.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])
