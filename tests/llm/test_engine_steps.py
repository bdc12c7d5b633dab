"""The engine step as vLLM and SGLang schedule it (``endpoint/engine.py``, issue #24), on exact traces.

Each test sends a few requests with known token counts (an ``azure-llm`` trace) to one warm worker whose
step time is the simple form (``base + prompt tokens / prefill_tokens_per_s``), so every step boundary
can be computed by hand: the token budget and chunked prefill (a long prompt in chunks beside a
decoding sequence, which keeps its one token a step), prefill-only steps of whole prompts within the
budget, multi-step runs (nothing joins within a run; tokens come out at its end; a later step of a run pays
``in_run`` when the GPU's work is modelled), asynchronous output (a
first token comes out with the next step), the serial frontend (requests reach the engine together
once the frontend has none left) and the intake latency (every request reaches the engine that much later,
none waiting for another; one timed out on its way fails as timed out).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import simserve
from simserve import llm_catalog
from simserve.endpoint.engine import engine_step_s
from simserve.scenario import LlmService

BASE = 0.010  # s per step
RATE = 100_000.0  # prompt tokens per second: a 256-token chunk adds 2.56 ms


def run(
    tmp_path: Path, rows: list[tuple[float, int, int]], endpoint: dict[str, Any] | None = None, **service: Any
) -> pd.DataFrame:
    """Jobs table of one warm worker serving ``rows`` = (arrival s, input tokens, output tokens); every job
    must complete unless ``endpoint`` (fields merged into the endpoint) is given."""
    trace = tmp_path / "t.csv"
    stamps = [pd.Timestamp("2024-01-01") + pd.Timedelta(seconds=t) for t, _, _ in rows]
    body = "".join(f"{s:%Y-%m-%d %H:%M:%S.%f},{i},{o}\n" for s, (_, i, o) in zip(stamps, rows, strict=True))
    trace.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n" + body)
    sc = simserve.load_scenario(
        {
            "name": "engine-steps",
            "horizon": 60,
            "warmup": 0,
            "endpoint": {
                "gpu": ["H100"],
                "active_workers": 1,
                "max_workers": 1,
                "extra_workers": 0,
                **(endpoint or {}),
            },
            "cold_start": {
                "image_size": "1B",
                "container_start": 0,
                "handler_init": 0,
                "model": {"size": "1B", "placement": "cached", "bandwidth": "1GB/s"},
            },
            "hosts": [{"gpu": "H100", "count": 1, "gpus_per_host": 8, "disk": "1TB"}],
            "workload": {
                "arrivals": {"type": "trace", "format": "azure-llm", "path": str(trace)},
                "service": {
                    "type": "llm",
                    "prefill_tokens_per_s": RATE,
                    "decode_step": {"base": BASE, "per_sequence": 0},
                    "max_batch": 64,
                    **service,
                },
            },
        }
    )
    jobs = simserve.simulate(sc, seed=1).jobs.sort_values("job_id").reset_index(drop=True)
    assert endpoint is not None or (jobs["status"] == "completed").all()
    return jobs.assign(first_s=jobs["arrival_s"] + jobs["ttft_s"])


def llm_8b() -> LlmService | None:
    """The ``llm`` service of a scenario serving the 8B model with the catalog's defaults (vLLM V1)."""
    return simserve.load_scenario(
        {
            "name": "x",
            "endpoint": {"gpu": ["H100"]},
            "workload": {
                "arrivals": {"type": "poisson", "rate": 1},
                "tokens": {"input": 10, "output": 10},
                "service": {"type": "llm", "model": "8b"},
            },
        }
    ).workload.llm


def step(prompt: int = 0) -> float:
    return BASE + prompt / RATE


def test_chunked_prefill_runs_a_long_prompt_in_budget_sized_chunks_beside_the_decodes(tmp_path: Path) -> None:
    """A 1000-token prompt joins a batch with one decoding sequence; budget 257 = 1 decode + 256 prompt
    tokens a step, so the prompt takes 4 steps (256, 256, 256, 232) and its first token ends the 4th; the
    decoding sequence gets a token every step meanwhile. Without chunks (a prefill-only step of the whole
    prompt, 20 ms) the decode stalls a step; without a budget the prompt runs in one mixed step."""
    rows = [(0.0, 0, 40), (0.105, 1000, 2)]
    chunked = run(tmp_path, rows, max_batched_tokens=257)
    a, b = chunked.iloc[0], chunked.iloc[1]
    expected_first = b["start_s"] + 3 * step(256) + step(232)
    assert b["first_s"] == pytest.approx(expected_first, abs=1e-9)
    assert b["end_s"] == pytest.approx(expected_first + step(0), abs=1e-9)  # its second token: a plain decode step
    # A: 40 tokens, one a step; 4 of its steps carried chunks
    assert a["end_s"] - a["first_s"] == pytest.approx(39 * step() + 3 * 256 / RATE + 232 / RATE, abs=1e-9)

    whole = run(tmp_path, rows, max_batched_tokens=2048, chunked_prefill=False)
    a2, b2 = whole.iloc[0], whole.iloc[1]
    assert b2["first_s"] == pytest.approx(b2["start_s"] + step(1000), abs=1e-9)
    assert a2["end_s"] - a2["first_s"] == pytest.approx(39 * step() + step(1000), abs=1e-9)  # one stalled step

    unlimited = run(tmp_path, rows)  # the simple form: the whole prompt joins a mixed step
    a3, b3 = unlimited.iloc[0], unlimited.iloc[1]
    assert b3["first_s"] == pytest.approx(b3["start_s"] + step(1000), abs=1e-9)
    assert a3["end_s"] - a3["first_s"] == pytest.approx(39 * step() + 1000 / RATE, abs=1e-9)


def test_prefill_only_steps_take_whole_prompts_within_the_budget(tmp_path: Path) -> None:
    """Three 300-token prompts at once, budget 512, no chunking: one prompt per prefill-only step (two would
    be 600 tokens), FIFO; each first token ends its own step; the first one's decode waits out the others."""
    jobs = run(tmp_path, [(0.0, 300, 3)] * 3, max_batched_tokens=512, chunked_prefill=False)
    t0 = jobs["start_s"].iloc[0]
    assert list(jobs["start_s"] - t0) == pytest.approx([0, step(300), 2 * step(300)], abs=1e-9)
    assert list(jobs["first_s"] - t0) == pytest.approx([step(300), 2 * step(300), 3 * step(300)], abs=1e-9)
    # then decode steps of all three: tokens 2 and 3 of each come in the next two steps
    assert list(jobs["end_s"] - t0) == pytest.approx([3 * step(300) + 2 * step()] * 3, abs=1e-9)


def test_multi_step_runs_admit_nothing_and_deliver_at_their_end(tmp_path: Path) -> None:
    """scheduler_steps 4: a request arriving inside a decoding run joins when the run ends (4 steps), and a
    sequence whose last token falls inside a run completes at the run's end; a run runs all its steps even
    when its sequences are done (vLLM 0.6.0 skips the scheduler while the cached run has steps left)."""
    rows = [(0.0, 0, 6), (0.0, 0, 20), (0.0151, 100, 2)]
    jobs = run(tmp_path, rows, chunked_prefill=False, scheduler_steps=4)
    a, c, b = jobs.iloc[0], jobs.iloc[1], jobs.iloc[2]
    t0 = a["start_s"]
    assert a["first_s"] - t0 == pytest.approx(step(0), abs=1e-9)  # a's and c's prompt step
    assert b["start_s"] - t0 == pytest.approx(5 * step(), abs=1e-9)  # after the run of 4 steps
    assert b["first_s"] - t0 == pytest.approx(5 * step() + step(100), abs=1e-9)
    # a's token 6 and b's token 2 come in the first step of the second run; both complete at its end
    assert a["end_s"] - t0 == pytest.approx(5 * step() + step(100) + 4 * step(), abs=1e-9)
    assert b["end_s"] == pytest.approx(a["end_s"], abs=1e-9)
    # c: 20 tokens, runs of 4 after its prompt step: tokens 2-5, (b's prompt step), 6-9, 10-13, 14-17, 18-20
    # and a fourth step with nothing left to decode
    assert c["end_s"] - t0 == pytest.approx(step(0) + step(100) + 20 * step(), abs=1e-9)

    solo = run(tmp_path, [(0.0, 0, 2), (0.0, 0, 20)], chunked_prefill=False, scheduler_steps=4)
    assert solo["end_s"].iloc[0] - solo["start_s"].iloc[0] == pytest.approx(step(0) + 4 * step(), abs=1e-9)


def test_async_output_brings_a_first_token_out_with_the_next_step(tmp_path: Path) -> None:
    """async_output (vLLM 0.6's output processor): the first token made by a prompt's step comes out at
    the end of the next step; the reply's other tokens and its end do not move. Two prompts in two
    prefill-only steps (budget 150): the first one's token comes out with the second's step."""
    rows = [(0.0, 100, 3), (0.0, 100, 3)]
    plain = run(tmp_path, rows, max_batched_tokens=150, chunked_prefill=False)
    lagged = run(tmp_path, rows, max_batched_tokens=150, chunked_prefill=False, async_output=True)
    t0 = plain["start_s"].iloc[0]
    assert list(plain["first_s"] - t0) == pytest.approx([step(100), 2 * step(100)], abs=1e-9)
    assert list(lagged["first_s"] - t0) == pytest.approx([2 * step(100), 2 * step(100) + step()], abs=1e-9)
    assert list(lagged["end_s"]) == pytest.approx(list(plain["end_s"]), abs=1e-12)
    # the last step's first token comes out when the engine goes idle (no next step to wait for)
    alone = run(tmp_path, [(0.0, 100, 2)], async_output=True)
    assert alone["first_s"].iloc[0] - alone["start_s"].iloc[0] == pytest.approx(step(100) + step(), abs=1e-9)


def test_a_runs_first_step_brings_held_first_tokens_out_before_its_gpu_work(tmp_path: Path) -> None:
    """async_output with multi-step runs and the GPU's work modelled (vLLM 0.6.0: the first step of a run is
    not its last, so its engine call returns once scheduled and launched, the held output processed while
    the GPU runs): the prompt's step (10 + 1 + 5 ms) ends at 16 ms and its first token comes out 10 ms
    (``base``) into the run's first step, at 26 ms, not at its end (31 ms). Its last token, made by the
    run's last step (49 ms), is held too: with nothing left to run the scheduler runs the sequence again
    (it has not seen it finish), and that run's first step brings it out once its CPU part is done (59 ms)."""
    rows = [(0.0, 100, 5)]
    service: dict[str, Any] = {"chunked_prefill": False, "scheduler_steps": 4, "step_cost": {"weights": 0.005}}
    step = {"base": BASE, "per_sequence": 0, "in_run": 0.001}
    plain = run(tmp_path, rows, decode_step=step, **service).iloc[0]
    held = run(tmp_path, rows, decode_step=step, async_output=True, **service).iloc[0]
    assert plain["first_s"] - plain["start_s"] == pytest.approx(0.016, abs=1e-9)
    assert held["first_s"] - held["start_s"] == pytest.approx(0.026, abs=1e-9)
    assert plain["end_s"] - plain["start_s"] == pytest.approx(0.016 + 0.015 + 3 * 0.006, abs=1e-9)
    assert held["end_s"] - held["start_s"] == pytest.approx(0.016 + 0.015 + 3 * 0.006 + BASE, abs=1e-9)
    # one step a run (no multi-step): the next step's call returns at its end, as without the GPU modelled
    one = {"chunked_prefill": False, "step_cost": {"weights": 0.005}}
    single = run(tmp_path, rows, decode_step=step, async_output=True, **one).iloc[0]
    assert single["first_s"] - single["start_s"] == pytest.approx(0.016 + 0.015, abs=1e-9)


def test_a_runs_last_tokens_come_out_with_the_next_step(tmp_path: Path) -> None:
    """async_output with multi-step runs (vLLM 0.6.0: a run's last step's output is processed by the next step's
    callback, like a prompt's): a reply whose last token a run's last step makes completes when the next step's
    engine call returns; one that ends within the run completes at the run's end, as without it. Runs of 2
    steps, GPU 5 ms a step, base 10 ms, in_run 1 ms: the prompt step ends at 15 ms, the run's steps at 30 and
    36 ms. a (3 tokens: its last made by the run's last step) completes once the next run's first step has
    done its CPU part (36 + 10 = 46 ms); b (2 tokens: done in the run's first step) at the run's end (36 ms);
    c (6 tokens) keeps runs going."""
    rows = [(0.0, 0, 3), (0.0, 0, 2), (0.0, 0, 6)]
    service: dict[str, Any] = {"chunked_prefill": False, "scheduler_steps": 2, "step_cost": {"weights": 0.005}}
    step = {"base": BASE, "per_sequence": 0, "in_run": 0.001}
    jobs = run(tmp_path, rows, decode_step=step, async_output=True, **service)
    end = list(jobs["end_s"] - jobs["start_s"])
    assert end[0] == pytest.approx(0.046, abs=1e-9)
    assert end[1] == pytest.approx(0.036, abs=1e-9)


def test_the_rest_of_a_run_begun_for_held_output_waits_for_the_next_request(tmp_path: Path) -> None:
    """With nothing left to run but a run's held last tokens, the run the scheduler begins for them has its
    later steps wait for the next request (vLLM 0.6.0's engine loop stops; ``step_async`` resumes the cached run
    before it schedules): a request arriving later waits for those steps (3 x (1 + 5) ms) before its prompt."""
    service: dict[str, Any] = {"chunked_prefill": False, "scheduler_steps": 4, "step_cost": {"weights": 0.005}}
    step = {"base": BASE, "per_sequence": 0, "in_run": 0.001}
    alone = run(tmp_path, [(1.0, 0, 2)], decode_step=step, async_output=True, **service).iloc[0]
    after = run(tmp_path, [(0.0, 0, 5), (1.0, 0, 2)], decode_step=step, async_output=True, **service).iloc[1]
    waited = after["first_s"] - after["arrival_s"] - (alone["first_s"] - alone["arrival_s"])
    assert waited == pytest.approx(0.018, abs=1e-7)


def test_later_steps_of_a_run_pay_in_run_instead_of_the_scheduling(tmp_path: Path) -> None:
    """With the GPU's work modelled (``step_cost.weights`` 5 ms), a run's first step pays ``base`` (10 ms) and
    its later steps ``in_run`` (1 ms) beside the GPU's 5 ms: a 5-token reply is its prompt step (15 ms), then a
    run of 4 decoding steps, 15 + 3 x 6 ms, its tokens out at the run's end (45 ms with in_run 0)."""
    rows = [(0.0, 0, 5)]
    service: dict[str, Any] = {"chunked_prefill": False, "scheduler_steps": 4, "step_cost": {"weights": 0.005}}
    step = {"base": BASE, "per_sequence": 0}
    for in_run, end_s in ((0.001, 0.048), (0.0, 0.045)):
        jobs = run(tmp_path, rows, decode_step={**step, "in_run": in_run}, **service)
        job = jobs.iloc[0]
        assert job["first_s"] - job["start_s"] == pytest.approx(0.015, abs=1e-9)
        assert job["end_s"] - job["start_s"] == pytest.approx(end_s, abs=1e-9)
    simple = run(tmp_path, rows, decode_step={**step, "in_run": 0.001}, chunked_prefill=False, scheduler_steps=4)
    assert simple["end_s"].iloc[0] - simple["start_s"].iloc[0] == pytest.approx(5 * BASE, abs=1e-9)  # the step


def test_the_frontend_hands_a_burst_to_the_engine_together(tmp_path: Path) -> None:
    """frontend_per_request 5 ms: three requests arriving at once reach the engine together at 15 ms (the
    frontend finishes every ready request first) and join one step; a lone request waits 5 ms."""
    jobs = run(tmp_path, [(0.0, 10, 2)] * 3 + [(1.0, 10, 2)], frontend_per_request="5ms")
    waited = jobs["start_s"] - jobs["arrival_s"]  # (the warm worker is ready 11 ns after the start)
    assert list(waited) == pytest.approx([0.015, 0.015, 0.015, 0.005], abs=1e-7)
    assert jobs["first_s"].iloc[0] == pytest.approx(jobs["first_s"].iloc[2], abs=1e-12)


def test_the_intake_delays_every_request_alike(tmp_path: Path) -> None:
    """intake_per_request 8 ms: three requests arriving at once reach the engine at 8 ms, all of them (none
    waits for another) and join one step, as does a lone one later: every token comes exactly 8 ms later than
    without it, so TTFT grows by 8 ms and TPOT does not change. After a 5 ms serial frontend the burst leaves it
    together at 15 ms and reaches the engine at 23 ms."""
    rows = [(0.0, 10, 3)] * 3 + [(1.0, 10, 3)]
    alone, late = run(tmp_path, rows), run(tmp_path, rows, intake_per_request="8ms")
    assert list(late["first_s"] - alone["first_s"]) == pytest.approx([0.008] * 4, abs=1e-7)
    assert list(late["end_s"] - alone["end_s"]) == pytest.approx([0.008] * 4, abs=1e-7)
    assert list(late["tpot_s"]) == pytest.approx(list(alone["tpot_s"]), abs=1e-9)
    assert late["first_s"].iloc[0] == pytest.approx(late["first_s"].iloc[2], abs=1e-12)  # one step
    front = run(tmp_path, rows, frontend_per_request="5ms")
    both = run(tmp_path, rows, frontend_per_request="5ms", intake_per_request="8ms")
    assert list(both["first_s"] - front["first_s"]) == pytest.approx([0.008] * 4, abs=1e-7)


def test_a_request_timed_out_on_its_way_to_the_engine(tmp_path: Path) -> None:
    """An execution limit (1 s) shorter than the intake (2 s): each request times out before the engine sees
    it; under a limit of 3 s the same request completes."""
    jobs = run(tmp_path, [(0.0, 10, 3), (5.0, 10, 3)], {"execution_timeout": 1}, intake_per_request="2s")
    assert list(jobs["status"]) == ["timed_out", "timed_out"]
    ok = run(tmp_path, [(0.0, 10, 3)], {"execution_timeout": 3}, intake_per_request="2s")
    assert list(ok["status"]) == ["completed"]


def test_step_cost_physics_by_hand() -> None:
    """The catalog's 8B-on-H100 decode step is the smooth roofline of its weights and compute plus the KV
    reads; the 70B-on-4-H100 step adds 160 all-reduces; neither has the simple form's prefill term."""
    p = llm_catalog.profile("8b", "H100")
    params = llm_8b()
    assert params is not None
    e = params.engine("H100")
    assert e.allreduce_s == 0 and e.prefill_tokens_per_s == float("inf") and e.max_batched_tokens == 8192
    got = engine_step_s(e, scheduled=8, tokens=8, prompt_tokens=0, sampled=8, context_tokens=8000, attention_pairs=0)
    compute = 8 * (p.per_token_s + p.per_sampled_s)
    want = e.base_s + 8 * e.per_sequence_s + (p.weights_s**2 + compute**2) ** 0.5 + 8000 * p.per_kv_token_s
    assert got == pytest.approx(want, rel=1e-12)
    q = llm_catalog.profile("70b", "H100")
    assert q.allreduce_s == pytest.approx(160 * llm_catalog.ALLREDUCE_LATENCY_S[True])
    arch = llm_catalog.ARCHS
    ratio = arch["70b"].streamed_bytes / arch["8b"].streamed_bytes / 4  # 9.3x the weights over 4 GPUs
    split = llm_catalog.serving_factors("70b", "H100")[0] / llm_catalog.serving_factors("8b", "H100")[0]
    assert q.weights_s == pytest.approx(p.weights_s * ratio * split, rel=1e-6)  # the split GEMMs as Vidur has them
