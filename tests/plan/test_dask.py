"""A plan on a real Dask cluster (a scheduler and two workers on 127.0.0.1) matches the
local plan exactly. The test starts the processes and tears them down by process id."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytest.importorskip("distributed")

from simserve.cli import main

DASK = str(Path(sys.executable).with_name("dask"))


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)  # the group its own pid leads (nanny + worker)
            p.wait(timeout=5)


def _scheduler_address(sched_file: Path, deadline: float) -> str:
    """The address in the scheduler's file, once it is there whole: the scheduler creates the file before it
    writes it, so an empty or partial file is read again (every 0.1 s, until ``deadline``; a bound far above
    the seconds a scheduler takes to start on a loaded 2-core machine)."""
    while True:
        try:
            return str(json.loads(sched_file.read_text())["address"])
        except (FileNotFoundError, ValueError, KeyError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture
def cluster(tmp_path: Path):
    """Address of a scheduler with two single-thread workers; stopped by pid afterwards."""
    sched_file = tmp_path / "scheduler.json"
    common = dict(cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    procs: list[subprocess.Popen] = []
    try:
        procs.append(
            subprocess.Popen(
                [
                    DASK,
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--dashboard-address",
                    "127.0.0.1:0",
                    "--scheduler-file",
                    str(sched_file),
                ],
                **common,
            )
        )
        for name in ("w1", "w2"):
            procs.append(
                subprocess.Popen(
                    [
                        DASK,
                        "worker",
                        "--scheduler-file",
                        str(sched_file),
                        "--host",
                        "127.0.0.1",
                        "--nthreads",
                        "1",
                        "--name",
                        name,
                        "--no-dashboard",
                        "--local-directory",
                        str(tmp_path / name),
                    ],
                    **common,
                )
            )
        from distributed import Client

        address = _scheduler_address(sched_file, time.monotonic() + 60)
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        _stop(procs)
        assert all(p.poll() is not None for p in procs)


def test_cluster_plan_matches_local(cluster: str, tiny: dict, tmp_path: Path) -> None:
    assert cluster.startswith("tcp://127.0.0.1:")
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny, sort_keys=False))
    args = ["plan", str(path), "--slo", "latency_p95<=7s", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "local"), "--processes", "2"]) == 0
    assert main([*args, "--out", str(tmp_path / "dask"), "--cluster", cluster]) == 0
    for name in ("plan.csv", "plan.json", "recommended.yaml"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes(), name
    doc = json.loads((tmp_path / "dask" / "plan.json").read_text())
    assert doc["recommended"] is not None and doc["runs_used"] > 0
