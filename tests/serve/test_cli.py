"""``simserve serve``'s command line: bad input is one line and exit 2 before any worker starts (a port in
use too), a non-loopback ``--host`` is warned about, ``--duration`` stops the run with exit 0."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from simserve.cli import main
from simserve.serve.server import is_loopback
from tests.serve.conftest import simserve_cli

HERE = Path(__file__).resolve().parent
SCENARIO = HERE / "serve-test.yaml"
ECHO = HERE.parents[1] / "examples" / "handlers" / "echo.py"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--handler", "nope.py"], "--handler: file not found"),
        (["--handler", str(ECHO), "--duration", "soon"], "--duration"),
        (["--handler", str(ECHO), "--protocol", "grpc"], "--protocol"),
        (["--handler", str(ECHO), "--runtime", "k8s"], "--runtime"),
        (["--handler", str(ECHO), "--api-key", "a b"], "--api-key"),
        (["--handler", str(ECHO), "--set", "endpoint.max_workers=-1"], "max_workers"),
        (["--handler", str(ECHO), "--rate-limits", "fast"], "--rate-limits: expected on, off or a factor"),
        (["--handler", str(ECHO), "--rate-limits", "-2"], "--rate-limits"),
        (["--handler", str(ECHO), "--result-ttl-run", "soon"], "--result-ttl-run"),
        (["--handler", str(ECHO), "--result-ttl-sync", "0s"], "--result-ttl-sync: expected a duration over 0"),
        (["--handler", str(ECHO), "--policy-bounds", "maybe"], "--policy-bounds: expected on or off"),
        ([], "--handler: expected a handler file (only an LLM scenario has a built-in worker)"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], says: str, tmp_path: Path, capsys):
    assert main(["serve", str(SCENARIO), "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and says in err[0]


def test_a_port_in_use_is_exit_2_before_any_worker(tmp_path: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = simserve_cli(
            "serve", str(SCENARIO), "--handler", str(ECHO), "--port", str(port), "--out", str(tmp_path / "o")
        )
    assert p.returncode == 2, p.stderr
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and f"--port {port}" in err[0] and "Traceback" not in p.stderr
    assert not (tmp_path / "o" / "logs").exists()


@pytest.mark.live
def test_duration_stops_with_exit_0_and_prints_the_endpoint(tmp_path: Path):
    p = simserve_cli(
        "serve",
        str(SCENARIO),
        "--handler",
        str(ECHO),
        "--port",
        "0",
        "--duration",
        "2s",
        "--out",
        str(tmp_path / "o"),
        "-q",
    )
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("endpoint http://127.0.0.1:") and lines[0].endswith("/v2/local")
    assert lines[1].startswith("api key ") and len(lines[1].split()[2]) >= 24  # generated
    assert lines[2].startswith("dashboard http://127.0.0.1:")
    assert (tmp_path / "o" / "summary.json").is_file() and (tmp_path / "o" / "trace.csv").is_file()


def test_a_host_off_loopback_is_warned_about(tmp_path: Path):
    # 192.0.2.1 (TEST-NET-1) is not this machine's: the warning comes, then the bind fails (exit 2)
    p = simserve_cli(
        "serve",
        str(SCENARIO),
        "--handler",
        str(ECHO),
        "--port",
        "0",
        "--host",
        "192.0.2.1",
        "--out",
        str(tmp_path / "o"),
    )
    assert p.returncode == 2 and "not a loopback address" in p.stderr and "Traceback" not in p.stderr


def test_is_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0")  # noqa: S104 - a string, nothing is bound
    assert not is_loopback("192.168.1.4") and not is_loopback("example.com")
