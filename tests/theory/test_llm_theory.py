"""The batching LLM worker (``endpoint/engine.py``) against theory and its own rules.

- Step time independent of the batch (``per_sequence: 0``): every latency lies in [O x base, (O + 1) x
  base], and the time-average number in the system matches Little's law.
- Step time proportional to the batch (``base: 0``): the worker is a processor-sharing server, mean
  latency matches M/M/1-PS, E[T] = c m / (1 - lambda c m), within 5 % at rho = 0.5 and 0.8.
- ``max_batch: 1`` with constant tokens is exactly today's one-job-at-a-time worker.
- ``kv_cache_tokens``, ``max_batch`` and the token budget are never exceeded; jobs are conserved and
  states tile each worker's life (hypothesis, random scenarios under every scheduler: the simple form,
  chunked prefill in a budget, prefill-only steps, multi-step runs, a serial frontend).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import simserve
from simserve.results.invariants import check_jobs, check_tiling


def scenario(
    rate: float,
    horizon_s: float,
    service: dict[str, Any],
    tokens: dict[str, Any],
    *,
    seed: int = 3,
    active: int = 1,
    max_workers: int = 1,
    warmup_s: float | None = None,
    **endpoint: Any,
) -> Any:
    return simserve.load_scenario(
        {
            "name": "llm-theory",
            "seed": seed,
            "horizon": horizon_s,
            "warmup": horizon_s * 0.05 if warmup_s is None else warmup_s,
            "endpoint": {
                "gpu": ["H100"],
                "active_workers": active,
                "max_workers": max_workers,
                "extra_workers": 0,
                "scaler": {"type": "queue_delay", "value": "4s"},
                **endpoint,
            },
            "cold_start": {"image_size": "1GB", "container_start": "1s", "handler_init": "1s"},
            "hosts": [{"gpu": "H100", "count": 2, "gpus_per_host": 8, "disk": "1TB"}],
            "workload": {"arrivals": {"type": "poisson", "rate": rate}, "service": service, "tokens": tokens},
        }
    )


def llm(base: float, per_seq: float, max_batch: int = 10_000, **more: Any) -> dict[str, Any]:
    return {
        "type": "llm",
        "prefill_tokens_per_s": 1e12,
        "decode_step": {"base": base, "per_sequence": per_seq},
        "max_batch": max_batch,
        **more,
    }


def test_constant_step_latency_bounds_and_littles_law() -> None:
    base, out = 0.02, 30
    sc = scenario(5.0, 1500, llm(base, 0.0), {"input": 0, "output": out}, scaler_interval="1000s")
    r = simserve.simulate(sc, seed=1)
    j = r.jobs[(r.jobs["status"] == "completed") & (r.jobs["arrival_s"] >= sc.warmup)]
    assert len(j) > 6000
    lat = j["latency_s"].to_numpy()
    assert lat.min() >= out * base - 1e-9
    assert lat.max() <= (out + 1) * base + 1e-9
    # tokens come once per step: TPOT is exactly the step
    assert np.allclose(j["tpot_s"].to_numpy(), base)
    # Little: time-average number in the system (sampled independently) = arrival rate x mean latency
    t = np.random.default_rng(0).uniform(sc.warmup + 50, sc.horizon - 50, 20_000)
    arr, end = r.jobs["arrival_s"].to_numpy(), r.jobs["end_s"].to_numpy()
    in_system = np.searchsorted(np.sort(arr), t) - np.searchsorted(np.sort(end), t)
    lam = len(j) / (sc.horizon - sc.warmup)
    assert in_system.mean() == pytest.approx(lam * lat.mean(), rel=0.03)
    assert r.summary["workers"]["peak_alive"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_processor_sharing_mean_latency(rho: float) -> None:
    c, m = 0.002, 50
    s = c * m
    sc = scenario(rho / s, 4000, llm(0.0, c), {"input": 0, "output": {"dist": "geometric", "mean": m}})
    r = simserve.simulate(sc, tables=False)
    assert r.summary["requests"]["completed"] > 15_000
    assert r.summary["latency_s"]["mean"] == pytest.approx(s / (1 - rho), rel=0.05)


def test_max_concurrency_holds_requests_in_the_worker_not_the_queue(tmp_path: Path) -> None:
    """Requests at a full batch wait on the worker (``max_concurrency`` over ``max_batch``, as the platform's
    vLLM worker takes MAX_CONCURRENCY jobs), not in the endpoint's queue: the queue-delay scaler sees no
    queue and starts no second worker, and each waiting request joins at the step right after a sequence
    leaves. Taking only ``max_batch``, the same requests queue, wait past the scaler's 1 s, and a second
    worker starts."""
    out, base = 5, 0.5
    trace = {"type": "trace", "path": "t.csv"}
    common: dict[str, Any] = {"max_workers": 2, "scaler": {"type": "queue_delay", "value": "1s"}}

    # four requests after the active worker's cold start, so only the batch can hold them back
    (tmp_path / "t.csv").write_text("arrival_s\n" + "".join(f"{30 + 0.1 * k:.1f}\n" for k in range(4)))

    def run(take: int | None) -> Any:
        sc = scenario(1.0, 60, llm(base, 0.0, max_batch=2, max_concurrency=take), {"input": 0, "output": out},
                      warmup_s=0.0, **common)  # fmt: skip
        d = sc.model_dump(mode="json")
        d["workload"]["arrivals"] = {**trace, "path": str(tmp_path / "t.csv")}
        return simserve.simulate(simserve.load_scenario(d), seed=1)

    held, queued = run(4), run(None)
    j = held.jobs.sort_values("job_id")
    assert set(j["worker_id"]) == {0} and held.summary["workers"]["peak_alive"] == 1
    steps = j["start_s"].to_numpy()
    assert list(j["status"]) == ["completed"] * 4
    # the third and fourth wait on the worker and join at the step that begins as the first and second leave
    assert steps[2] == pytest.approx(j["end_s"].iloc[0]) and steps[3] == pytest.approx(j["end_s"].iloc[1])
    assert queued.summary["workers"]["peak_alive"] == 2  # the default take: a queue, and a scale-up


def test_max_batch_one_is_the_one_job_worker() -> None:
    """One sequence at a time, O constant tokens, steps of b: the same run as a constant O x b service (b is
    not round, so no job end ties with a cold start's end, whose order among simultaneous events differs)."""
    out, base = 8, 0.2371
    common: dict[str, Any] = {"active": 0, "max_workers": 3}
    a = scenario(0.6, 2000, llm(base, 0.0, max_batch=1), {"input": 0, "output": out}, **common)
    b_dict = a.model_dump(mode="json")
    b_dict["workload"] = {"arrivals": {"type": "poisson", "rate": 0.6}, "service": out * base}
    b = simserve.load_scenario(b_dict)
    ra, rb = simserve.simulate(a, seed=4), simserve.simulate(b, seed=4)
    cols = ["arrival_s", "start_s", "end_s", "worker_id"]
    assert len(ra.jobs) == len(rb.jobs) > 1000
    assert (ra.jobs["status"] == rb.jobs["status"]).all()
    np.testing.assert_allclose(ra.jobs[cols].to_numpy(), rb.jobs[cols].to_numpy(), rtol=0, atol=1e-9)
    wa, wb = ra.workers, rb.workers
    assert (wa["state"].astype(str).to_numpy() == wb["state"].astype(str).to_numpy()).all()
    np.testing.assert_allclose(wa[["start_s", "end_s"]].to_numpy(), wb[["start_s", "end_s"]].to_numpy(), atol=1e-9)
    assert ra.summary["cost_usd"]["total"] == pytest.approx(rb.summary["cost_usd"]["total"], rel=1e-9)


@settings(max_examples=25)
@given(
    rate=st.floats(0.5, 20.0),
    max_batch=st.integers(1, 40),
    kv=st.integers(600, 20_000),
    base_ms=st.floats(1.0, 30.0),
    per_seq_ms=st.floats(0.0, 2.0),
    seed=st.integers(0, 1000),
    max_workers=st.integers(1, 3),
    scheduler=st.sampled_from(
        [
            {},
            {"max_batched_tokens": 256},
            {"max_batched_tokens": 2048, "chunked_prefill": False},
            {"max_batched_tokens": 512, "chunked_prefill": False, "scheduler_steps": 4},
            {"max_batched_tokens": 512, "chunked_prefill": False, "scheduler_steps": 4, "async_output": True},
            {"max_batched_tokens": 1024, "frontend_per_request": "3ms"},
            {"max_batched_tokens": 1024, "frontend_per_request": "2ms", "intake_per_request": "8ms"},
            {"max_batched_tokens": 512, "intake_per_request": "30s"},  # some time out on their way
        ]
    ),
)
def test_limits_never_exceeded_and_jobs_conserved(
    rate: float,
    max_batch: int,
    kv: int,
    base_ms: float,
    per_seq_ms: float,
    seed: int,
    max_workers: int,
    scheduler: dict[str, Any],
) -> None:
    """Random scenarios under each scheduler (the simple form; a token budget with chunked prefill;
    prefill-only steps; multi-step runs, with asynchronous output; a serial frontend; an intake latency, one
    longer than the execution limit)."""
    sc = scenario(
        rate,
        120,
        llm(
            base_ms / 1000,
            per_seq_ms / 1000,
            max_batch=max_batch,
            kv_cache_tokens=kv,
            prefill_tokens_per_s=20_000,
            **scheduler,
        ),
        {"input": {"dist": "lognormal", "mean": 300, "cv": 1.0}, "output": {"dist": "geometric", "mean": 40}},
        seed=seed,
        active=0,
        max_workers=max_workers,
        warmup_s=0,
        execution_timeout="20s",
    )
    r = simserve.simulate(sc)
    notes = r.notes
    assert notes["max_batch_used"] <= max_batch
    assert notes["max_kv_used"] <= kv
    assert notes["over_budget_steps"] == 0
    jobs = r.jobs
    check_jobs(jobs)
    check_tiling(r.workers, sc.horizon)
    too_big = (jobs["input_tokens"] + jobs["output_tokens"]) > kv
    big = jobs[too_big]
    assert not (big["status"] == "completed").any()  # never fits: never joins a batch
    failed_big = big[big["status"] == "failed"]
    assert (failed_big["end_s"] == failed_big["start_s"]).all()  # fails as its worker takes it
    assert failed_big["ttft_s"].isna().all()
    assert set(jobs.loc[jobs["status"] == "failed", "job_id"]) <= set(jobs.loc[too_big, "job_id"])
    assert notes["kv_too_small"] == int(((jobs["status"] == "failed") & too_big).sum())
    done = jobs[jobs["status"] == "completed"]
    assert (done["ttft_s"] > 0).all()
    assert (done["end_s"] >= done["arrival_s"] + done["ttft_s"] - 1e-12).all()
    assert (done["start_s"] <= done["arrival_s"] + done["ttft_s"]).all()


def test_same_seed_same_tables_and_streamed_agrees() -> None:
    sc = scenario(
        3.0,
        600,
        llm(0.02, 0.001, max_batch=16, kv_cache_tokens=30_000, prefill_tokens_per_s=8000),
        {"input": {"dist": "lognormal", "mean": 500, "cv": 1.2}, "output": {"dist": "exponential", "mean": 80}},
        active=0,
        max_workers=2,
    )
    a, b = simserve.simulate(sc, seed=9), simserve.simulate(sc, seed=9)
    assert a.jobs.equals(b.jobs) and a.workers.equals(b.workers)
    s = simserve.simulate(sc, seed=9, tables=False).summary
    for key in ("requests", "tokens"):
        assert s[key] == a.summary[key]
    for key in ("ttft_s", "tpot_s"):
        assert s[key]["mean"] == pytest.approx(a.summary[key]["mean"], rel=1e-9)
        assert s[key]["p95"] == pytest.approx(a.summary[key]["p95"], rel=2e-3)
    assert a.summary["cost_usd"]["per_1m_output_tokens"] == pytest.approx(
        a.summary["cost_usd"]["total"] / a.summary["tokens"]["output"] * 1e6
    )


def test_execution_timeout_drops_the_sequence_not_the_worker() -> None:
    """Replies of 100 steps of 20 ms (2 s) against a 1 s execution timeout: each request leaves its batch at
    the end of the first step past 1 s, timed out, and the one worker goes on (no restart, no cold start)."""
    base = 0.02
    sc = scenario(
        2.0,
        300,
        llm(base, 0.0),
        {"input": 0, "output": 100},
        execution_timeout="1s",
        warmup_s=0,
        scaler_interval="1000s",
    )
    r = simserve.simulate(sc, seed=2)
    j = r.jobs[r.jobs["status"] == "timed_out"]
    assert len(j) > 400 and (r.jobs["status"] != "completed").all()
    held = (j["end_s"] - j["start_s"]).to_numpy()
    assert held.min() >= 1.0 - 1e-9 and held.max() <= 1.0 + base + 1e-9
    assert (j["ttft_s"] > 0).all() and j["tpot_s"].isna().all()
    assert r.summary["counters"]["cold_starts"] == 1 and r.summary["workers"]["peak_alive"] == 1
