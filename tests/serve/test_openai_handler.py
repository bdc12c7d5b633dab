"""``simserve serve --handler`` on an LLM scenario with a worker written as the platform's vLLM worker is
(``examples/handlers/vllm_worker_style.py``: a Runpod SDK async generator reading ``openai_route`` /
``openai_input``, yielding SSE strings in batches): the OpenAI client and the ``runpod`` SDK run
unchanged, the worker's yields reach them as it made them, and ``jobs.csv`` has the TTFT and TPOT measured
from its streamed chunks and the output tokens it gave."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.serve.conftest import Server, start_server

openai = pytest.importorskip("openai")
runpod = pytest.importorskip("runpod")

pytestmark = [pytest.mark.live, pytest.mark.xdist_group("serve-openai")]

WORKER = Path(__file__).resolve().parents[2] / "examples" / "handlers" / "vllm_worker_style.py"
LLM = [
    "--set",
    "workload.service={type: llm, prefill_tokens_per_s: 20000, decode_step: {base: 10ms, per_sequence: 0}}",
    "--set",
    "workload.tokens={input: 20, output: 6}",
]
CONCURRENT = 8


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("serve-vllm") / "run", *LLM, handler=WORKER)
    yield srv
    srv.stop()


def test_the_workers_stream_reaches_the_openai_client(worker: Server):
    chunks = list(
        worker.openai().chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=10, stream=True
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert sum(1 for c in chunks if c.choices[0].delta.content) == 10
    assert chunks[-1].choices[0].finish_reason == "length"


def test_unstreamed_answers_models_and_the_workers_error(worker: Server):
    c = worker.openai()
    chat = c.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=4)
    assert chat.usage.completion_tokens == 4 and len(chat.choices[0].message.content.split()) == 4
    assert [m.id for m in c.models.list()] == ["vllm-style/placeholder"]
    with pytest.raises(openai.BadRequestError) as bad:  # the worker yields its error object: passed on as a 400
        c.chat.completions.create(model="m", messages=[], max_tokens=4)
    assert "bad request" in bad.value.body["message"]


def test_concurrent_async_streams(worker: Server):
    async def one(c: Any) -> int:
        stream = await c.completions.create(model="m", prompt="go", max_tokens=6, stream=True)
        return sum([1 async for chunk in stream if chunk.choices and chunk.choices[0].text])

    async def main() -> list[int]:
        c = worker.openai(asynchronous=True)
        try:
            return await asyncio.gather(*(one(c) for _ in range(CONCURRENT)))
        finally:
            await c.close()

    assert asyncio.run(main()) == [6] * CONCURRENT


def test_the_runpod_sdk_with_the_native_input(worker: Server):
    runpod.api_key = worker.key
    runpod.endpoint_url_base = worker.base
    ep = runpod.Endpoint("local")
    out = ep.run_sync({"prompt": "hello", "sampling_params": {"max_tokens": 5}, "stream": True}, 60)
    assert [t for b in out for t in b["choices"][0]["tokens"]] == [" lorem", " ipsum", " dolor", " sit", " amet"]
    assert out[-1]["usage"] == {"input": 2, "output": 5}


def test_jobs_csv_has_the_measured_tokens_ttft_and_tpot(worker: Server):
    rc, printed = worker.stop()
    assert rc == 130, printed[-2000:]
    jobs = pd.read_csv(worker.out / "jobs.csv")
    assert len(jobs) == CONCURRENT + 5 and (jobs["status"] == "completed").all()
    streamed = jobs[jobs["output_tokens"] >= 5]
    assert (jobs["output_tokens"] == 6).sum() == CONCURRENT and (jobs["output_tokens"] == 10).sum() == 1
    assert (streamed["ttft_s"] > 0).all() and (streamed["ttft_s"] < streamed["latency_s"]).all()
    assert (streamed["tpot_s"] > 0).all()
    summary = json.loads((worker.out / "summary.json").read_text())
    assert summary["live"]["protocol"] == "runpod" and summary["live"]["token_times"]["jobs"] == len(jobs)
