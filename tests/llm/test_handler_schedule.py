"""``examples/handlers/llm_engine.py`` schedules as the core's engine does (issue #24).

The handler's engine runs on the wall clock: requests are submitted at once and each token's time is
taken as the handler yields it. The same requests through ``simserve.simulate`` (the same figures)
give the times the handler must keep to: first token and last token of every request, under a token
budget with chunked prefill, and under prefill-only steps with multi-step runs. Steps of 100 ms, so a
request one step off is 100 ms off; the bound (50 ms) holds for a loaded machine's wake-up lags, which
can add up over a few steps (a step's start is taken from the clock): at 50 ms steps and a 25 ms bound,
one CI run on a loaded 2-core machine saw a last token 46 ms late.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from pathlib import Path
from typing import Any

import pytest

from simserve import llm_catalog
from tests.llm.test_engine_steps import llm_8b, run

HANDLER = Path(__file__).resolve().parents[2] / "examples" / "handlers" / "llm_engine.py"
SCALE = 10  # the handler's steps are this many times the simulated run's (10 ms there: 100 ms here)
LAG_S = 0.05  # wall-time bound: wake-up lags of a few steps on a loaded 2-core machine


def load_handler() -> Any:
    spec = importlib.util.spec_from_file_location("llm_engine_under_test", HANDLER)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


async def live_times(rows: list[tuple[int, int]], figures: dict[str, Any]) -> list[tuple[float, float]]:
    """(first token, last token) of each request, seconds after they were all submitted."""
    mod = load_handler()
    t0 = time.monotonic()

    async def one(n_in: int, n_out: int) -> tuple[float, float]:
        times = []
        job = {"input": {"engine": figures, "input_tokens": n_in, "output_tokens": n_out}}
        async for _ in mod.handler(job):
            times.append(time.monotonic() - t0)
        return times[0], times[-1]

    return list(await asyncio.gather(*(one(i, o) for i, o in rows)))


@pytest.mark.parametrize(
    "service",
    [
        {"max_batched_tokens": 300},
        {"max_batched_tokens": 300, "intake_per_request": 0.004},  # every request 40 ms on its way, at once
        {"max_batched_tokens": 512, "chunked_prefill": False, "scheduler_steps": 3},
        {"max_batched_tokens": 300, "chunked_prefill": False, "scheduler_steps": 3, "async_output": True},
        {
            "chunked_prefill": False,
            "scheduler_steps": 3,
            "step_cost": {"weights": 0.004},
            "decode_step": {"base": 0.01, "per_sequence": 0, "in_run": 0.002},
        },
        {
            "max_batched_tokens": 300,
            "chunked_prefill": False,
            "scheduler_steps": 3,
            "async_output": True,
            "step_cost": {"weights": 0.01},  # a first token 100 ms before its step's end: the bound sees it
            "decode_step": {"base": 0.01, "per_sequence": 0, "in_run": 0.002},
        },
        {  # runs of 2: last tokens made by a run's last step come out with the next step, runs run all steps
            "chunked_prefill": False,
            "scheduler_steps": 2,
            "async_output": True,
            "step_cost": {"weights": 0.01},
            "decode_step": {"base": 0.01, "per_sequence": 0, "in_run": 0.002},
        },
    ],
)
def test_handler_keeps_the_simulated_schedule(tmp_path: Path, service: dict[str, Any]) -> None:
    rows = [(500, 5), (0, 10), (100, 3), (400, 4)]
    base, rate = 0.01 * SCALE, 100_000.0 / SCALE
    sim = run(tmp_path, [(0.0, i, o) for i, o in rows], **service)
    t0 = sim["start_s"].min()
    figures: dict[str, Any] = {"base_s": base, "per_sequence_s": 0.0, "prefill_tokens_per_s": rate, "max_batch": 64}
    for key, value in service.items():  # scenario fields -> the handler's figures, times SCALE as below
        if key in ("step_cost", "decode_step"):  # seconds: weights -> weights_s, in_run -> in_run_s, ...
            figures.update({f"{name}_s": SCALE * x for name, x in value.items()})
        elif key == "intake_per_request":
            figures["intake_s"] = SCALE * value
        else:
            figures[key] = value
    # the simulated run's own figures (tests.llm.test_engine_steps.run: 10 ms steps, 100,000 tokens/s) scaled
    # to these: every step there is SCALE x as long here
    live = asyncio.run(live_times(rows, figures))
    for (first, last), (_, job) in zip(live, sim.iterrows(), strict=True):
        assert first == pytest.approx(SCALE * (job["first_s"] - t0), abs=LAG_S), (service, job["job_id"])
        assert last == pytest.approx(SCALE * (job["end_s"] - t0), abs=LAG_S), (service, job["job_id"])


def test_handler_figures_are_what_the_handler_reads() -> None:
    """``EngineParams.handler_figures(speed)`` (what ``simserve live`` is to put in ``input.engine``) names
    exactly the figures the example handler reads, times divided and rates multiplied by the speed."""
    import simserve

    sc = simserve.load_scenario(
        {
            "name": "x",
            "endpoint": {"gpu": ["H100"], "gpus_per_worker": 4},
            "workload": {
                "arrivals": {"type": "poisson", "rate": 1},
                "tokens": {"input": 10, "output": 10},
                "service": {"type": "llm", "model": "70b", "server": "vllm-0.6-multistep"},
            },
        }
    )
    assert sc.workload.llm is not None
    p = sc.workload.llm.engine("H100")
    one, fast = p.handler_figures(), p.handler_figures(speed=4.0)
    assert set(one) == set(load_handler().DEFAULTS) | {"kv_cache_tokens"}
    assert fast["weights_s"] == pytest.approx(one["weights_s"] / 4) and fast["allreduce_s"] == one["allreduce_s"] / 4
    assert fast["frontend_s"] == pytest.approx(one["frontend_s"] / 4)
    assert one["intake_s"] == 0.0  # vLLM 0.6's frontend fit holds its whole per-request time
    v1 = llm_8b()
    assert v1 is not None  # vLLM V1, the default server: its engine core's intake latency
    assert v1.engine("H100").handler_figures(speed=2.0)["intake_s"] == pytest.approx(llm_catalog.V1_INTAKE_S / 2)
    assert (one["scheduler_steps"], one["chunked_prefill"], one["async_output"]) == (10, False, True)
    assert one["max_batched_tokens"] == 2048 and one["allreduce_s"] > 0
