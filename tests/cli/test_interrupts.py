"""Ctrl-C and SIGTERM end ``run`` (also with a pool of replications) and ``plan`` promptly, with exit
130 / 143, no process of theirs left, and the output directory as it was: runs are written into a
private directory beside ``--out`` and renamed into place (``simserve.results.outputs.staged_out_dir``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simserve.results.outputs import RUN_MARK, default_out_dir, staged_out_dir

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "scenarios" / "quickstart.yaml"


def _snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def _previous_run(out: Path) -> dict[str, bytes]:
    out.mkdir(parents=True)
    (out / "summary.json").write_text('{"previous": true}\n')
    (out / "jobs.csv").write_text("job_id\n0\n")
    (out / RUN_MARK).touch()
    return _snapshot(out)


#: runs ``python -m simserve ARGS`` with SIGINT and SIGTERM as a terminal gives them, whatever the test process
#: has: ignored and blocked signals are inherited across exec, and a Python started with SIGINT ignored keeps
#: ignoring it (as a shell's background job must); the pytest-xdist worker this runs in may have either set by
#: an earlier test's library. A user's Ctrl-C reaches a command started from a terminal.
LAUNCH = (
    "import os, signal, sys; "
    "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM}); "
    "signal.signal(signal.SIGINT, signal.SIG_DFL); signal.signal(signal.SIGTERM, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, '-m', 'simserve', *sys.argv[1:]])"
)


def _signal_masks(pid: int) -> str:
    """The process's blocked, ignored and caught signal masks (``/proc/PID/status``), for a failure message."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return "no /proc status"
    return ", ".join(ln.replace("\t", " ") for ln in lines if ln.startswith(("SigBlk", "SigIgn", "SigCgt")))


def _interrupt(args: list[str], sig: int, to_group: bool, tmp: Path) -> tuple[int, float, list[str]]:
    """Start ``simserve ARGS`` in its own process group, wait until its pool runs (a child process exists),
    send ``sig`` to the group (a terminal's Ctrl-C) or to the process; the exit code, the seconds it took
    to exit, and the processes of its group left after.

    Wall time, bounds that hold under load: up to 30 s for the pool to start (under 1 s idle), 0.5 s for it
    to get to work (any time will do: the signal then finds it at work or still starting), and 30 s to exit
    (the callers ask under 10 s)."""
    p = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, *args],
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},  # a hang is shown with every thread's stack (SIGABRT)
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        kids = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True, check=False).stdout
        if kids.split():
            break
        time.sleep(0.1)
    time.sleep(0.5)  # the pool's processes are at work
    t0 = time.monotonic()
    if to_group:
        os.killpg(p.pid, sig)
    else:
        p.send_signal(sig)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        masks = _signal_masks(p.pid)
        os.kill(p.pid, signal.SIGABRT)  # faulthandler writes each thread's stack to stderr
        time.sleep(2)
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        stderr = p.stderr.read() if p.stderr else ""
        pytest.fail(f"no exit 30 s after signal {sig} ({masks}); its stacks:\n{stderr[-6000:]}")
    finally:
        took = time.monotonic() - t0
        left = subprocess.run(["pgrep", "-g", str(p.pid)], capture_output=True, text=True, check=False).stdout.split()
        for pid in left:
            os.kill(int(pid), signal.SIGKILL)
    return p.returncode, took, left


@pytest.mark.timeout(90)  # above the 30 s + 0.5 s + 30 s the helper may wait
@pytest.mark.parametrize(
    ("sig", "to_group", "code"),
    [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)],
    ids=["ctrl-c", "sigterm"],
)
def test_run_with_a_pool_of_replications_stops_at_once(tmp_path: Path, sig: int, to_group: bool, code: int) -> None:
    out = tmp_path / "out"
    before = _previous_run(out)
    # 8 replications of 10 days: over a minute of work idle, so a run that finished its pool before it exits
    # fails the bound below, which holds under load: 10 s for an exit that takes 0.3-0.5 s idle (5x slower
    # on a loaded 2-core machine is 2.5 s)
    args = ["run", str(QUICK), "--set", "horizon=10d", "-r", "8", "--no-plots", "-q", "--out", str(out)]
    rc, took, left = _interrupt(args, sig, to_group, tmp_path)
    assert rc == code
    assert took < 10.0, took
    assert left == []
    assert _snapshot(out) == before  # the previous run kept, whole
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no partial directory left beside it


@pytest.mark.timeout(90)  # above the 30 s + 0.5 s + 30 s the helper may wait
def test_plan_sigterm_exits_143_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    # three configurations of 5 days (about 5 s each idle): more work than the bound, which holds under load:
    # 10 s for an exit that takes 0.3-0.5 s idle
    args = ["plan", str(QUICK), "--set", "horizon=5d", "--slo", "latency_p95<=30s"]
    args += ["--vary", "endpoint.max_workers=2,3,4", "-q", "--out", str(out)]
    rc, took, left = _interrupt(args, signal.SIGTERM, False, tmp_path)
    assert (rc, left) == (143, [])
    assert took < 10.0, took
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- staged output directories
def test_staged_dir_replaces_a_previous_run_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _previous_run(out)
    (out / "replications.csv").write_text("old\n")  # a file the new run does not write
    with staged_out_dir(out) as work:
        assert work.parent == tmp_path and work.name.startswith(".out.") and not out.samefile(work)
        (work / "summary.json").write_text("{}\n")
    assert sorted(p.name for p in out.iterdir()) == sorted([RUN_MARK, "summary.json"])
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_staged_dir_moves_into_a_directory_of_other_files_and_keeps_them(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    with staged_out_dir(tmp_path) as work:
        (work / "summary.json").write_text("{}\n")
        (work / "logs").mkdir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs", "notes.txt", "summary.json"]
    assert (tmp_path / "notes.txt").read_text() == "mine\n"  # never replaced whole: no RUN_MARK either


def test_staged_dir_left_as_it_was_on_an_error_and_carry_comes_back(tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = _previous_run(out)
    (out / "store").mkdir()
    (out / "store" / "image.bin").write_bytes(b"x")
    before = _snapshot(out)
    with pytest.raises(KeyboardInterrupt), staged_out_dir(out, carry=("store",)) as work:
        assert (work / "store" / "image.bin").read_bytes() == b"x"  # the cache moved in
        (work / "summary.json").write_text("{}\n")
        raise KeyboardInterrupt
    assert _snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_default_out_dir_from_a_name_stays_under_its_base() -> None:
    for name, want in [("../../x", "x"), ("/etc/passwd", "etc_passwd"), ("..", "run"), ("a b/c", "a_b_c")]:
        assert default_out_dir("runs", name) == Path("runs") / want
    assert default_out_dir("runs", "q", "live-") == Path("runs/live-q")
