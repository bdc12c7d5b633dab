"""``simserve serve`` on an LLM scenario without a handler: the built-in worker, called by real clients on
127.0.0.1 (the official ``openai`` package sync and async, streamed and not; ``curl -N``; the ``runpod``
SDK with the vLLM worker's native input), then the run directory: every request in ``jobs.csv`` with its
tokens, TTFT and TPOT as the core's engine model made them, and a trace that ``simserve plan`` takes."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.serve.conftest import Server, simserve_cli, start_server

openai = pytest.importorskip("openai")
runpod = pytest.importorskip("runpod")

pytestmark = [pytest.mark.live, pytest.mark.xdist_group("serve-openai")]

#: an engine step of 10 ms (+0.1 ms a sequence), prompts at 20,000 tokens/s: a 16-token answer in ~0.2 s
LLM = [
    "--set",
    "workload.service={type: llm, prefill_tokens_per_s: 20000, decode_step: {base: 10ms, per_sequence: 0.1ms}, "
    "max_batch: 64}",
    "--set",
    "workload.tokens={input: 20, output: 6}",
]
CONCURRENT = 16


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("serve-llm") / "run", *LLM, handler=None)
    yield srv
    srv.stop()


def test_the_start_up_lines_name_the_openai_route(llm: Server):
    line = next(x for x in llm.lines if x.startswith("openai "))
    assert line.split()[1] == llm.base + "/local/openai/v1" and line.split()[3] == "simserve/serve-test"


def test_a_streamed_chat_gives_max_tokens_in_openai_chunks(llm: Server):
    stream = llm.openai().chat.completions.create(
        model="any", messages=[{"role": "user", "content": "hi"}], max_tokens=16, stream=True
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    words = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(words) == 16 and all(w.strip() for w in words)
    assert chunks[-1].choices[0].finish_reason == "length" and chunks[-1].model == "any"
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")


def test_unstreamed_chat_and_completions_carry_usage(llm: Server):
    c = llm.openai()
    chat = c.chat.completions.create(model="m", messages=[{"role": "user", "content": "x" * 40}], max_tokens=7)
    assert chat.object == "chat.completion" and chat.choices[0].message.role == "assistant"
    assert len(chat.choices[0].message.content.split()) == 7
    assert (chat.usage.prompt_tokens, chat.usage.completion_tokens, chat.usage.total_tokens) == (14, 7, 21)
    done = c.completions.create(model="m", prompt="12345678", max_tokens=3)
    assert done.object == "text_completion" and len(done.choices[0].text.split()) == 3
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (2, 3)
    unset = c.completions.create(model="m", prompt="go")  # no max_tokens: the scenario's output length
    assert unset.usage.completion_tokens == 6 and unset.choices[0].finish_reason == "stop"
    assert [m.id for m in c.models.list()] == ["simserve/serve-test"]


def test_a_completions_stream_with_usage(llm: Server):
    stream = llm.openai().completions.create(
        model="m", prompt="abcd", max_tokens=5, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks if c.choices).split() != []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5


def test_concurrent_async_streams_share_the_batch(llm: Server):
    async def one(c: Any, n: int) -> tuple[int, float, float]:
        t0 = time.perf_counter()
        first = math_nan = float("nan")
        words = 0
        stream = await c.chat.completions.create(
            model="m", messages=[{"role": "user", "content": f"request {n}"}], max_tokens=12, stream=True
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                words += 1
                if first != first:  # NaN: the first token
                    first = time.perf_counter() - t0
        return words, first, time.perf_counter() - t0 if words else math_nan

    async def main() -> list[tuple[int, float, float]]:
        c = llm.openai(asynchronous=True)
        try:
            return await asyncio.gather(*(one(c, n) for n in range(CONCURRENT)))
        finally:
            await c.close()

    results = asyncio.run(main())
    assert [w for w, _, _ in results] == [12] * CONCURRENT
    assert all(0 < first <= total for _, first, total in results)


def test_errors_take_the_openai_shape(llm: Server):
    with pytest.raises(openai.AuthenticationError) as bad_key:
        llm.openai(key="wrong").chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert bad_key.value.status_code == 401 and "unauthorized" in bad_key.value.body["message"]
    with pytest.raises(openai.BadRequestError) as bad:
        llm.openai().chat.completions.create(model="m", messages=[], max_tokens=3)
    assert bad.value.body["param"] is None and "'messages'" in bad.value.body["message"]
    with pytest.raises(openai.BadRequestError):
        llm.openai().completions.create(model="m", prompt="x", max_tokens=0)


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl")
def test_curl_streams_server_sent_events(llm: Server):
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "stream": True})
    url = llm.base + "/local/openai/v1/chat/completions"
    cmd = ["curl", "-sS", "-N", "--max-time", "60", url, "-H", f"Authorization: Bearer {llm.key}"]
    cmd += ["-H", "Content-Type: application/json", "-d", body]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    events = [e for e in done.stdout.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"
    objects = [json.loads(e[6:]) for e in events[:-1]]
    assert sum(1 for o in objects if o["choices"][0]["delta"].get("content")) == 4


def test_the_runpod_sdk_on_the_native_route(llm: Server):
    runpod.api_key = llm.key
    runpod.endpoint_url_base = llm.base
    ep = runpod.Endpoint("local")
    out = ep.run_sync({"messages": [{"role": "user", "content": "hi"}], "sampling_params": {"max_tokens": 5}}, 60)
    assert out == [{"choices": [{"tokens": [" lorem ipsum dolor sit amet"]}], "usage": {"input": 5, "output": 5}}]
    job = ep.run({"prompt": "stream me", "sampling_params": {"max_tokens": 13}, "stream": True})
    batches = list(job.stream())
    tokens = [t for b in batches for t in b["choices"][0]["tokens"]]
    assert len(tokens) == 13 and batches[-1]["usage"]["output"] == 13
    assert [len(b["choices"][0]["tokens"]) for b in batches][:2] == [1, 3]  # the worker's growing batches


def test_the_run_directory_has_every_request_and_plans(llm: Server, tmp_path: Path):
    rc, printed = llm.stop()
    assert rc == 130, printed[-2000:]
    out = llm.out
    jobs = pd.read_csv(out / "jobs.csv")
    assert (jobs["status"] == "completed").all(), jobs[jobs["status"] != "completed"]
    assert len(jobs) == CONCURRENT + 9  # each request that was taken (a refused one is not a job)
    assert (jobs["ttft_s"] > 0).all() and (jobs["ttft_s"] <= jobs["latency_s"]).all()
    many = jobs[jobs["output_tokens"] > 1]
    assert (many["tpot_s"] > 0).all() and np.isfinite(many["tpot_s"]).all()
    assert (jobs["output_tokens"] == 12).sum() == CONCURRENT and (jobs["output_tokens"] == 16).sum() == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["requests"]["arrived"] == len(jobs)  # serve's statistics take every request
    assert summary["counters"]["max_batch_used"] > 1  # concurrent streams ran in one worker's batch
    times = pd.read_csv(out / "token_times.csv")
    assert times.groupby("job_id").size().sum() == jobs["output_tokens"].sum()
    trace = pd.read_csv(out / "trace.tokens.csv")
    assert list(trace.columns) == ["Timestamp", "Request tokens", "Response tokens"] and len(trace) == len(jobs)
    plan = simserve_cli(
        "plan", str(out / "scenario.trace.yaml"), "--out", str(tmp_path / "plan"), "--set", "horizon=60s",
        "--vary", "endpoint.max_workers=1,2", "-r", "2", "-j", "1", "-q", timeout_s=240,
    )  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    assert json.loads((tmp_path / "plan" / "plan.json").read_text())["table"]
