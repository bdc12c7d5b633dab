"""Command-line usage errors: exit 2 and one line on stderr, never a traceback (whatever typer vendors).

Pinned for the typer installed (the newest) in-process, and for the oldest one ``typer>=X`` in
pyproject.toml allows: installed with ``pip --target`` into the pytest cache (skipped when pip
cannot reach a package index) and run in a fresh interpreter with it first on ``sys.path``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from simserve.cli import main

Q = "scenarios/quickstart.yaml"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["bogus"], "No such command 'bogus'"),
        (["--nope"], "No such option: --nope"),
        (["run"], "Missing argument 'scenario'"),
        (["run", Q, "--seed", "abc"], "'--seed'"),
        (["run", Q, "--seed", "-1"], "'--seed'"),
        (["run", Q, "--replications", "0"], "'--replications'"),
        (["live", Q, "--speed", "0"], "'--speed'"),
        (["plan", Q, "--seed", "x"], "'--seed'"),
        (["recover", "no/such/run"], "no crashed run found"),
        (["recover", "scenarios"], "no crashed run found"),
        (["cleanup", "--engine", "rkt"], "--engine: expected auto, docker, podman or none"),
    ],
)
def test_usage_error_is_one_line_and_exit_2(args: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and says in err
    assert len(err.splitlines()) == 1
    assert "Traceback" not in err


def test_no_command_shows_the_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    cap = capsys.readouterr()
    shown = cap.out + cap.err  # typer's rich help goes to its own console
    assert "Usage" in shown and "run" in shown and "Traceback" not in shown


def test_no_subcommand_shows_the_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["images"]) == 2
    cap = capsys.readouterr()
    assert "build" in cap.out + cap.err and "Traceback" not in cap.out + cap.err


# ----------------------------------------------------------------------------- the oldest typer allowed
ROOT = Path(__file__).resolve().parents[2]

#: usage errors checked under the oldest typer pyproject.toml allows (and the click pip resolves for it)
OLDEST_CASES: list[tuple[list[str], str]] = [
    ([], "Usage"),
    (["bogus"], "No such command 'bogus'"),
    (["rnu"], "Did you mean 'run'?"),  # typer < 0.2x does not suggest: simserve.cli adds it
    (["--nope"], "--nope"),
    (["run"], "Missing argument"),
    (["run", Q, "--seed", "abc"], "'--seed'"),
    (["run", Q, "--replications", "0"], "'--replications'"),
    (["plan", Q, "--seed", "x"], "'--seed'"),
]

#: run in a fresh interpreter with the old typer first on sys.path: each case's exit code and output
PROBE = """
import contextlib, io, json, sys, traceback
sys.path.insert(0, sys.argv[1])
import click, typer
from simserve.cli import main
results = []
for args in json.loads(sys.argv[2]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(args)
        except BaseException:
            rc, err = None, io.StringIO(traceback.format_exc())
    results.append({"args": args, "rc": rc, "out": out.getvalue(), "err": err.getvalue()})
print(json.dumps({"typer": typer.__version__, "typer_file": typer.__file__, "results": results}))
"""


def _oldest_typer() -> str:
    """The version in pyproject.toml's ``typer>=X``."""
    found = re.search(r'"typer>=([0-9][0-9.]*)"', (ROOT / "pyproject.toml").read_text())
    assert found, "pyproject.toml pins typer with typer>=X"
    return found.group(1)


@pytest.fixture(scope="session")
def oldest_typer(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """(version, a directory holding it and its dependencies), installed once with ``pip --target``
    and kept in the pytest cache; skips when pip cannot install it (no package index)."""
    version = _oldest_typer()
    cache = getattr(request.config, "cache", None)
    root = cache.mkdir("simserve-oldest-typer") if cache is not None else tmp_path_factory.mktemp("typer")
    target = root / f"typer-{version}"
    if (target / ".complete").is_file():
        return version, target
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".staging-"))
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"]
    try:
        proc = subprocess.run(
            [*cmd, "--target", str(staging), f"typer=={version}"],
            check=False,
            capture_output=True,
            text=True,
            timeout=240,  # a package index too slow or too loaded to answer in 240 s skips, never fails
        )
    except subprocess.TimeoutExpired:
        shutil.rmtree(staging, ignore_errors=True)
        pytest.skip(f"pip install typer=={version}: no answer from the package index in 240 s")
    if proc.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("WARNING")]
        pytest.skip(f"pip cannot install typer=={version} (no package index?): {(lines or ['?'])[-1][:200]}")
    (staging / ".complete").touch()
    try:
        staging.rename(target)
    except OSError:  # another session installed it meanwhile
        shutil.rmtree(staging, ignore_errors=True)
    return version, target


def test_usage_errors_under_the_oldest_typer_allowed(oldest_typer: tuple[str, Path]) -> None:
    """The same exit-2 one-line contract with ``typer==X`` of ``typer>=X`` (and the click pip picks for it)."""
    version, target = oldest_typer
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(target), json.dumps([args for args, _ in OLDEST_CASES])],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,  # bound holds under load: 120 s for a probe of 2 s idle
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["typer"] == version and report["typer_file"].startswith(str(target)), report["typer_file"]
    for (args, says), got in zip(OLDEST_CASES, report["results"], strict=True):
        shown = got["out"] + got["err"]
        assert got["rc"] == 2 and "Traceback" not in shown, (args, got)
        assert says in shown, (args, got)
        if args:  # a usage error: one line on stderr
            err = got["err"].strip()
            assert err.startswith("error: ") and len(err.splitlines()) == 1, (args, err)
