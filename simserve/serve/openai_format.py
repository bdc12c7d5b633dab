"""What the platform's vLLM worker yields, in its formats: OpenAI objects, server-sent events, batches.

Owns the shapes, and nothing else (no HTTP, no clock): ``chat_chunk`` / ``completion_chunk`` (one
``chat.completion.chunk`` / ``text_completion`` streaming object), ``sse`` (``data: {json}\\n\\n``) and
``DONE`` (``data: [DONE]\\n\\n``), ``chat_response`` / ``completion_response`` (the non-streaming
objects, with ``usage``), ``models_list``, ``native_batch`` (the worker's own streaming batch:
``{"choices": [{"tokens": [...]}], "usage": {"input", "output"}}``), ``worker_error`` (the error
object the worker yields: ``{"object": "error", "message", "type", "code"}``) and ``http_error`` (the
OpenAI API's error body, ``{"error": {"message", "type", "param", "code"}}``), ``BatchSize`` (how
many chunks the worker joins per yield: from ``min`` growing by ``growth`` up to ``max``, its
``MIN_BATCH_SIZE``, ``BATCH_SIZE_GROWTH_FACTOR`` and ``DEFAULT_BATCH_SIZE``: 1, 3 and 50 unless the
endpoint's environment says otherwise) and ``placeholder`` (the built-in worker's text: token ``k``
is one word of a fixed cycle, with a leading space).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

DONE = "data: [DONE]\n\n"
#: the vLLM worker's defaults (its constants.py), and the endpoint variables that change them
BATCH_DEFAULTS = {"DEFAULT_BATCH_SIZE": 50, "MIN_BATCH_SIZE": 1, "BATCH_SIZE_GROWTH_FACTOR": 3}
WORDS = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do")


def placeholder(first: int, last: int) -> list[str]:
    """The texts of tokens ``first`` .. ``last`` (1-based, inclusive).

    >>> placeholder(1, 3)
    [' lorem', ' ipsum', ' dolor']
    """
    return [" " + WORDS[(k - 1) % len(WORDS)] for k in range(first, last + 1)]


def sse(obj: Any) -> str:
    """One server-sent event carrying ``obj`` as JSON."""
    return "data: " + json.dumps(obj, separators=(",", ":")) + "\n\n"


def usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _envelope(
    rid: str, kind: str, model: str, created: int, choices: list[dict[str, Any]], used: dict[str, int] | None = None
) -> dict[str, Any]:
    """The fields every OpenAI completion object shares, around its ``choices`` (and ``usage``, when given)."""
    obj: dict[str, Any] = {"id": rid, "object": kind, "created": created, "model": model, "choices": choices}
    if used is not None:
        obj["usage"] = used
    return obj


def chat_chunk(rid: str, model: str, created: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    """One ``chat.completion.chunk``."""
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return _envelope(rid, "chat.completion.chunk", model, created, [choice])


def completion_chunk(rid: str, model: str, created: int, text: str, finish: str | None = None) -> dict[str, Any]:
    """One streamed ``text_completion``."""
    choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish}
    return _envelope(rid, "text_completion", model, created, [choice])


def usage_chunk(rid: str, model: str, created: int, chat: bool, prompt: int, completion: int) -> dict[str, Any]:
    """The last chunk of a stream asked with ``stream_options.include_usage``: no choices, the usage."""
    kind = "chat.completion.chunk" if chat else "text_completion"
    return _envelope(rid, kind, model, created, [], usage(prompt, completion))


def chat_response(rid: str, model: str, created: int, text: str, finish: str, prompt: int, n: int) -> dict[str, Any]:
    """The non-streaming ``chat.completion``."""
    message = {"role": "assistant", "content": text}
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
    return _envelope(rid, "chat.completion", model, created, [choice], usage(prompt, n))


def completion_response(
    rid: str, model: str, created: int, text: str, finish: str, prompt: int, n: int
) -> dict[str, Any]:
    """The non-streaming ``text_completion``."""
    choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish}
    return _envelope(rid, "text_completion", model, created, [choice], usage(prompt, n))


def models_list(model: str, created: int) -> dict[str, Any]:
    """``GET /v1/models``: the one model the worker serves."""
    return {
        "object": "list",
        "data": [{"id": model, "object": "model", "created": created, "owned_by": "simserve", "root": model}],
    }


def native_batch(tokens: list[str], prompt: int, total: int) -> dict[str, Any]:
    """One batch of the worker's native stream (``usage.output``: tokens so far)."""
    return {"choices": [{"tokens": tokens}], "usage": {"input": prompt, "output": total}}


def worker_error(message: str, kind: str = "BadRequestError", code: int = 400) -> dict[str, Any]:
    """The error object the vLLM worker yields for a request it refuses."""
    return {"object": "error", "message": message, "type": kind, "param": None, "code": code}


def http_error(
    message: str, kind: str = "invalid_request_error", code: int | str | None = None, param: Any = None
) -> dict[str, Any]:
    """The OpenAI API's error body."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class BatchSize:
    """Chunks per yield of the vLLM worker's stream: ``min``, then times ``growth`` each yield, up to ``max``.

    >>> b = BatchSize(50, 1, 3); sizes = []
    >>> for _ in range(6): sizes.append(b.current); b.update()
    >>> sizes
    [1, 3, 9, 27, 50, 50]
    """

    def __init__(self, max_size: int, min_size: int, growth: int) -> None:
        self.max = max(max_size, 1)
        self.growth = max(growth, 1)
        self.current = min(max(min_size, 1), self.max) if self.growth > 1 else self.max

    def update(self) -> None:
        self.current = min(self.current * self.growth, self.max)

    @classmethod
    def of(
        cls, env: Mapping[str, str], given: tuple[int | None, int | None, int | None] = (None, None, None)
    ) -> BatchSize:
        """The worker's batch sizes from the endpoint's environment (and a native request's own)."""

        def value(name: str, override: int | None) -> int:
            if override is not None:
                return override
            try:
                return int(env.get(name, BATCH_DEFAULTS[name]))
            except (TypeError, ValueError):
                return BATCH_DEFAULTS[name]

        return cls(
            value("DEFAULT_BATCH_SIZE", given[0]),
            value("MIN_BATCH_SIZE", given[1]),
            value("BATCH_SIZE_GROWTH_FACTOR", given[2]),
        )


def _events(text: str) -> list[Any]:
    """The JSON objects of a string of server-sent events (``[DONE]`` and anything else skipped)."""
    out = []
    for raw in text.split("\n\n"):
        part = raw.strip()
        if part.startswith("data:") and part[5:].strip() != "[DONE]":
            try:
                out.append(json.loads(part[5:]))
            except ValueError:
                continue
    return out


def output_tokens(yields: list[Any]) -> int | None:
    """The output tokens of a worker's yields (a handler's, measured): the last ``usage`` they carry
    (``completion_tokens``, or the native ``output``), else the count of streamed chunks carrying text
    (one a token, as vLLM streams), else None.

    >>> def chunk(delta): return sse(chat_chunk("c", "m", 0, delta))
    >>> output_tokens([chunk({"role": "assistant"}) + chunk({"content": " a"}), chunk({"content": " b"}) + DONE])
    2
    >>> output_tokens([native_batch([" a", " b"], 3, 2), native_batch([" c"], 3, 3)])
    3
    """
    used: int | None = None
    counted = 0
    for y in yields:
        for obj in _events(y) if isinstance(y, str) else [y]:
            if not isinstance(obj, dict):
                continue
            u = obj.get("usage")
            if isinstance(u, dict):
                n = u.get("completion_tokens", u.get("output"))
                if isinstance(n, int) and not isinstance(n, bool):
                    used = n
            for choice in obj.get("choices") or ():
                if not isinstance(choice, dict):
                    continue
                delta = choice.get("delta")
                text = delta.get("content") if isinstance(delta, dict) else choice.get("text")
                if isinstance(text, str) and text:
                    counted += 1
    if used is not None:
        return used
    return counted or None
