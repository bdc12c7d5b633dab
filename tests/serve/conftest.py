"""``simserve serve`` started as users start it (a subprocess on 127.0.0.1, a free port), for real clients."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SCENARIO = HERE / "serve-test.yaml"
HANDLER = HERE / "handlers" / "app_handler.py"
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


def start_server(out: Path, *args: str, handler: Path = HANDLER, scenario: Path = SCENARIO) -> Server:
    cmd = [sys.executable, "-m", "simserve", "serve", str(scenario), "--handler", str(handler), "--port", "0"]
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
