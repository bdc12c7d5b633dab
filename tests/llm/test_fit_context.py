"""Calibration fits the engine's context term (issue #24): a step that pays ``per_kv_token`` for every
token its decodes attend to, as the catalog's physics do, is recovered from chunk times when the
scenario's engine has such a term (the prior), and left out (0, nothing fitted) when it has none."""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd
import pytest

from simserve.calibrate.llm_fit import fit_engine

BASE_S, PER_SEQ_S, PREFILL, PER_KV_S = 0.02, 0.0008, 15000.0, 2e-6


def engine_with_context(n: int = 500, rate: float = 6.0, seed: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Jobs and token times of one worker whose step is base + per_seq x batch + prefill / rate +
    per_kv x (input + tokens made so far, over the decoding sequences)."""
    rng = np.random.default_rng(seed)
    arr = np.cumsum(rng.exponential(1 / rate, n))
    tin = rng.integers(20, 1500, n)
    tout = rng.geometric(1 / 30, n) + 1
    made = np.zeros(n, dtype=int)
    first, end = np.full(n, np.nan), np.full(n, np.nan)
    tokens: list[tuple[int, float]] = []
    waiting: deque[int] = deque()
    batch: list[int] = []
    t, nxt = 0.0, 0
    while nxt < n or waiting or batch:
        if not batch and not waiting:
            t = max(t, arr[nxt])
        while nxt < n and arr[nxt] <= t:
            waiting.append(nxt)
            nxt += 1
        prefill = 0
        while waiting and len(batch) < 16:
            j = waiting.popleft()
            batch.append(j)
            prefill += tin[j]
        context = sum(tin[j] + made[j] for j in batch if made[j] > 0)
        t += BASE_S + PER_SEQ_S * len(batch) + prefill / PREFILL + PER_KV_S * context
        for j in batch:
            made[j] += 1
            tokens.append((j, t + rng.uniform(0, 2e-4)))
            if made[j] == 1:
                first[j] = tokens[-1][1]
            if made[j] == tout[j]:
                end[j] = tokens[-1][1]
        batch = [j for j in batch if made[j] < tout[j]]
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


def test_the_context_term_is_fitted_when_the_engine_has_one() -> None:
    jobs, tt = engine_with_context()
    f = fit_engine(jobs, tt, prior=(0.01, 0.001, 1 / 10000, 1e-6))
    assert f is not None and f.method == "steps"
    assert f.per_kv_token_s == pytest.approx(PER_KV_S, rel=0.03)
    assert f.base_s == pytest.approx(BASE_S, rel=0.03)
    assert f.per_sequence_s == pytest.approx(PER_SEQ_S, rel=0.05)
    assert f.prefill_tokens_per_s == pytest.approx(PREFILL, rel=0.03)
    assert "per context token" in f.describe()
    # without the term the same steps leave a large residual and push the rest off
    g = fit_engine(jobs, tt, prior=(0.01, 0.001, 1 / 10000))
    assert g is not None and g.per_kv_token_s == 0.0
    assert g.rms_s > 3 * f.rms_s
