"""`simserve live` through the command line, live view on: exit code, tables, bad flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simserve.cli import main

pytestmark = pytest.mark.live


def test_live_command_with_live_view(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "live"
    rc = main(
        [
            "live",
            "scenarios/quickstart.yaml",
            "--handler",
            "examples/handlers/sleep.py",
            "--duration",
            "6s",
            "--speed",
            "4",
            "--set",
            "cold_start.image_size=0",
            "--set",
            "cold_start.model.size=0",
            "--set",
            "cold_start.handler_init=0.2s",
            "--set",
            "cold_start.container_start=0.2s",
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert rc == 0
    assert "simserve live" in printed and "latency p95" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["engine"] == "live" and summary["requests"]["arrived"] > 0
    assert (out / "jobs.csv").is_file() and (out / "workers.csv").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--protocol", "grpc"], "--protocol"),
        (["--runtime", "firecracker"], "--runtime"),
        (["--duration", "soon"], "--duration"),
        (["--image", "x"], "--image and --evict-images need --runtime docker or podman"),
    ],
)
def test_live_bad_flags_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["live", "scenarios/quickstart.yaml", "--handler", "examples/handlers/sleep.py", *args])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1


# Ctrl-C and SIGTERM mid-run: tests/live/test_bad_handlers.py::test_signal_mid_run_with_busy_workers


# The README's live command, run as written from a directory that is not the checkout (relative --handler and
# --out): tests/docs/test_readme_commands.py::test_live
