"""LLM requests to ``simserve serve``, read as the platform's vLLM worker reads its job input.

Owns ``LlmRequest`` (which route, streamed or not, the prompt's tokens, the output tokens asked for,
the model named), ``read_request`` (a job's input: ``{"openai_route", "openai_input"}`` as the
OpenAI-compatible route makes it, or the worker's native ``{"messages"|"prompt", "sampling_params",
"stream", ...}``; a bad one raises ``RequestError`` with the OpenAI error's message and parameter),
``prompt_tokens`` (the documented estimate: one token per 4 characters of the text, rounded up, plus
4 per chat message for its role and separators; at least 1; no tokenizer is loaded) and
``OutputLengths`` (how many tokens a request that sets no ``max_tokens`` gets: drawn, seeded, from
the scenario's ``workload.tokens.output`` distribution, else from its trace's output lengths, else
``DEFAULT_OUTPUT_TOKENS``). No HTTP, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simserve.rng import RandomStreams

CHAT_ROUTE = "/v1/chat/completions"
COMPLETIONS_ROUTE = "/v1/completions"
MODELS_ROUTE = "/v1/models"
OPENAI_ROUTES = (CHAT_ROUTE, COMPLETIONS_ROUTE, MODELS_ROUTE)
#: characters per token of the prompt estimate, and tokens per chat message beyond its text
CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
#: output tokens of a request without max_tokens when the scenario gives no lengths to draw from
DEFAULT_OUTPUT_TOKENS = 16
#: the most output tokens one request may ask for (a bound on one job's work; vLLM's own is the context)
MAX_OUTPUT_TOKENS = 1_000_000


class RequestError(ValueError):
    """A request the vLLM worker would refuse: the OpenAI error's ``message`` and ``param``."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass(frozen=True, slots=True)
class LlmRequest:
    """One LLM job's request. ``route``: an OpenAI route, or ``native`` (the worker's own input)."""

    route: str
    stream: bool
    prompt_tokens: int
    max_tokens: int | None  # None: unset (the engine stops when the model does)
    model: str | None
    include_usage: bool = False  # stream_options.include_usage: a last chunk with the usage
    batch: tuple[int | None, int | None, int | None] = (None, None, None)  # native: max, min, growth


def prompt_tokens(prompt: Any) -> int:
    """The estimate of a prompt's tokens: text length / ``CHARS_PER_TOKEN`` rounded up, plus
    ``TOKENS_PER_MESSAGE`` per chat message; at least 1.

    >>> prompt_tokens("hello world!"), prompt_tokens([{"role": "user", "content": "hi"}])
    (3, 5)
    """
    if isinstance(prompt, list) and prompt and all(isinstance(m, dict) for m in prompt):
        chars = sum(len(_text(m.get("content"))) for m in prompt)
        return max(1, math.ceil(chars / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * len(prompt))
    return max(1, math.ceil(len(_text(prompt)) / CHARS_PER_TOKEN))


def _text(value: Any) -> str:
    """The text of a prompt or a message's content (a list of parts: their ``text``; token ids: one char each)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            _text(v.get("text")) if isinstance(v, dict) else ("x" * CHARS_PER_TOKEN if isinstance(v, int) else _text(v))
            for v in value
        )
    return str(value)


def _count(value: Any, param: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_OUTPUT_TOKENS:
        raise RequestError(f"'{param}': expected a whole number from 1 to {MAX_OUTPUT_TOKENS}; got {value!r}", param)
    return value


def _flag(value: Any, param: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise RequestError(f"'{param}': expected true or false; got {value!r}", param)
    return value


def read_openai(route: str, body: Any) -> LlmRequest:
    """An OpenAI request body on ``route`` (``/v1/chat/completions``, ``/v1/completions``, ``/v1/models``)."""
    if route == MODELS_ROUTE:
        return LlmRequest(MODELS_ROUTE, False, 0, 1, None)
    if route not in OPENAI_ROUTES:
        raise RequestError(f"unknown route {route[:80]!r}: expected one of {', '.join(OPENAI_ROUTES)}")
    if not isinstance(body, dict):
        raise RequestError("expected a JSON object")
    if route == CHAT_ROUTE:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise RequestError("'messages': expected a non-empty list of {role, content} objects", "messages")
        n_in = prompt_tokens(messages)
    else:
        prompt = body.get("prompt")
        if not isinstance(prompt, (str, list)) or not prompt:
            raise RequestError("'prompt': expected a string or a list", "prompt")
        n_in = prompt_tokens(prompt)
    name = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise RequestError("'model': expected a string", "model")
    options = body.get("stream_options")
    usage = isinstance(options, dict) and options.get("include_usage") is True
    return LlmRequest(route, _flag(body.get("stream"), "stream"), n_in, _count(body.get(name), name), model, usage)


def read_request(given: Any) -> LlmRequest:
    """A job's input, as the vLLM worker reads it (the OpenAI route's, or its native input)."""
    if not isinstance(given, dict):
        raise RequestError("'input': expected an object with messages or prompt (or openai_route, openai_input)")
    if given.get("openai_route") is not None:
        route = given["openai_route"]
        if not isinstance(route, str):
            raise RequestError("'openai_route': expected a string", "openai_route")
        return read_openai(route, given.get("openai_input"))
    prompt = given.get("messages", given.get("prompt"))
    if not isinstance(prompt, (str, list)) or not prompt:
        raise RequestError("'input': expected messages (a list) or prompt (a string)", "prompt")
    params = given.get("sampling_params") or {}
    if not isinstance(params, dict):
        raise RequestError("'sampling_params': expected an object", "sampling_params")
    batch = tuple(_count(given.get(k), k) for k in ("max_batch_size", "min_batch_size", "batch_size_growth_factor"))
    return LlmRequest(
        "native",
        _flag(given.get("stream"), "stream"),
        prompt_tokens(prompt),
        _count(params.get("max_tokens"), "sampling_params.max_tokens"),
        None,
        batch=(batch[0], batch[1], batch[2]),
    )


class OutputLengths:
    """Output tokens of requests that set no ``max_tokens`` (see the module docstring); seeded by the run."""

    def __init__(self, scenario: Any, streams: RandomStreams) -> None:
        self.rng = streams.get("serve_output_tokens")
        self.dist = scenario.workload.tokens.output if scenario.workload.tokens is not None else None
        self.lengths: np.ndarray | None = None
        if self.dist is None:
            self.lengths = _trace_lengths(scenario)

    def draw(self) -> int:
        if self.dist is not None:
            value = float(self.dist.sample(self.rng, 1)[0])
            return int(min(max(round(value), 1), MAX_OUTPUT_TOKENS))
        if self.lengths is not None and len(self.lengths):
            return int(max(int(self.lengths[int(self.rng.integers(len(self.lengths)))]), 1))
        return DEFAULT_OUTPUT_TOKENS


def _trace_lengths(scenario: Any) -> np.ndarray | None:
    """The output lengths of the scenario's trace, when it has a format with tokens (else None)."""
    from simserve.scenario.workload import TraceArrivals
    from simserve.traceformats import TOKEN_FORMATS
    from simserve.workload import read_any_trace

    a = scenario.workload.arrivals
    if not isinstance(a, TraceArrivals) or a.format not in TOKEN_FORMATS:
        return None
    out = read_any_trace(scenario, np.random.default_rng(0))[3]
    return None if out is None else np.asarray(out, dtype=np.int64)
