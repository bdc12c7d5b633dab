"""A worker written the way the platform's vLLM worker (runpod-workers/worker-vllm) is written, on a CPU.

The handler is an async generator reading the job's input as that worker does: a request through the
endpoint's OpenAI-compatible route arrives as ``{"openai_route": "/v1/chat/completions" |
"/v1/completions" | "/v1/models", "openai_input": <the OpenAI body>}``; the native input is
``{"messages" | "prompt": ..., "sampling_params": {"max_tokens": ...}, "stream": bool}``. A streamed
OpenAI request yields strings of server-sent events (``data: {chunk}\\n\\n``), several joined per
yield (1, then 3, 9, ... up to ``DEFAULT_BATCH_SIZE``, as the worker's ``BatchSize`` grows), the last
ending with ``data: [DONE]\\n\\n``; an unstreamed one yields one OpenAI object with ``usage``; a
native request yields ``{"choices": [{"tokens": [...]}], "usage": {"input", "output"}}`` batches.
The tokens come from ``llm_engine.py``'s continuous-batching engine on the CPU (one per process, so
concurrent requests share its batch; the scenario's step figures from ``SIMSERVE_ENGINE``, which
``simserve live`` and ``serve`` set, else its defaults), as placeholder words: no GPU, no weights, no tokenizer (the prompt is
counted at 4 characters a token). Started with the Runpod SDK and ``return_aggregate_stream``, as
the vLLM worker is, with its ``MAX_CONCURRENCY`` (default 30) as ``concurrency_modifier``.
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import runpod
from llm_engine import generate

MAX_CONCURRENCY = int(os.environ.get("MAX_CONCURRENCY", "30"))
DEFAULT_BATCH_SIZE = int(os.environ.get("DEFAULT_BATCH_SIZE", "50"))
MIN_BATCH_SIZE = int(os.environ.get("MIN_BATCH_SIZE", "1"))
GROWTH = int(os.environ.get("BATCH_SIZE_GROWTH_FACTOR", "3"))
MODEL = os.environ.get("OPENAI_SERVED_MODEL_NAME_OVERRIDE", "vllm-style/placeholder")
WORDS = ("lorem", "ipsum", "dolor", "sit", "amet")


def count_prompt(prompt: Any) -> int:
    if isinstance(prompt, list):
        text = "".join(str(m.get("content", "")) if isinstance(m, dict) else str(m) for m in prompt)
        return max(1, math.ceil(len(text) / 4) + 4 * len(prompt))
    return max(1, math.ceil(len(str(prompt or "")) / 4))


#: the scenario's engine figures that ``simserve live`` / ``serve`` give a worker (wall seconds); none: defaults
ENGINE = json.loads(os.environ.get("SIMSERVE_ENGINE") or "{}")


async def tokens(n_in: int, n_out: int) -> AsyncIterator[str]:
    """The engine's tokens for one request, as text."""
    async for k in generate({"input_tokens": n_in, "output_tokens": n_out, "engine": ENGINE}):
        yield " " + WORDS[(k - 1) % len(WORDS)]


def sse(obj: Any) -> str:
    return "data: " + json.dumps(obj) + "\n\n"


async def openai_route(route: str, body: dict[str, Any]) -> AsyncIterator[Any]:
    if route == "/v1/models":
        yield {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "vllm-style"}]}
        return
    chat = route == "/v1/chat/completions"
    prompt = body.get("messages") if chat else body.get("prompt")
    if route not in ("/v1/chat/completions", "/v1/completions") or not prompt:
        yield {"object": "error", "message": f"bad request on {route}", "type": "BadRequestError", "code": 400}
        return
    n_in = count_prompt(prompt)
    n_out = int(body.get("max_tokens") or body.get("max_completion_tokens") or 16)
    rid, created, model = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex, int(time.time()), body.get("model")
    kind = "chat.completion" if chat else "text_completion"

    def chunk(text: str | None, finish: str | None = None, role: bool = False) -> str:
        if chat:
            delta = {"role": "assistant"} if role else ({"content": text} if text is not None else {})
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
        else:
            choice = {"index": 0, "text": text or "", "finish_reason": finish}
        return sse({"id": rid, "object": kind + (".chunk" if chat else ""), "created": created, "model": model,
                    "choices": [choice]})  # fmt: skip

    usage = {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out}
    if not body.get("stream"):
        text = "".join([t async for t in tokens(n_in, n_out)])
        choice: dict[str, Any] = {"index": 0, "finish_reason": "length"}
        choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
        yield {"id": rid, "object": kind, "created": created, "model": model, "choices": [choice], "usage": usage}
        return
    batch: list[str] = [chunk(None, role=True)] if chat else []
    size = MIN_BATCH_SIZE
    async for text in tokens(n_in, n_out):
        batch.append(chunk(text))
        if len(batch) >= size:
            yield "".join(batch)
            batch, size = [], min(size * GROWTH, DEFAULT_BATCH_SIZE)
    batch += [chunk(None, "length"), "data: [DONE]\n\n"]
    yield "".join(batch)


async def native(job_input: dict[str, Any]) -> AsyncIterator[Any]:
    prompt = job_input.get("messages") or job_input.get("prompt")
    n_in = count_prompt(prompt)
    n_out = int((job_input.get("sampling_params") or {}).get("max_tokens") or 16)
    stream, batch, total, size = bool(job_input.get("stream")), [], 0, MIN_BATCH_SIZE
    async for text in tokens(n_in, n_out):
        batch.append(text)
        total += 1
        if stream and len(batch) >= size:
            yield {"choices": [{"tokens": batch}], "usage": {"input": n_in, "output": total}}
            batch, size = [], min(size * GROWTH, DEFAULT_BATCH_SIZE)
    if batch:
        yield {"choices": [{"tokens": batch if stream else ["".join(batch)]}], "usage": {"input": n_in, "output": total}}


async def handler(job: dict[str, Any]) -> AsyncIterator[Any]:
    job_input = job["input"]
    if job_input.get("openai_route"):
        results = openai_route(job_input["openai_route"], job_input.get("openai_input") or {})
    else:
        results = native(job_input)
    async for batch in results:
        yield batch


if __name__ == "__main__":
    runpod.serverless.start(
        {"handler": handler, "concurrency_modifier": lambda current: MAX_CONCURRENCY, "return_aggregate_stream": True}
    )
