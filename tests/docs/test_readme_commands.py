"""Every command of the README, run as written (from a directory that holds the repository's scenarios and
examples, so its outputs stay out of the checkout), with what the README says it gives."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```bash\n(.*?)```", README, flags=re.DOTALL)
SETUP = BLOCKS[0]
TOUR = BLOCKS[1:]


def _block(*words: str) -> str:
    found = [b for b in TOUR if all(w in b for w in words)]
    assert len(found) == 1, (words, found)
    return found[0]


@pytest.fixture
def here(tmp_path: Path) -> Path:
    """A directory like a fresh checkout to the commands: scenarios/, examples/ and .venv/ in it."""
    for name in ("scenarios", "examples"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    return tmp_path


def _bash(script: str, cwd: Path, timeout_s: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "120"}
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def test_the_setup_lines_are_what_ci_runs() -> None:
    lines = SETUP.strip().splitlines()
    assert lines == [
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/simserve run scenarios/quickstart.yaml",
        "bash scripts/test.sh",
    ]
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_every_tour_block_is_run_here() -> None:
    run_here = {
        _block("source .venv/bin/activate"),
        _block("simserve run scenarios/quickstart.yaml\n"),
        _block("simserve report runs/quickstart"),
        _block("simserve run", "--out runs/busier"),
        _block("simserve plan scenarios/quickstart.yaml"),
        _block("simserve live"),
        _block("simserve serve scenarios/quickstart.yaml"),
        _block("curl"),
        _block("simserve plan runs/local"),
        _block("simserve serve scenarios/llm-azure-conv.yaml"),
        _block("from openai import OpenAI"),
    }
    assert run_here == set(TOUR)


def test_run_report_and_plan(here: Path) -> None:
    script = "\n".join(
        [
            _block("source .venv/bin/activate"),
            _block("simserve run scenarios/quickstart.yaml\n"),
            _block("simserve report runs/quickstart"),
            _block("simserve run", "--out runs/busier"),
            _block("simserve plan scenarios/quickstart.yaml"),
        ]
    )
    res = _bash(script, here, 240)
    assert res.returncode == 0, res.stdout + res.stderr
    assert re.search(r"monthly bill +\$[\d,]+\.\d\d a month", res.stdout)  # the number people came for
    assert "next: simserve report runs/quickstart" in res.stdout
    assert "is set by the first cold start" in res.stderr + res.stdout
    assert (here / "runs" / "quickstart" / "report.html").is_file()
    busier = json.loads((here / "runs" / "busier" / "summary.json").read_text())
    assert (
        busier["requests"]["arrived"]
        > 3 * json.loads((here / "runs/quickstart/summary.json").read_text())["requests"]["arrived"]
    )
    assert "recommended" in res.stdout and (here / "plans" / "quickstart" / "recommended.yaml").is_file()


def test_live(here: Path) -> None:
    res = _bash(_block("source .venv/bin/activate") + _block("simserve live"), here, 180)
    assert res.returncode == 0, res.stdout + res.stderr
    summary = json.loads((here / "runs" / "live-q" / "summary.json").read_text())
    assert summary["engine"] == "live" and summary["requests"]["completed"] >= 1
    # relative paths made absolute before any worker starts (a worker runs in its handler's directory)
    assert summary["live"]["faults"] == [] and summary["live"]["cold_start_phases"]["model_load"]["n"] > 0


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _serve_then(here: Path, serve: str, client: str) -> subprocess.CompletedProcess[str]:
    """Start the README's ``serve`` command, run its ``client`` command while it runs, then Ctrl-C it (exit
    130, as the README says); the client's result."""
    assert _port_free(8000), "the README's serve commands listen on port 8000: something else holds it"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    server = subprocess.Popen(
        ["bash", "-c", "exec " + serve.strip()],
        cwd=here,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        res = _bash(client, here, 180)
        if res.returncode != 0:  # say why: the server's own lines
            server.kill()
            said = server.communicate()[0]
            pytest.fail(f"the client: exit {res.returncode}, {res.stderr}; simserve serve said:\n{said}")
        server.send_signal(signal.SIGINT)
        out, _ = server.communicate(timeout=120)
        assert server.returncode == 130, out
        return res
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()


@pytest.mark.xdist_group("readme-port-8000")
def test_serve_a_client_and_plan_from_its_traffic(here: Path) -> None:
    res = _serve_then(here, _block("simserve serve scenarios/quickstart.yaml"), _block("curl"))
    answer = json.loads(res.stdout)
    assert answer["status"] == "COMPLETED" and answer["output"] == {"echo": {"prompt": "hello"}}
    plan = _bash(_block("simserve plan runs/local"), here, 240)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "recommended" in plan.stdout


@pytest.mark.xdist_group("readme-port-8000")
def test_an_openai_client_streams_from_an_llm_scenario(here: Path) -> None:
    pytest.importorskip("openai", reason="pip install -e '.[test]' (openai)")
    res = _serve_then(here, _block("simserve serve scenarios/llm-azure-conv.yaml"), _block("from openai import OpenAI"))
    assert len(res.stdout.split()) == 64  # max_tokens placeholder words, streamed
    jobs = pd.read_csv(here / "runs" / "chat" / "jobs.csv")
    done = jobs[jobs["status"] == "completed"]
    assert len(done) == 1 and int(done["output_tokens"].iloc[0]) == 64
    assert done["ttft_s"].notna().all() and done["tpot_s"].notna().all()
    assert (here / "runs" / "chat" / "scenario.trace.yaml").is_file()
