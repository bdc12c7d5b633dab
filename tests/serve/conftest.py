"""``simserve serve`` started as users start it (a subprocess on 127.0.0.1, a free port), for real clients."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

HERE = Path(__file__).resolve().parent
SCENARIO = HERE / "serve-test.yaml"
HANDLER = HERE / "handlers" / "app_handler.py"
SDK_HANDLER = HERE / "handlers" / "sdk_handler.py"
SDK_STREAM = HERE / "handlers" / "sdk_stream.py"
ECHO = HERE.parents[1] / "examples" / "handlers" / "echo.py"
START_TIMEOUT_S = 60.0


@dataclass
class Server:
    proc: subprocess.Popen[str]
    base: str  # http://127.0.0.1:PORT/v2
    key: str
    out: Path
    lines: list[str]

    @property
    def url(self) -> str:
        return self.base.rsplit("/v2", 1)[0]

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def openai(self, key: str | None = None, asynchronous: bool = False) -> Any:
        """The official ``openai`` client (sync or async) on this endpoint's OpenAI route, without retries."""
        import openai

        cls = openai.AsyncOpenAI if asynchronous else openai.OpenAI
        return cls(base_url=self.base + "/local/openai/v1", api_key=key or self.key, max_retries=0)

    def stop(self, timeout_s: float = 60.0) -> tuple[int, str]:
        """Ctrl-C; the exit code and what it printed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            out, _ = self.proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return self.proc.returncode, "".join(self.lines) + (out or "")


def simserve_cli(*args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``python -m simserve ARGS`` in a fresh interpreter, its output captured."""
    cmd = [sys.executable, "-m", "simserve", *args]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout_s)


def start_server(out: Path, *args: str, handler: Path | None = HANDLER, scenario: Path = SCENARIO) -> Server:
    """``simserve serve`` in a subprocess (``handler`` None: none given, an LLM scenario's built-in worker)."""
    given = ["--handler", str(handler)] if handler is not None else []
    cmd = [sys.executable, "-m", "simserve", "serve", str(scenario), *given, "--port", "0"]
    cmd += ["--out", str(out), "--api-key", "test-key", *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    base = ""
    deadline = time.monotonic() + START_TIMEOUT_S
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("endpoint "):
            base = line.split()[1].rsplit("/", 1)[0]
        if line.startswith("dashboard "):
            break
    if not base:
        proc.kill()
        raise AssertionError("simserve serve did not start:\n" + "".join(lines) + (proc.stdout.read() or ""))
    return Server(proc, base, "test-key", out, lines)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One endpoint for a module's tests (webhooks retried after 0.2 s)."""
    srv = start_server(tmp_path_factory.mktemp("serve") / "run", "--webhook-delay", "0.2")
    yield srv
    srv.stop()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


async def _request(server: Server, method: str, path: str, body: Any = None) -> Answer:
    async with aiohttp.ClientSession() as s:
        data = json.dumps(body).encode() if body is not None else None
        async with s.request(method, server.base + "/local" + path, data=data, headers=server.headers()) as r:
            return Answer(r.status, dict(r.headers), await r.json(content_type=None))


def request(server: Server, method: str, path: str, body: Any = None) -> Answer:
    """One plain-HTTP call to ``/v2/local/PATH`` with the key; the status, headers and JSON body."""
    return asyncio.run(_request(server, method, path, body))


def poll_status(server: Server, job_id: str, done: Any, timeout_s: float = 30.0) -> Answer:
    """``GET /status/{job_id}`` until ``done(answer)``; every 0.05 s for up to ``timeout_s`` (30 s: a
    bound for answers that come in well under a second idle, so it holds on a loaded 2-core machine)."""
    deadline = time.monotonic() + timeout_s
    ans = request(server, "GET", f"/status/{job_id}")
    while not done(ans):
        if time.monotonic() > deadline:
            raise AssertionError(f"{job_id}: still {ans.status} {ans.body} after {timeout_s} s")
        time.sleep(0.05)
        ans = request(server, "GET", f"/status/{job_id}")
    return ans
