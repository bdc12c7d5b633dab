"""SIGKILL of ``simserve live`` and ``simserve serve`` mid-run, as the OOM killer does it: no process of the run
is left (its reaper, ``simserve.live.reaper``), and ``simserve recover`` makes a run directory of its
journal (``simserve.live.journal``) holding every job that ended before the kill, marked incomplete.

At the kill one worker is busy, one is FlashBoot-frozen (SIGSTOP) and one is starting: the handler's
third process start never ends (``handlers/third_start_blocks.py``). The three come from the platform's
rules: A (long) and B (4 s) arrive together and take a worker each; C arrives while both are busy, so
the scaler starts a third worker (the blocked start); B's worker takes C when B ends, runs it, and
is scaled down after the 1 s idle timeout, frozen.

Wall time, bounds that hold on a loaded 2-core machine: up to 90 s for that state (about 8 s idle), 15 s
for the run's processes to be gone after the kill (well under 1 s idle: the reaper is already running).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from simserve.live.procs import marked_processes, run_mark_of
from simserve.results.outputs import read_run

HANDLER = Path(__file__).resolve().parent / "handlers" / "third_start_blocks.py"
STATE_TIMEOUT_S = 90.0
GONE_TIMEOUT_S = 15.0
INIT, IDLE, RUNNING, BUSY = 0, 1, 2, 7

pytestmark = pytest.mark.xdist_group("live-crash")


def _scenario(tmp: Path, starts: Path, trace: Path | None) -> Path:
    workload: dict[str, Any] = {"arrivals": {"type": "poisson", "rate": 0.1}, "service": "1s"}
    if trace is not None:
        workload = {"arrivals": {"type": "trace", "path": str(trace)}, "service": "1s"}
    sc = {
        "name": "crash",
        "seed": 1,
        "horizon": "10min",
        "endpoint": {
            "gpu": ["A100"],
            "max_workers": 3,
            "extra_workers": 0,
            "idle_timeout": "1s",
            "flashboot": True,
            "scaler": {"type": "queue_delay", "value": 1},
            "scaler_interval": "0.5s",
            "env": {"STARTS_DIR": str(starts)},
        },
        "cold_start": {"image_size": "2MB", "model": {"placement": "none"}, "flashboot_window": "10min"},
        "workload": workload,
    }
    path = tmp / "crash.yaml"
    path.write_text(yaml.safe_dump(sc))
    return path


def _journal(out: Path) -> Path | None:
    found = sorted(out.parent.glob(f".{out.name}.*.partial/journal"))
    return found[0] if found else None


def _last_line(journal: Path) -> dict[str, Any]:
    lines = (journal / "events.jsonl").read_bytes().split(b"\n")
    for raw in reversed(lines):
        try:
            return json.loads(raw)  # type: ignore[no-any-return]
        except ValueError:
            continue
    return {}


def _run_processes(mark: str) -> dict[int, str]:
    return {pid: m for pid, m in marked_processes().items() if run_mark_of(m) == mark}


def _stopped(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
    except (OSError, IndexError):
        return False


def _wait_for_busy_frozen_starting(proc: subprocess.Popen[bytes], out: Path) -> tuple[str, set[int]]:
    """Poll the run's journal until one worker is busy, one scaled down with its process frozen, one starting;
    the run's mark and the jobs that had ended by then."""
    deadline = time.monotonic() + STATE_TIMEOUT_S
    seen: dict[str, Any] = {}
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"simserve exited early with {proc.returncode}"
        journal = _journal(out)
        if journal is not None and (journal / "run.json").is_file():
            mark = json.loads((journal / "run.json").read_text())["run_mark"]
            seen = _last_line(journal)
            rows = {(r[1], r[2]) for r in seen.get("open", [])}
            ready = (RUNNING, BUSY) in rows and (IDLE, 0) in rows and any(s == INIT for s, _ in rows)
            if ready and any(_stopped(pid) for pid in _run_processes(mark)):
                time.sleep(2.0)  # the jobs that ended are on disk: the journal is at most 1 s behind
                ended = set()
                for line in (journal / "events.jsonl").read_text().splitlines():
                    for j in json.loads(line).get("jobs", []):
                        if j[3] == 2:  # completed
                            ended.add(j[0])
                return mark, ended
        time.sleep(0.2)
    raise AssertionError(f"no busy, frozen and starting worker within {STATE_TIMEOUT_S} s; last: {seen}")


def _kill_and_check(proc: subprocess.Popen[bytes], mark: str) -> None:
    assert _run_processes(mark), "the run has processes before the kill"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + GONE_TIMEOUT_S
    while _run_processes(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _run_processes(mark) == {}, "processes of the killed run are left"


def _recover(out: Path) -> dict[str, Any]:
    rc = subprocess.run(
        [sys.executable, "-m", "simserve", "recover", str(out)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rc.returncode == 0, rc.stderr
    assert "recovered" in rc.stdout
    assert not list(out.parent.glob(f".{out.name}.*.partial")), "the crashed run's private directory is gone"
    return read_run(out)


@pytest.mark.timeout(240)
def test_sigkill_of_live_leaves_no_process_and_a_recoverable_run(tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text("arrival_s,service_s\n0.0,300\n0.0,4\n1.0,0.3\n")  # A, B, C
    sc = _scenario(tmp_path, tmp_path / "starts", trace)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "simserve", "live", str(sc), "--handler", str(HANDLER), "--out", str(out), "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        mark, ended = _wait_for_busy_frozen_starting(proc, out)
        _kill_and_check(proc, mark)
    finally:
        if proc.poll() is None:
            proc.kill()
    run = read_run(out) if (out / "summary.json").exists() else None
    assert run is None, "nothing was written in place by the killed run"
    run = _recover(out)
    jobs, summary = run["jobs"], run["summary"]
    assert ended == {1, 2}  # B and C
    assert set(jobs.loc[jobs["status"].astype(str) == "completed", "job_id"]) == ended
    assert jobs.loc[jobs["job_id"] == 0, "status"].astype(str).tolist() == ["in_progress"]  # A, in flight
    inc = summary["incomplete"]
    assert inc["jobs_in_flight"] == 1 and inc["until_s"] > jobs["end_s"].max()
    workers = run["workers"]
    # every worker's intervals end at the journal's last checkpoint, billed up to it
    assert np.allclose(workers.groupby("worker_id")["end_s"].max(), inc["until_s"], atol=1e-6)
    assert set(workers["state"].astype(str)) >= {"initializing", "running", "idle"}
    assert (out / "trace.csv").is_file() and (out / "logs").is_dir()
    _downstream_commands_take(out, sc, tmp_path)


def _downstream_commands_take(run: Path, scenario: Path, tmp: Path) -> None:
    """``report``, ``compare``, ``calibrate`` and ``run --replay`` read a recovered run as any other, and say it
    is incomplete."""
    from simserve.cli import app

    runner = CliRunner()
    invoked = {
        "report": ["report", str(run), "--out", str(tmp / "report.html")],
        "compare": ["compare", str(run), str(run)],
        "calibrate": ["calibrate", str(run), "--scenario", str(scenario), "--out", str(tmp / "calibrated.yaml")],
        "replay": ["run", str(scenario), "--replay", str(run), "--out", str(tmp / "replayed"), "-q"],
    }
    results = {name: runner.invoke(app, args) for name, args in invoked.items()}
    for name, res in results.items():
        assert res.exit_code == 0, (name, res.output, res.exception)
    assert "incomplete: this run" in (tmp / "report.html").read_text()  # the warnings box
    for name in ("compare", "calibrate"):  # rich wraps lines at the terminal's width
        assert "is incomplete (its executor died" in " ".join(results[name].output.split()), name
    assert read_run(tmp / "replayed")["summary"]["requests"]["arrived"] == 3


def _post(base: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 (the server's line)
        f"{base}/run",
        data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer k", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - http://127.0.0.1 (the server's line)
        return json.loads(r.read())  # type: ignore[no-any-return]


@pytest.mark.timeout(240)
def test_sigkill_of_serve_leaves_no_process_and_a_recoverable_run(tmp_path: Path) -> None:
    sc = _scenario(tmp_path, tmp_path / "starts", None)
    out = tmp_path / "run"
    log = tmp_path / "serve.log"
    cmd = [sys.executable, "-m", "simserve", "serve", str(sc), "--handler", str(HANDLER), "--port", "0"]
    cmd += ["--out", str(out), "--api-key", "k"]
    with log.open("wb") as f:
        proc = subprocess.Popen(
            cmd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
    try:
        base = ""
        deadline = time.monotonic() + 60
        while not base and time.monotonic() < deadline:
            for line in log.read_text().splitlines():
                if line.startswith("endpoint "):
                    base = line.split()[1]
            time.sleep(0.1)
        assert base, log.read_text()
        a = _post(base, {"input": {"sleep_s": 300}})["id"]
        b = _post(base, {"input": {"sleep_s": 4}})["id"]
        time.sleep(1.0)
        c = _post(base, {"input": {"sleep_s": 0.3}})["id"]
        mark, ended = _wait_for_busy_frozen_starting(proc, out)
        _kill_and_check(proc, mark)
    finally:
        if proc.poll() is None:
            proc.kill()
    run = _recover(out)
    jobs, summary = run["jobs"], run["summary"]
    assert ended == {1, 2}  # b and c, in the order they were sent
    assert set(jobs.loc[jobs["status"].astype(str) == "completed", "job_id"]) == ended
    assert summary["incomplete"]["jobs_in_flight"] == 1
    assert len({a, b, c}) == 3
    # the recorded traffic drives the simulator: the trace scenario serve writes, from the recovered run
    assert (out / "trace.csv").is_file() and (out / "scenario.trace.yaml").is_file()
    sim = [str(out / "scenario.trace.yaml"), "--out", str(tmp_path / "sim"), "--no-plots", "-q", "--set", "horizon=60"]
    rc = subprocess.run(
        [sys.executable, "-m", "simserve", "run", *sim],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rc.returncode == 0, rc.stderr
