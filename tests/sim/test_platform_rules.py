"""The platform rules of #23 in the simulator, as exact worker traces on tiny scenarios: FlashBoot hits and
misses (a snapshot per host, lost when the host's GPUs are taken; a miss probability), a refresh after a
job, low-priority jobs. Simulated time only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import simserve

A, B = "initializing", "running"


def scenario(tmp_path: Path, arrivals: str, *, tenants: str | None = None, **over: Any) -> simserve.Scenario:
    """One 1-GPU host, max 1 worker: a 1 s pull, 2 s container start, 0.5 s init, 1 s FlashBoot resume,
    1 s jobs, 5 s idle timeout."""
    (tmp_path / "trace.csv").write_text("arrival_s,service_s\n" + arrivals)
    pool: dict[str, Any] = {"gpu": "H100", "count": 1, "gpus_per_host": 1, "disk": "10GB"}
    if tenants is not None:
        (tmp_path / "tenants.csv").write_text("time_s,utilization\n" + tenants)
        pool["other_tenants"] = "tenants.csv"
    return simserve.load_scenario(
        {
            "name": "rules",
            "horizon": 100,
            "base_dir": str(tmp_path),
            "endpoint": {
                "gpu": ["H100"],
                "max_workers": 1,
                "extra_workers": 0,
                "idle_timeout": "5s",
                "scaler": {"type": "queue_delay", "value": "4s"},
            },
            "cold_start": {
                "image_size": "1GB",
                "registry_bandwidth": "1GB/s",
                "container_start": "2s",
                "model": {"placement": "none"},
                "handler_init": "0.5s",
                "flashboot_resume": "1s",
            },
            "hosts": [pool],
            "workload": {"arrivals": {"type": "trace", "path": "trace.csv"}, "service": "1s"},
        },
        overrides=over,
    )


def trace(result: Any) -> list[tuple[int, str, str, float, float]]:
    w = result.workers
    return [
        (int(r.worker_id), str(r.state), str(r.phase), float(r.start_s), float(r.end_s))
        for r in w.itertuples()
        if r.start_s < 40
    ]


FIRST = [
    (0, A, "pull", 10.0, 11.0),
    (0, A, "container_start", 11.0, 13.0),
    (0, A, "handler_init", 13.0, 13.5),
    (0, B, "busy", 13.5, 14.5),
    (0, B, "warm", 14.5, 19.5),
    (0, "idle", "", 19.5, 30.0),
]


def test_a_restart_on_the_same_host_inside_the_window_resumes(tmp_path: Path) -> None:
    r = simserve.simulate(scenario(tmp_path, "10,1\n30,1\n"))
    assert trace(r) == [
        *FIRST,
        (0, A, "flashboot_resume", 30.0, 31.0),
        (0, B, "busy", 31.0, 32.0),
        (0, B, "warm", 32.0, 37.0),
        (0, "idle", "", 37.0, 100.0),
    ]
    c = r.summary["counters"]
    assert (c["flashboot_resumes"], c["flashboot_misses"], c["cold_starts"]) == (1, 0, 1)


def test_the_snapshot_is_lost_when_other_tenants_take_the_hosts_gpu(tmp_path: Path) -> None:
    r = simserve.simulate(scenario(tmp_path, "10,1\n30,1\n", tenants="0,0\n22,1\n25,0\n"))
    assert trace(r) == [
        *FIRST,
        (0, A, "container_start", 30.0, 32.0),  # a miss: cold, but the image is still cached (no pull)
        (0, A, "handler_init", 32.0, 32.5),
        (0, B, "busy", 32.5, 33.5),
        (0, B, "warm", 33.5, 38.5),
        (0, "idle", "", 38.5, 100.0),
    ]
    c = r.summary["counters"]
    assert (c["flashboot_resumes"], c["flashboot_misses"], c["cold_starts"]) == (0, 1, 2)


def test_tenants_who_leave_the_gpu_alone_keep_the_snapshot(tmp_path: Path) -> None:
    r = simserve.simulate(scenario(tmp_path, "10,1\n30,1\n", tenants="0,0\n22,0\n"))
    assert r.summary["counters"]["flashboot_resumes"] == 1 and r.summary["counters"]["flashboot_misses"] == 0


def test_miss_probability_one_makes_every_eligible_resume_cold(tmp_path: Path) -> None:
    r = simserve.simulate(scenario(tmp_path, "10,1\n30,1\n50,1\n70,1\n", **{"cold_start.flashboot_miss_prob": 1}))
    phases = set(r.workers["phase"].astype(str))
    assert "flashboot_resume" not in phases
    c = r.summary["counters"]
    assert (c["flashboot_resumes"], c["flashboot_misses"], c["cold_starts"]) == (0, 3, 4)


def test_miss_probability_zero_draws_nothing(tmp_path: Path) -> None:
    sc = scenario(tmp_path, "10,1\n30,1\n")
    a = simserve.simulate(sc)
    b = simserve.simulate(scenario(tmp_path, "10,1\n30,1\n", **{"cold_start.flashboot_miss_prob": 0.0}))
    assert a.workers.equals(b.workers) and a.jobs.equals(b.jobs)
    assert a.summary["scenario_digest"] == b.summary["scenario_digest"]


def test_a_refresh_after_every_job_costs_a_cold_start_each_time_and_is_counted(tmp_path: Path) -> None:
    r = simserve.simulate(scenario(tmp_path, "10,1\n16,1\n", **{"workload.refresh_share": 1}))
    assert trace(r)[:7] == [
        (0, A, "pull", 10.0, 11.0),
        (0, A, "container_start", 11.0, 13.0),
        (0, A, "handler_init", 13.0, 13.5),
        (0, B, "busy", 13.5, 14.5),
        (0, A, "container_start", 14.5, 16.5),  # restarted in place: cached image, no FlashBoot
        (0, A, "handler_init", 16.5, 17.0),
        (0, B, "busy", 17.0, 18.0),  # the job that came at 16 paid the restart
    ]
    jobs = r.jobs
    assert list(jobs["cold_start"]) == [True, True]
    assert list(jobs["queue_wait_s"]) == [3.5, 1.0] and list(jobs["execution_s"]) == [1.0, 1.0]
    c = r.summary["counters"]
    assert (c["refreshes"], c["cold_starts"], c["flashboot_resumes"], c["retries"]) == (2, 3, 0, 0)


def test_low_priority_jobs_never_start_a_worker(tmp_path: Path) -> None:
    r = simserve.simulate(scenario(tmp_path, "10,1\n30,1\n", **{"workload.low_priority_share": 1}))
    assert set(r.workers["state"].astype(str)) <= {"idle"}  # no worker ever started
    assert r.summary["requests"]["completed"] == 0 and r.summary["requests"]["in_flight"] == 2


def test_low_priority_jobs_run_on_an_active_worker(tmp_path: Path) -> None:
    r = simserve.simulate(
        scenario(tmp_path, "10,1\n10.5,1\n", **{"workload.low_priority_share": 1, "endpoint.active_workers": 1})
    )
    assert r.summary["requests"]["completed"] == 2
    assert list(r.jobs["start_s"]) == [10.0, 11.0] and list(r.jobs["worker_id"]) == [0, 0]


def test_a_streamed_run_flags_the_same_jobs_as_the_run_with_tables() -> None:
    """The flags are drawn per arrival into sets keyed by the ring's slots: a slot reused by a later job
    forgets the flags of the one before, so a ring of small blocks gives the table run's records."""
    import numpy as np

    from simserve.sim.driver import SimDriver

    sc = simserve.load_scenario(
        "scenarios/quickstart.yaml",
        {
            "horizon": 4 * 3600,
            "workload.low_priority_share": 0.3,
            "workload.refresh_share": 0.3,
            "cold_start.flashboot_miss_prob": 0.3,
        },
    )
    full = SimDriver(sc, 5).run()
    jobs = full.jobs_frame()
    got: list[tuple[Any, ...]] = []
    rec = SimDriver(sc, 5, sink=lambda first, *cols: got.append((first, *cols)), block=64).run()
    assert len(got) > 8  # the ring of 4 blocks was reused
    for i, name in enumerate(("arrival_s", "start_s", "end_s")):
        assert np.array_equal(np.concatenate([g[i + 1] for g in got]), jobs[name].to_numpy(), equal_nan=True)
    assert np.array_equal(np.concatenate([g[4] for g in got]), jobs["status"].cat.codes.to_numpy())
    assert np.array_equal(rec.interval_table(), full.interval_table())
    assert rec.notes == full.notes and full.notes["refreshes"] > 0
