"""The derived series behind the plots, on hand-made tables with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simserve.report.data import as_run_data, bin_mean, cold_start_episodes, cost_by_bin, step_count
from simserve.results.outputs import read_run


def test_step_count_exact():
    t, n = step_count(np.array([0.0, 1.0, 2.0]), np.array([2.0, np.nan, 3.0]), horizon_s=5.0)
    # [0,2) + [1,5) + [2,3): an end and a start at t=2 -> the end first
    assert list(t) == [0.0, 1.0, 2.0, 3.0, 5.0]
    assert list(n) == [1, 2, 2, 1, 1]


def test_bin_mean_is_time_weighted():
    t, n = np.array([0.0, 1.0, 3.0, 4.0]), np.array([2, 0, 4, 4])
    assert list(bin_mean(t, n, np.array([0.0, 2.0, 4.0]))) == [1.0, 2.0]


def test_cold_start_episodes_kinds():
    w = pd.DataFrame(
        {
            "worker_id": [0, 0, 0, 0, 0, 0, 1, 1],
            "state": [
                "initializing",
                "initializing",
                "running",
                "idle",
                "initializing",
                "running",
                "initializing",
                "running",
            ],
            "phase": ["pull", "model_load", "busy", "", "flashboot_resume", "busy", "container_start", "busy"],
            "start_s": [0.0, 10.0, 12.0, 20.0, 50.0, 51.0, 5.0, 8.0],
            "end_s": [10.0, 12.0, 20.0, 50.0, 51.0, 60.0, 8.0, 9.0],
        }
    )
    eps = cold_start_episodes(w)
    assert list(eps["kind"]) == ["full", "flashboot", "cached image"]
    assert list(eps["pull"]) == [10.0, 0.0, 0.0] and list(eps["model_load"]) == [2.0, 0.0, 0.0]
    assert list(eps["flashboot_resume"]) == [0.0, 1.0, 0.0] and list(eps["container_start"]) == [0.0, 0.0, 3.0]


def test_run_dir_and_result_give_the_same_series(quick_run_dir):
    from_dir = as_run_data(quick_run_dir)
    from_dict = as_run_data(read_run(quick_run_dir))
    assert from_dir.warmup_s == 30.0 and from_dir.horizon_s == 1200.0
    assert set(from_dir.workers["phase"]) <= {
        "",
        "pull",
        "container_start",
        "model_download",
        "model_load",
        "handler_init",
        "flashboot_resume",
        "busy",
        "warm",
    }
    edges, series = cost_by_bin(from_dict)
    assert edges[0] == 30.0 and edges[-1] == 1200.0
    total = sum(float(v.sum()) for v in series.values())
    assert total == pytest.approx(from_dir.summary["cost_usd"]["total"], rel=1e-6)
