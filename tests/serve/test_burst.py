"""A burst of concurrent requests, every job accounted for (``/health``, then ``jobs.csv`` after Ctrl-C with
exit 130), the dashboard in headless Chromium, and the recorded trace driving ``simserve plan`` and
``simserve run --replay``."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pandas as pd
import pytest
import yaml

from simserve.serve.trace import plan_horizon_s
from tests.chromium import MISSING, chromium, colour_share, screenshot
from tests.serve.conftest import ECHO, SCENARIO, simserve_cli, start_server

pytestmark = pytest.mark.live
BURST = 300


async def _burst(base: str, headers: dict[str, str], n: int) -> list[tuple[int, dict[str, Any]]]:
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=60)) as s:

        async def one(k: int) -> tuple[int, dict[str, Any]]:
            async with s.post(f"{base}/local/run", json={"input": {"k": k}}, headers=headers) as r:
                return r.status, await r.json()

        return await asyncio.gather(*(one(k) for k in range(n)))


async def _get(url: str, headers: dict[str, str]) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s, s.get(url, headers=headers) as r:
        assert r.status == 200
        return await r.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def burst_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("burst")
    srv = start_server(root / "run", "--rate-limits", "off", handler=ECHO)  # 300 at once: over /run's 200
    try:
        answers = asyncio.run(_burst(srv.base, srv.headers(), BURST))
        deadline = time.monotonic() + 60
        health = {}
        while time.monotonic() < deadline:
            health = asyncio.run(_get(f"{srv.base}/local/health", srv.headers()))
            if health["jobs"]["completed"] >= BURST:
                break
            time.sleep(0.2)
        dash = asyncio.run(_get(f"{srv.base}/local/dashboard", srv.headers()))
        shot = root / "dashboard.png"
        if chromium() is not None:
            screenshot(f"{srv.url}/#key={srv.key}", shot, root / "profile", (1100, 800), virtual_time_ms=4000)
    finally:
        rc, printed = srv.stop()
    return {
        "answers": answers,
        "health": health,
        "dash": dash,
        "rc": rc,
        "printed": printed,
        "out": srv.out,
        "shot": shot,
    }


def test_every_job_of_a_burst_is_accounted_for(burst_run: Any):
    answers = burst_run["answers"]
    assert all(status == 200 for status, _ in answers)
    ids = [a["id"] for _, a in answers]
    assert len(set(ids)) == BURST
    h = burst_run["health"]["jobs"]
    assert h["completed"] == BURST and h["inQueue"] == 0 and h["inProgress"] == 0 and h["failed"] == 0
    assert burst_run["dash"]["completed"] == BURST


def test_ctrl_c_writes_the_tables_and_exits_130(burst_run: Any):
    assert burst_run["rc"] == 130, burst_run["printed"][-2000:]
    out = burst_run["out"]
    jobs = pd.read_csv(out / "jobs.csv")
    assert len(jobs) == BURST and (jobs["status"] == "completed").all()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["requests"]["arrived"] == summary["requests"]["completed"] == BURST
    assert summary["engine"] == "live" and summary["live"]["serve"]["http"]["requests"] >= BURST
    trace = pd.read_csv(out / "trace.csv")
    assert list(trace.columns) == ["arrival_s", "service_s"] and len(trace) == BURST
    assert np.all(np.diff(trace["arrival_s"]) >= 0) and (trace["service_s"] >= 0).all()
    for name in ("workers.csv", "actions.csv", "scenario.trace.yaml", "logs"):
        assert (out / name).exists(), name


def test_the_recorded_run_drives_plan_replay_and_calibrate(burst_run: Any, tmp_path: Path):
    out = burst_run["out"]
    plan = simserve_cli(
        "plan",
        str(out / "scenario.trace.yaml"),
        "--out",
        str(tmp_path / "plan"),
        "--set",
        "horizon=120s",  # the file's hour of looped traffic is 180,000 jobs a run: too long for a test
        "-j",
        "1",
        "-q",
        timeout_s=240,
    )
    assert plan.returncode == 0, plan.stderr
    # the file's own plan section (the recorded p95 at most, nothing failed) finds an endpoint
    written = yaml.safe_load((out / "scenario.trace.yaml").read_text())
    arrivals = written["workload"]["arrivals"]
    summary = json.loads((out / "summary.json").read_text())
    assert arrivals["loop"] is True and arrivals["period"] == pytest.approx(summary["horizon_s"])
    assert written["horizon"] == pytest.approx(plan_horizon_s(summary["horizon_s"], BURST))
    assert written["plan"]["slo"][0].startswith("latency_p95<=") and written["plan"]["vary"]
    result = json.loads((tmp_path / "plan" / "plan.json").read_text())
    assert result["recommended"] is not None, result["table"][:3]
    replay = simserve_cli(
        "run", str(SCENARIO), "--replay", str(out), "--out", str(tmp_path / "re"), "-q", timeout_s=240
    )
    assert replay.returncode == 0, replay.stderr
    assert json.loads((tmp_path / "re" / "summary.json").read_text())["requests"]["arrived"] == BURST
    cal = simserve_cli(
        "calibrate", str(out), "--scenario", str(SCENARIO), "--out", str(tmp_path / "cal.yaml"), timeout_s=240
    )
    assert cal.returncode == 0 and (tmp_path / "cal.yaml").is_file(), cal.stderr


@pytest.mark.skipif(chromium() is None, reason=MISSING)
def test_dashboard_screenshot(burst_run: Any):
    from matplotlib.image import imread

    shot = burst_run["shot"]
    assert shot.is_file(), "chromium wrote no screenshot"
    img = imread(shot)[..., :3]
    gray = img.mean(axis=2)
    assert (gray < 0.97).mean() > 0.05 and gray.std() > 0.1, "page is mostly blank"
    # the workers' state badges were drawn from the data (idle grey or running green), so the key worked
    assert colour_share(img, (0x8A, 0x94, 0xA6)) + colour_share(img, (0x1F, 0x9D, 0x55)) > 0.0005
