"""Calibrating an LLM engine: the step fit from token times, the jobs-table fit, writing the fitted
figures into the scenario, replaying an LLM run with its token counts, and TTFT/TPOT in compare.

Fast (no worker processes): token times come from a small reference engine written here (the
rule of ``simserve.endpoint.engine`` for one worker), jobs tables from the simulator.
"""

from __future__ import annotations

import copy
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from simserve.api import simulate
from simserve.calibrate import calibrate_run, load_replay, replay_jobs, write_calibrated
from simserve.calibrate.llm_fit import fit_engine
from simserve.compare import compare_runs
from simserve.compare.table import HEADLINE
from simserve.results.outputs import TOKEN_TIMES_FILE, write_frame, write_run

BASE_S, PER_SEQ_S, PREFILL = 0.03, 0.0015, 12000.0

LLM: dict[str, Any] = {
    "name": "llm-cal",
    "seed": 5,
    "horizon": 120.0,
    "endpoint": {"gpu": ["A100"], "active_workers": 1, "max_workers": 1, "extra_workers": 0},
    "cold_start": {
        "image_size": "1MB",
        "container_start": 0.5,
        "handler_init": 0.1,
        "model": {"size": "1MB", "placement": "cached"},
    },
    "workload": {
        "arrivals": {"type": "poisson", "rate": 4},
        "tokens": {"input": {"dist": "lognormal", "mean": 300, "cv": 0.8}, "output": {"dist": "geometric", "mean": 20}},
        "service": {
            "type": "llm",
            "prefill_tokens_per_s": PREFILL,
            "decode_step": {"base": BASE_S, "per_sequence": PER_SEQ_S},
            "max_batch": 12,
        },
    },
}


def reference_engine(
    n: int = 400, rate: float = 5.0, max_batch: int = 12, jitter_s: float = 2e-4, seed: int = 1
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A jobs table and token times of one worker running the step rule, each token late by up to
    ``jitter_s`` (a host's wake-up)."""
    rng = np.random.default_rng(seed)
    arr = np.cumsum(rng.exponential(1 / rate, n))
    tin = rng.integers(20, 800, n)
    tout = rng.geometric(1 / 20, n)
    tokens: list[tuple[int, float]] = []
    first, end = np.full(n, np.nan), np.full(n, np.nan)
    waiting: deque[int] = deque()
    batch: list[int] = []
    left = tout.copy()
    t, nxt = 0.0, 0
    while nxt < n or waiting or batch:
        if not batch and not waiting:
            t = max(t, arr[nxt])
        while nxt < n and arr[nxt] <= t:
            waiting.append(nxt)
            nxt += 1
        prefill = 0
        while waiting and len(batch) < max_batch:
            j = waiting.popleft()
            batch.append(j)
            prefill += tin[j]
        t += BASE_S + PER_SEQ_S * len(batch) + prefill / PREFILL
        for j in batch:
            at = t + rng.uniform(0, jitter_s)
            tokens.append((j, at))
            if np.isnan(first[j]):
                first[j] = at
            left[j] -= 1
            if left[j] == 0:
                end[j] = at
        batch = [j for j in batch if left[j] > 0]
    jobs = pd.DataFrame(
        {
            "job_id": np.arange(n),
            "arrival_s": arr,
            "start_s": arr,
            "end_s": end,
            "status": "completed",
            "worker_id": 0,
            "input_tokens": tin,
            "output_tokens": tout,
            "ttft_s": first - arr,
        }
    )
    return jobs, pd.DataFrame(tokens, columns=["job_id", "t_s"])


def test_step_fit_recovers_the_rule_from_token_times() -> None:
    jobs, tt = reference_engine()
    f = fit_engine(jobs, tt)
    assert f is not None and f.method == "steps" and f.n > 1000
    assert f.base_s == pytest.approx(BASE_S, rel=0.02)
    assert f.per_sequence_s == pytest.approx(PER_SEQ_S, rel=0.02)
    assert f.prefill_tokens_per_s == pytest.approx(PREFILL, rel=0.02)
    assert f.rms_s < 5e-4


def test_step_fit_leaves_out_steps_of_jobs_without_all_their_tokens() -> None:
    jobs, tt = reference_engine()
    gone = jobs["job_id"].isin(range(100, 140))
    jobs.loc[gone, "status"] = "failed"  # their tokens may be partial: steps they were in are not used
    full = fit_engine(jobs.assign(status="completed"), tt)
    part = fit_engine(jobs, tt[~tt["job_id"].isin(range(100, 140))])
    assert full is not None and part is not None and part.n < full.n
    assert part.base_s == pytest.approx(BASE_S, rel=0.02)
    assert part.per_sequence_s == pytest.approx(PER_SEQ_S, rel=0.03)


def test_jobs_fit_without_token_times() -> None:
    jobs = simulate(LLM).jobs
    f = fit_engine(jobs)
    assert f is not None and f.method == "jobs"
    assert f.base_s == pytest.approx(BASE_S, rel=0.05)
    assert f.per_sequence_s == pytest.approx(PER_SEQ_S, rel=0.25)
    assert f.prefill_tokens_per_s == pytest.approx(PREFILL, rel=0.35)


def test_a_figure_the_run_cannot_identify_keeps_the_prior() -> None:
    jobs, tt = reference_engine(max_batch=1, rate=1.0)  # always one sequence: per_sequence is hidden in base
    f = fit_engine(jobs, tt, prior=(0.0, PER_SEQ_S, 1 / PREFILL))
    assert f is not None and f.kept == ("per_sequence_s",)
    assert f.per_sequence_s == PER_SEQ_S
    assert f.base_s == pytest.approx(BASE_S, rel=0.02)
    assert "kept from the scenario: per_sequence_s" in f.source()


def _llm_run(tmp_path: Path, data: dict[str, Any], token_times: bool = True) -> Path:
    out = tmp_path / "run"
    result = simulate(data)
    write_run(out, result)
    if token_times:  # a "live" run: the reference engine's jobs and token times (on the run's one worker)
        jobs, tt = reference_engine()
        write_frame(out / "jobs.csv", _as_jobs_csv(jobs))
        write_frame(out / TOKEN_TIMES_FILE, tt)
    return out


def _as_jobs_csv(jobs: pd.DataFrame) -> pd.DataFrame:
    j = jobs.copy()
    j["cold_start"] = False
    j["queue_wait_s"] = j["start_s"] - j["arrival_s"]
    j["execution_s"] = j["end_s"] - j["start_s"]
    j["latency_s"] = j["end_s"] - j["arrival_s"]
    j["tpot_s"] = (j["end_s"] - j["arrival_s"] - j["ttft_s"]) / np.maximum(j["output_tokens"] - 1, 1)
    cols = ["job_id", "arrival_s", "start_s", "end_s", "status", "worker_id", "cold_start", "queue_wait_s"]
    return j[[*cols, "execution_s", "latency_s", "input_tokens", "output_tokens", "ttft_s", "tpot_s"]]


def test_calibrate_writes_the_fitted_engine_into_the_runs_gpu_row(tmp_path: Path) -> None:
    data = copy.deepcopy(LLM)
    svc = data["workload"]["service"]
    svc["decode_step"] = {"A100": {"base": 0.05, "per_sequence": 0.001}, "H100": {"base": 0.01, "per_sequence": 0.0005}}
    svc["prefill_tokens_per_s"] = {"a100": 5000, "H100": 40000}
    run = _llm_run(tmp_path, data)
    cal = calibrate_run(run, data)
    assert cal.engine is not None and cal.engine.method == "steps"
    sc = write_calibrated(cal, tmp_path / "cal.yaml")
    a100, h100 = sc.workload.llm.engine("A100"), sc.workload.llm.engine("H100")
    assert a100.base_s == pytest.approx(BASE_S, rel=0.02) and a100.prefill_tokens_per_s == pytest.approx(
        PREFILL, rel=0.02
    )
    assert (h100.base_s, h100.per_sequence_s, h100.prefill_tokens_per_s) == (0.01, 0.0005, 40000)
    written = yaml.safe_load((tmp_path / "cal.yaml").read_text())["workload"]["service"]
    assert written["type"] == "llm" and set(written["prefill_tokens_per_s"]) == {"a100", "H100"}
    assert "workload.service engine:" in (tmp_path / "cal.yaml").read_text()


def test_calibrate_an_llm_run_without_token_times_uses_its_jobs(tmp_path: Path) -> None:
    run = _llm_run(tmp_path, LLM, token_times=False)
    cal = calibrate_run(run, LLM)
    assert cal.engine is not None and cal.engine.method == "jobs"
    assert "workload.service" not in cal.fits  # an LLM service is not replaced by a duration distribution
    sc = write_calibrated(cal, tmp_path / "cal.yaml")
    assert sc.workload.llm is not None


def test_replay_of_an_llm_run_keeps_token_counts_and_reproduces_it(tmp_path: Path) -> None:
    result = simulate(LLM)
    run = tmp_path / "run"
    write_run(run, result)
    jobs = load_replay(run)
    assert jobs.input_tokens is not None and jobs.output_tokens is not None
    np.testing.assert_array_equal(jobs.output_tokens, result.jobs["output_tokens"].to_numpy())
    again = simulate(LLM, jobs=jobs)  # the same engine over the same arrivals and tokens: the same times
    np.testing.assert_allclose(again.jobs["ttft_s"], result.jobs["ttft_s"], rtol=0, atol=1e-6)  # CSV: 9 digits
    shuffled = replay_jobs(result.jobs.iloc[::-1])  # sorted back by arrival, tokens along
    np.testing.assert_array_equal(shuffled.input_tokens, result.jobs["input_tokens"].to_numpy())


def test_compare_puts_ttft_and_tpot_side_by_side(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_run(a, simulate(LLM))
    faster = copy.deepcopy(LLM)
    faster["workload"]["service"]["decode_step"]["base"] = BASE_S * 0.8
    write_run(b, simulate(faster))
    cmp = compare_runs(a, b)
    for key in ("ttft_s.p50", "ttft_s.p95", "tpot_s.p50", "tpot_s.p95", "tokens.output"):
        assert cmp.row(key).a is not None and cmp.row(key).b is not None
    assert cmp.row("tpot_s.p50").rel_error < -0.1
    assert {"ttft_s.p95", "tpot_s.p95"} <= {r.key for r in cmp.exceeding(5.0)}
    assert {"ttft_s.p50", "tpot_s.p95"} <= set(HEADLINE)
