"""Live runs of the sleep handler on real worker processes pass the simulator's invariants."""

from __future__ import annotations

import json
import time

import pytest

from simserve.billing import price_usd_per_s
from tests.live.conftest import check_invariants, run_live, scenario

pytestmark = [pytest.mark.live, pytest.mark.timeout(90)]


@pytest.mark.parametrize("scaler", [{"type": "queue_delay", "value": 2.0}, {"type": "per_request"}])
def test_sleep_handler_run_passes_invariants(scaler, out_dir):
    sc = scenario(scaler, horizon=40.0, rate=1.0)
    t0 = time.monotonic()
    ex, result = run_live(sc, "sleep.py", out_dir, speed=8.0)
    assert time.monotonic() - t0 < 60  # wall-time bound: 5 s idle, 25 s on a loaded 2-core machine
    check_invariants(sc, result)
    s = result.summary
    assert s["engine"] == "live" and s["requests"]["completed"] > 10
    # real, measured cold-start phases under the simulator's names, in order, on the first start
    w0 = result.workers[result.workers["worker_id"] == 0]
    phases = [str(p) for p in w0[w0["state"] == "initializing"]["phase"]][:4]
    assert phases == ["pull", "container_start", "model_load", "handler_init"]
    # model_load was throttled to the scenario's bandwidth: 4 MB at 8 MB/s = 0.5 scenario seconds. The lower
    # bound is the throttle (load only lengthens it); the upper is a wall-time bound: 8 scenario s is 1 s wall at
    # 8x, what a 4 MB read and its phase reports take on a loaded 2-core machine with room to spare
    load = s["live"]["cold_start_phases"]["model_load"]
    assert 0.4 < load["mean_s"] < 8.0
    # the sleep handler really slept each job's pre-drawn service time (scaled by --speed)
    done = result.jobs[result.jobs["status"] == "completed"]
    svc = ex.jobs.service_s[done["job_id"].to_numpy()]
    assert ((done["execution_s"].to_numpy() - svc) > -1e-3).all()
    for name in ("summary.json", "jobs.csv", "workers.csv", "trace.csv"):
        assert (out_dir / name).is_file()
    assert json.loads((out_dir / "summary.json").read_text())["engine"] == "live"
    assert (out_dir / "logs" / "0.log").is_file()
    # the live view's running aggregates agree with the tables: counts exactly, latency within its 1 %
    # bins, the bill up to the per-second rounding of each billing session
    view = ex.status()
    completed = s["requests"]["completed"]
    assert view["completed"] == completed
    lat = done["latency_s"].sort_values().to_numpy()
    assert lat[int(0.5 * (completed - 1))] * 0.98 <= view["latency_p50_s"] <= lat[-(-(completed - 1) // 2)] * 1.02
    rounding = len(result.workers) * price_usd_per_s("A100", "flex", 1)  # < 1 s a session, < one a row
    assert s["cost_usd"]["total"] - rounding <= view["cost_usd"] <= s["cost_usd"]["total"] + 1e-9


def test_scaled_down_worker_keeps_its_image_cache(out_dir):
    """Bursts separated by a gap longer than the idle timeout: the revived worker skips the pull."""
    sc = scenario(
        {"type": "per_request"},
        horizon=30.0,
        rate=0.3,
        max_workers=1,
        extra_workers=0,
        idle_timeout=1.0,
        flashboot=False,
    )
    _ex, result = run_live(sc, "echo.py", out_dir, speed=6.0)
    check_invariants(sc, result)
    w = result.workers
    starts = w[(w["state"] == "initializing") & (w["phase"] == "container_start")]
    pulls = w[(w["state"] == "initializing") & (w["phase"] == "pull")]
    assert len(starts) >= 2, "expected at least one scale-down and revival"
    assert len(pulls) == 1
    assert result.summary["counters"]["scale_downs"] >= 1


def test_flashboot_resumes_a_frozen_worker_on_its_host(out_dir):
    """FlashBoot on: a scaled-down worker's process is frozen (SIGSTOP), and a revival inside the
    window thaws it (``flashboot_resume``, no container start, no new process); invariants hold."""
    sc = scenario(
        {"type": "per_request"},
        horizon=30.0,
        rate=0.3,
        max_workers=1,
        extra_workers=0,
        idle_timeout=1.0,
        flashboot=True,
    )
    _ex, result = run_live(sc, "echo.py", out_dir, speed=6.0)
    check_invariants(sc, result)
    w = result.workers
    init = w[w["state"] == "initializing"]
    assert (init["phase"] == "container_start").sum() == 1  # the only real start
    resumes = init[init["phase"] == "flashboot_resume"]
    assert len(resumes) >= 1 and result.summary["counters"]["flashboot_resumes"] == len(resumes)
    # a thaw, not a boot (the one container_start above proves no process started); wall-time bound: 3 scenario s
    # is 0.5 s wall at 6x, far above a SIGCONT and one loop turn even on a loaded 2-core machine
    assert (resumes["end_s"] - resumes["start_s"]).max() < 3.0
    assert not resumes["billed"].eq(False).any()  # seed preset: initializing is billed
    # the jobs that woke it were served as cold starts by the same worker 0
    done = result.jobs[result.jobs["status"] == "completed"]
    assert set(done["worker_id"]) == {0}
