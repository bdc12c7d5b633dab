"""A container seen as a subprocess: the bridge between the Docker attach API and ``attach_worker``.

Owns ``ContainerProcess``, which duck-types the parts of ``asyncio.subprocess.Process`` that
``simserve.live.worker.attach_worker`` uses (``stdin.write/close``, ``stdout.readline``,
``wait``, ``returncode``, ``kill``, ``send_signal``) over one attach socket opened before the
container starts: a reader thread demultiplexes the stream (stdout -> the protocol reader,
stderr -> the worker log) and, once the container has exited, records its exit code and removes
it (by id).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import struct
import threading

from simserve.live.dockerapi import DockerApi
from simserve.live.logs import LogSink
from simserve.live.worker import PIPE_LIMIT_BYTES

_HEADER = struct.Struct(">BxxxL")  # stream type (1 stdout, 2 stderr), payload length


class _Stdin:
    """Write side of the attach socket; ``close`` half-closes it (EOF for the worker)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._closed = False

    def write(self, data: bytes) -> None:
        if self._closed:
            raise RuntimeError("stdin closed")
        self._sock.sendall(data)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_WR)


class ContainerProcess:
    """A created (not yet started) container with its attach socket; call ``start()`` next."""

    def __init__(
        self,
        api: DockerApi,
        container_id: str,
        log: LogSink,
        loop: asyncio.AbstractEventLoop,
        remove_on_exit: bool = True,
    ) -> None:
        self._api = api
        self.container_id = container_id
        self._log = log
        self._remove_on_exit = remove_on_exit
        self._loop = loop  # the event loop of attach_worker (this may run in a worker thread)
        self.stdout = asyncio.StreamReader(limit=PIPE_LIMIT_BYTES, loop=loop)
        self.stderr: asyncio.StreamReader | None = None  # the reader thread writes stderr into the log itself
        self._exit: asyncio.Future[int] = self._loop.create_future()
        self.returncode: int | None = None
        self.removed = threading.Event()
        raw = api.attach_socket(container_id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
        # over a unix socket or plain TCP the SDK answers the response's ``SocketIO`` (the raw stream of
        # ``sock.makefile("rb")``): closing the socket alone then only marks it closed, and the fd stays
        # open until that stream is closed too (``_close_attach`` closes both)
        self._holder = raw
        self._sock: socket.socket = getattr(raw, "_sock", raw)  # the SDK's response wraps the socket (or is it)
        self._sock.settimeout(None)
        self.stdin = _Stdin(self._sock)
        self.pid = 0  # the container's main process on this host, once started (0: unknown)

    def start(self) -> None:
        """Start the container (blocking API call) and the reader thread; a failed start closes the attach socket."""
        try:
            self._api.start(self.container_id)
        except BaseException:
            self._close_attach()
            raise
        with contextlib.suppress(Exception):
            self.pid = int(self._api.inspect_container(self.container_id)["State"].get("Pid") or 0)
        threading.Thread(target=self._pump, name=f"attach-{self.container_id[:12]}", daemon=True).start()

    # ------------------------------------------------------------------ reader thread
    def _recv_exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self._sock.recv(n - len(buf))
            if not chunk:
                return b""
            buf += chunk
        return buf

    def _pump(self) -> None:
        try:
            while True:
                header = self._recv_exact(_HEADER.size)
                if not header:
                    break
                kind, size = _HEADER.unpack(header)
                data = self._recv_exact(size) if size else b""
                if size and not data:
                    break
                if kind == 1:
                    self._loop.call_soon_threadsafe(self.stdout.feed_data, data)
                else:
                    with contextlib.suppress(ValueError, OSError):
                        self._log.write(data)
                        self._log.flush()
        except OSError:
            pass
        self._loop.call_soon_threadsafe(self.stdout.feed_eof)
        code = self._exit_code()
        self._close_attach()
        if self._remove_on_exit:
            self.remove()
        self._loop.call_soon_threadsafe(self._set_exit, code)

    def _close_attach(self) -> None:
        """Close the attach socket and the stream the SDK wraps it in: only then is its fd closed."""
        with contextlib.suppress(OSError):
            self._sock.close()
        if self._holder is not self._sock:
            with contextlib.suppress(Exception):  # whatever the transport's stream raises on close
                self._holder.close()

    def _exit_code(self) -> int:
        for _ in range(3):
            try:
                status = self._api.wait(self.container_id, timeout=3600)
                return int(status.get("StatusCode", -1))
            except Exception:  # noqa: BLE001, S112 - engine hiccup or container already gone: ask again
                continue
        return -1

    def _set_exit(self, code: int) -> None:
        self.returncode = code
        if not self._exit.done():
            self._exit.set_result(code)

    def remove(self) -> None:
        """Remove the container by id (force); idempotent."""
        with contextlib.suppress(Exception):
            self._api.remove_container(self.container_id, force=True)
        self.removed.set()

    # ------------------------------------------------------------------ Process API (worker.LaunchedProcess)
    async def wait(self) -> int:
        return await asyncio.shield(self._exit)

    async def reap_strays(self) -> list[int]:
        """Nothing to reap: the engine removes what the container ran."""
        return []

    def close(self) -> None:
        """Nothing to close: the reader thread closes the attach socket once the container has exited."""

    def send_signal(self, sig: int) -> None:
        if self.returncode is not None:
            raise ProcessLookupError(self.container_id)
        threading.Thread(target=self._signal, args=(sig,), daemon=True).start()

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(Exception):
            self._api.kill(self.container_id, signal=int(sig))

    def kill(self) -> None:
        """``docker kill`` (SIGKILL) without blocking the event loop."""
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)
