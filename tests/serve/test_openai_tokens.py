"""What the built-in LLM worker streams is the engine model's own timeline (``BatchEngine.tokens_out`` read
after each engine step, as ``LiveDriver.on_timer`` hands it to ``simserve.serve.llm_worker``): on the live
driver with a virtual clock, every completed job's first token comes out at its recorded first token,
one more with each decoding step, and its last at its recorded end, for the engine's schedulers."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

import simserve
from simserve.endpoint import EndpointCore, SetTimer, build_hosts
from simserve.endpoint.effects import TimerKind
from simserve.live.clock import VirtualClock
from simserve.live.driver import LiveDriver
from simserve.live.simulated import SimulatedRuntime
from simserve.records import JobStatus, Recorder
from simserve.rng import RandomStreams
from simserve.workload import generate


def scenario(**service: Any) -> Any:
    return simserve.load_scenario(
        {
            "name": "tokens-out",
            "horizon": 30,
            "warmup": 0,
            "endpoint": {"gpu": ["H100"], "active_workers": 1, "max_workers": 2, "scaler_interval": 1},
            "cold_start": {"image_size": "1B", "container_start": 0, "handler_init": 0},
            "hosts": [{"gpu": "H100", "count": 1, "gpus_per_host": 8, "disk": "1TB"}],
            "workload": {
                "arrivals": {"type": "poisson", "rate": 8},
                "service": {
                    "type": "llm",
                    "prefill_tokens_per_s": 50_000,
                    "decode_step": {"base": 0.01, "per_sequence": 0.0005},
                    "max_batch": 16,
                    **service,
                },
                "tokens": {
                    "input": {"dist": "lognormal", "mean": 300, "cv": 0.8},
                    "output": {"dist": "lognormal", "mean": 20, "cv": 0.8},
                },
            },
        }
    )


@pytest.mark.parametrize(
    "service",
    [{}, {"max_batched_tokens": 256}, {"chunked_prefill": False}, {"async_output": True}],
    ids=["chunked", "budget", "prefill-only", "async-output"],
)
def test_streamed_tokens_follow_the_engines_records(service: dict[str, Any]):
    sc = scenario(**service)
    streams = RandomStreams(3)
    jobs = generate(sc, streams)
    rec = Recorder(jobs.arrival_s, input_tokens=jobs.input_tokens, output_tokens=jobs.output_tokens)
    core = EndpointCore(sc, streams, rec, build_hosts(sc))
    clock = VirtualClock()
    driver = LiveDriver(core, clock)
    driver.runtime = SimulatedRuntime(driver, clock, jobs.service_s.tolist())
    seen: dict[int, list[tuple[float, int]]] = {}
    assert core.llm is not None
    tokens_out = core.llm.tokens_out

    def observe(t: SetTimer, now: float) -> None:
        if t.kind != TimerKind.STEP:
            return
        for j in range(len(rec.arrival_s)):
            if rec.status[j] in (JobStatus.IN_PROGRESS, JobStatus.COMPLETED):
                n = tokens_out(j)
                if n > (seen[j][-1][1] if j in seen else 0):
                    seen.setdefault(j, []).append((now, n))

    driver.on_timer = observe
    driver.start()
    clock.run(core.arr, driver.arrive, sc.horizon)
    driver.finish(sc.horizon)
    done = [j for j in range(len(rec.arrival_s)) if rec.status[j] == JobStatus.COMPLETED]
    assert len(done) > 100
    for j in done:
        got = seen[j]
        assert got[0][0] == rec.first_token_s[j]  # the first token streamed when the engine made it
        assert got[-1] == (rec.end_s[j], rec.output_tokens[j])  # all of them by its end
        assert all(a[0] < b[0] and a[1] < b[1] for a, b in itertools.pairwise(got))
        steps_for_rest = 2 if service.get("async_output") else 1  # the lagged first token comes with the next
        assert got[0][1] <= steps_for_rest and all(b[1] - a[1] == 1 for a, b in itertools.pairwise(got))
