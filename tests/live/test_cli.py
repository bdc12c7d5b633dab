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


def test_readme_example_runs_from_another_directory_with_relative_paths(tmp_path: Path) -> None:
    """The README's example (a model file to load, a relative --out) completes jobs when run from a
    directory that is neither the repository nor the handler's: every path is made absolute before any
    worker starts (a worker runs in its handler's directory)."""
    import shutil
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    (tmp_path / "handlers").mkdir()
    shutil.copy(root / "examples" / "handlers" / "echo.py", tmp_path / "handlers" / "echo.py")
    shutil.copy(root / "scenarios" / "quickstart.yaml", tmp_path / "quickstart.yaml")
    args = ["live", "quickstart.yaml", "--handler", "handlers/echo.py", "--duration", "3s", "--speed", "30"]
    args += ["--set", "cold_start.image_size=4MB", "--set", "cold_start.model.size=4MB", "--out", "runs/live-q", "-q"]
    done = subprocess.run(
        [sys.executable, "-m", "simserve", *args], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "runs" / "live-q" / "summary.json").read_text())
    assert summary["live"]["faults"] == []
    assert summary["requests"]["completed"] > 0
    assert summary["live"]["cold_start_phases"]["model_load"]["n"] > 0
