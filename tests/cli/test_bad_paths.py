"""Output paths and run directories: a bad one is one line naming it and exit 2, before any work.

Every command that writes checks ``--out`` (or its default) up front: a file where a directory
goes, a path under a file, a directory it cannot write. Every command that reads a run
directory (``run --replay``, ``compare``, ``report``, ``calibrate``) checks it with
``simserve.results.outputs.read_run``: missing, not a directory, a file missing, summary.json not a JSON
object with the summary's sections, a CSV empty, with the wrong header or a bad cell. A write
that fails anyway (disk full, a directory in the way) is one line with the file, and leaves no
temporary file and no summary.json (a directory with one holds a whole run).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from simserve.cli import main

TINY = (
    "name: tiny\nseed: 1\nhorizon: 60s\nendpoint: {gpu: H100, max_workers: 2, idle_timeout: 5s}\n"
    "workload:\n  arrivals: {type: poisson, rate: 0.5/s}\n  service: 1s\n"
)
JOB_HEADER = "job_id,arrival_s,start_s,end_s,status,worker_id,cold_start,queue_wait_s,execution_s,latency_s\n"
JOB_ROW = "0,1,1,2,completed,0,True,0,1,1\n"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(scenario file, a good run directory of it): one 60 s simulation for the module."""
    from simserve.api import simulate
    from simserve.results.outputs import write_run

    root = tmp_path_factory.mktemp("tiny")
    scenario = root / "tiny.yaml"
    scenario.write_text(TINY)
    return scenario, write_run(root / "run", simulate(str(scenario)))


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


# ----------------------------------------------------------------------------- output paths
#: commands that write, as (argv builder given (scenario, run dir, out path), what the out path must be)
WRITERS: dict[str, tuple[Callable[[Path, Path, Path], list[str]], str]] = {
    "run": (lambda sc, run, out: ["run", str(sc), "--out", str(out), "-q", "--no-plots"], "a writable directory"),
    "run -r 3": (lambda sc, run, out: ["run", str(sc), "-r", "3", "--out", str(out), "-q"], "a writable directory"),
    "plan": (lambda sc, run, out: ["plan", str(sc), "--out", str(out), "-q"], "a writable directory"),
    "compare": (lambda sc, run, out: ["compare", str(run), str(run), "--out", str(out)], "a writable directory"),
    "live": (
        lambda sc, run, out: ["live", str(sc), "--handler", "examples/handlers/echo.py", "--out", str(out), "-q"],
        "a writable directory",
    ),
    "live simulated": (
        lambda sc, run, out: ["live", str(sc), "--runtime", "simulated", "--out", str(out), "-q"],
        "a writable directory",
    ),
    "report": (
        lambda sc, run, out: ["report", str(run), "--no-break-even", "--out", str(out / "r.html")],
        "a file path in a writable directory",
    ),
    "calibrate": (
        lambda sc, run, out: ["calibrate", str(run), "-s", str(sc), "--out", str(out / "c.yaml")],
        "a file path in a writable directory",
    ),
}


@pytest.mark.parametrize("command", WRITERS)
@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_out_that_is_or_is_under_a_file(
    command: str, where: str, tiny: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build, expected = WRITERS[command]
    blocker = tmp_path / "afile"
    blocker.write_text("keep me\n")
    out = blocker if where == "a file" else blocker / "sub"
    if command in ("report", "calibrate") and where == "a file":
        out = tmp_path  # their --out is a file: a directory in its place is the mistake
        (tmp_path / "r.html").mkdir()
        (tmp_path / "c.yaml").mkdir()
    assert main(build(*tiny, out)) == 2
    err = _one_error_line(capsys)
    assert err.startswith("error: --out ") and f"expected {expected}" in err, err
    assert "is a file" in err or "is a directory" in err, err
    assert blocker.read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["afile", *(["r.html", "c.yaml"] if out == tmp_path else [])]
    ), "nothing written"


def _read_only_dir(tmp_path: Path) -> Path:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    return ro


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere")
@pytest.mark.parametrize("command", WRITERS)
def test_out_in_a_read_only_directory(
    command: str, tiny: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ro = _read_only_dir(tmp_path)
    try:
        assert main(WRITERS[command][0](*tiny, ro / "out")) == 2
        err = _one_error_line(capsys)
        assert err.startswith("error: --out ") and "permission denied" in err, err
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o700)


def _deny_writes(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    """``os.access`` says ``directory`` is not writable (what it says for a 0o500 directory to a non-root)."""
    real = os.access

    def access(path: str | os.PathLike[str], mode: int, **kwargs: object) -> bool:
        return not (Path(path) == directory and mode & os.W_OK) and real(path, mode)

    monkeypatch.setattr(os, "access", access)


def test_unwritable_out_message(
    tiny: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The permission check's message, also where the tests run as root (which may write anywhere)."""
    ro = _read_only_dir(tmp_path)
    _deny_writes(monkeypatch, ro)
    scenario, run = tiny
    assert main(["run", str(scenario), "--out", str(ro / "out"), "-q"]) == 2
    assert _one_error_line(capsys) == (
        f"error: --out {ro / 'out'}: {ro} is not writable (permission denied); expected a writable directory"
    )
    assert main(["compare", str(run), str(run), "--out", str(ro)]) == 2
    assert _one_error_line(capsys).endswith(f"--out {ro}: permission denied; expected a writable directory")
    ro.chmod(0o700)


def test_report_into_an_unwritable_run_directory(
    tiny: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = shutil.copytree(tiny[1], tmp_path / "run")
    _deny_writes(monkeypatch, run)
    assert main(["report", str(run), "--no-break-even"]) == 2
    assert "run directory" in _one_error_line(capsys) and not (run / "report.html").exists()


def test_a_write_that_fails_anyway_is_one_line_and_leaves_no_half_run(
    tiny: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    (out / "summary.json").mkdir(parents=True)  # the last file's name is taken by a directory
    assert main(["run", str(tiny[0]), "--out", str(out), "-q", "--no-plots"]) == 2
    err = _one_error_line(capsys)
    assert "summary.json" in err and "Is a directory" in err, err
    assert (out / "summary.json").is_dir() and not list(out.glob("*.tmp")) and not list(out.glob(".*"))
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # the staged run directory is removed
    assert main(["compare", str(out), str(out)]) == 2  # without summary.json it is not a run
    assert "not a run directory (no summary.json)" in _one_error_line(capsys)


# ----------------------------------------------------------------------------- run directories
#: (name, file to replace or "" for the directory itself, its new bytes or None to delete it, message)
BROKEN: list[tuple[str, str, bytes | None, str]] = [
    ("missing", "", None, "no such directory; expected a run directory with summary.json"),
    ("a file", "", b"x", "not a directory; expected a run directory"),
    ("no summary", "summary.json", None, "not a run directory (no summary.json)"),
    ("no jobs", "jobs.csv", None, "not a run directory (no jobs.csv)"),
    ("no workers", "workers.csv", None, "not a run directory (no workers.csv)"),
    ("summary not JSON", "summary.json", b"{oops", "summary.json: line 1, column 2: expected JSON"),
    ("summary empty", "summary.json", b"", "summary.json: line 1, column 1: expected JSON"),
    ("summary a list", "summary.json", b"[1, 2]", "summary.json: expected a JSON object"),
    ("summary not UTF-8", "summary.json", b"\xff{}", "summary.json: expected UTF-8 JSON"),
    ("summary keys", "summary.json", b'{"requests": {}}', "summary.json: latency_s: expected an object"),
    ("jobs empty", "jobs.csv", b"", "jobs.csv: the file is empty; expected a CSV header with columns job_id"),
    ("jobs header", "jobs.csv", b"a,b\n1,2\n", "jobs.csv: line 1: expected a CSV header with columns job_id"),
    ("jobs number", "jobs.csv", (JOB_HEADER + "0,abc,,,rejected,,False,,,\n").encode(), "line 2, column arrival_s"),
    ("jobs status", "jobs.csv", (JOB_HEADER + JOB_ROW + "\n1,2,,,bogus,,False,,,\n").encode(), "line 4, column status"),
    ("jobs bool", "jobs.csv", (JOB_HEADER + JOB_ROW.replace("True", "maybe")).encode(), "column cold_start"),
    ("jobs id", "jobs.csv", (JOB_HEADER + "0.5" + JOB_ROW[1:]).encode(), "column job_id: expected an integer"),
    ("jobs inf", "jobs.csv", (JOB_HEADER + JOB_ROW.replace(",1,1\n", ",inf,1\n")).encode(), "column execution_s"),
    (
        "jobs long row",
        "jobs.csv",
        (JOB_HEADER + JOB_ROW.strip() + ",7\n").encode(),
        "jobs.csv: line 2: expected as many",
    ),
    ("jobs ragged", "jobs.csv", (JOB_HEADER + JOB_ROW + JOB_ROW.strip() + ",7\n").encode(), "expected a CSV table"),
    ("jobs not UTF-8", "jobs.csv", JOB_HEADER.encode() + b"\xe9\n", "jobs.csv: expected UTF-8 text"),
    ("workers header", "workers.csv", b"worker_id\n0\n", "workers.csv: line 1: expected a CSV header"),
    ("resolved YAML", "scenario.resolved.yaml", b"a: [", "scenario.resolved.yaml: line 1: expected YAML"),
    ("trace.csv", "trace.csv", b"arrival_s,service_s\nx,1\n", "trace.csv: line 2, column arrival_s"),
]
#: commands that read a run directory (``DIR``: the broken one); trace.csv is read by replay and calibrate only
READERS: dict[str, Callable[[Path, Path, Path], list[str]]] = {
    "run --replay": lambda sc, good, bad: ["run", str(sc), "--replay", str(bad), "--out", str(bad.parent / "o")],
    "compare": lambda sc, good, bad: ["compare", str(good), str(bad)],
    "report": lambda sc, good, bad: ["report", str(bad), "--no-break-even"],
    "calibrate": lambda sc, good, bad: ["calibrate", str(bad), "-s", str(sc), "--out", str(bad.parent / "c.yaml")],
}


@pytest.mark.parametrize(("name", "file", "content", "says"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_run_directory(
    name: str,
    file: str,
    content: bytes | None,
    says: str,
    tiny: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scenario, good = tiny
    bad = tmp_path / "bad"
    if file:
        shutil.copytree(good, bad)
        if content is None:
            (bad / file).unlink()
        else:
            (bad / file).write_bytes(content)
    elif content is not None:
        bad.write_bytes(content)
    for command, build in READERS.items():
        if file == "trace.csv" and command in ("compare", "report"):
            continue
        assert main(build(scenario, good, bad)) == 2, command
        err = _one_error_line(capsys)
        assert says in err and str(bad) in err, (command, err)
    assert not (tmp_path / "o").exists() and not (tmp_path / "c.yaml").exists(), "nothing written"
    if file:
        assert not (bad / "report.html").exists()


def test_a_run_with_no_requests_is_a_run(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    """A header-only jobs.csv is a run that saw no requests, not a broken one."""
    from simserve.results.outputs import read_run

    run = shutil.copytree(tiny[1], tmp_path / "run")
    (run / "jobs.csv").write_text(JOB_HEADER)
    assert read_run(run)["jobs"].empty
    assert main(["compare", str(tiny[1]), str(run)]) == 0
