"""``ContainerProcess`` closes its attach socket's fd, through the real docker SDK over a unix socket.

Over a unix socket (podman's service, ``/var/run/docker.sock``) ``APIClient.attach_socket`` answers the
HTTP response's ``SocketIO`` (the raw stream of ``sock.makefile("rb")``). Closing only the socket under
it marks it closed and leaves its fd open until a garbage collection finds it (a
``ResourceWarning: unclosed <socket.socket [closed] ... family=1>`` in a later test). A small engine
stand-in answers the five calls ``ContainerProcess`` makes, over a real AF_UNIX HTTP server, so the SDK
builds its response exactly as with a real engine; no container engine is needed.
"""

from __future__ import annotations

import asyncio
import io
import json
import socketserver
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

docker = pytest.importorskip("docker", reason="the docker SDK is not installed (pip install docker)")

from simserve.live.container import ContainerProcess  # noqa: E402

CID = "c0ffee"


class _Engine(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    started: threading.Event
    start_status: int


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request a connection; the attach body runs until the close
    server: _Engine

    def log_message(self, format: str, *args: object) -> None:  # quiet: no request lines in the test output
        pass

    def _answer(self, status: int, body: object = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        path = self.path.split("?")[0]
        if path.endswith(f"/containers/{CID}/attach"):
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.docker.raw-stream")
            self.end_headers()
            self.wfile.flush()
            if self.server.started.wait(10):  # the container "runs" once started: one stdout line, exit
                line = b"ready\n"
                self.wfile.write(struct.pack(">BxxxL", 1, len(line)) + line)
        elif path.endswith(f"/containers/{CID}/start"):
            if self.server.start_status == 204:
                self.server.started.set()
            self._answer(self.server.start_status, None if self.server.start_status == 204 else {"message": "no"})
        elif path.endswith(f"/containers/{CID}/wait"):
            self._answer(200, {"StatusCode": 0})
        else:
            self._answer(404, {"message": self.path})

    def do_GET(self) -> None:
        self._answer(200, {"State": {"Pid": 0}})

    def do_DELETE(self) -> None:
        self._answer(204)


def _engine(sock: Path, start_status: int) -> Iterator[docker.APIClient]:
    server = _Engine(str(sock), _Handler)
    server.started = threading.Event()
    server.start_status = start_status
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    client = docker.APIClient(base_url=f"unix://{sock}", version="1.41")
    try:
        yield client
    finally:
        client.close()
        server.started.set()  # an attach still waiting for a start answers and ends
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[docker.APIClient]:
    yield from _engine(tmp_path / "e.sock", 204)


@pytest.fixture
def refusing_engine(tmp_path: Path) -> Iterator[docker.APIClient]:
    yield from _engine(tmp_path / "e.sock", 500)


def test_exited_container_closes_its_attach_fd(engine: docker.APIClient) -> None:
    async def main() -> tuple[ContainerProcess, bytes, int]:
        loop = asyncio.get_running_loop()
        proc = await asyncio.to_thread(ContainerProcess, engine, CID, io.BytesIO(), loop)
        assert proc._sock.fileno() != -1
        await asyncio.to_thread(proc.start)
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        code = await asyncio.wait_for(proc.wait(), 30)
        await asyncio.to_thread(proc.removed.wait, 30)
        return proc, line, code

    proc, line, code = asyncio.run(main())
    assert (line, code) == (b"ready\n", 0)
    assert proc._sock.fileno() == -1, f"attach socket still open: {proc._sock!r}"


def test_failed_start_closes_its_attach_fd(refusing_engine: docker.APIClient) -> None:
    async def main() -> ContainerProcess:
        loop = asyncio.get_running_loop()
        proc = await asyncio.to_thread(ContainerProcess, refusing_engine, CID, io.BytesIO(), loop)
        with pytest.raises(docker.errors.APIError):
            await asyncio.to_thread(proc.start)
        return proc

    proc = asyncio.run(main())
    assert proc._sock.fileno() == -1, f"attach socket still open: {proc._sock!r}"
