"""Tests marked ``xdist_group`` really run on one worker under ``--dist loadgroup``.

The suite relies on it (container tests share one engine service; timing-sensitive live tests run one
after another). A pytest and pytest-xdist pair that disagree on where a node id lives ignores the mark
without a word (pytest 9.2 with xdist 3.8 did), so this runs a small suite in a fresh interpreter and
checks where its grouped tests ran.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SUITE = """
import os, pathlib, pytest

@pytest.mark.xdist_group("one")
@pytest.mark.parametrize("i", range(6))
def test_grouped(i):
    pathlib.Path(os.environ["OUT"], f"{i}").write_text(os.environ.get("PYTEST_XDIST_WORKER", "none"))
"""


def test_grouped_tests_share_one_worker(tmp_path: Path) -> None:
    (tmp_path / "test_scratch.py").write_text(SUITE)
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            "3",
            "--dist",
            "loadgroup",
            "test_scratch.py",
        ],
        check=False,
        cwd=tmp_path,
        env={**os.environ, "OUT": str(out)},
        capture_output=True,
        text=True,
        timeout=240,  # bound holds under load: about 5 s idle (three workers start)
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    workers = {p.read_text() for p in out.iterdir()}
    assert len(list(out.iterdir())) == 6
    assert len(workers) == 1 and workers != {"none"}, workers
