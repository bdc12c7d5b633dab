"""SIGKILL of ``simserve live --runtime podman`` mid-run (a worker busy, one frozen, one starting): its reaper
ends the run's processes (the podman service it started among them) and removes its containers, and
``simserve recover`` makes a run directory of its journal (the process runtime's cases:
``tests/live/test_crash.py``, whose helpers and bounds this uses)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from simserve.live.reaper import RUN_LABEL
from tests.live.test_crash import HANDLER, _kill_and_check, _recover, _scenario, _wait_for_busy_frozen_starting

pytestmark = [pytest.mark.container, pytest.mark.timeout(300), pytest.mark.xdist_group("containers")]


def _of_run(engine: Any, mark: str) -> list[str]:
    """Ids of the containers labelled with the run's mark, in any state (listed whole, filtered here)."""
    return [
        str(c["Id"])[:12]
        for c in engine.client.api.containers(all=True)
        if (c.get("Labels") or {}).get(RUN_LABEL) == mark
    ]


@pytest.mark.usefixtures("no_leaks")
def test_sigkill_of_live_in_containers_leaves_nothing_and_a_recoverable_run(engine: Any, tmp_path: Path) -> None:
    handlers = tmp_path / "h"  # the worker's directory is its container's writable mount: the start counter too
    handlers.mkdir()
    handler = handlers / HANDLER.name
    shutil.copy(HANDLER, handler)
    trace = tmp_path / "trace.csv"
    trace.write_text("arrival_s,service_s\n0.0,300\n0.0,6\n1.0,0.3\n")  # A, B, C
    sc = _scenario(tmp_path, handlers / "starts", trace)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "simserve", "live", str(sc), "--handler", str(handler), "--out", str(out), "-q"]
    cmd += ["--runtime", "podman"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        mark, ended = _wait_for_busy_frozen_starting(proc, out)
        assert len(_of_run(engine, mark)) == 3  # busy, frozen, starting
        _kill_and_check(proc, mark)
    finally:
        if proc.poll() is None:
            proc.kill()
    # the reaper removes the run's containers after its processes (no_leaks checks every id at the end too)
    deadline = time.monotonic() + 30  # a removal takes well under a second idle
    while _of_run(engine, mark) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _of_run(engine, mark) == []
    run = _recover(out)
    jobs = run["jobs"]
    assert ended == {1, 2}
    assert set(jobs.loc[jobs["status"].astype(str) == "completed", "job_id"]) == ended
    assert run["summary"]["incomplete"]["jobs_in_flight"] == 1
