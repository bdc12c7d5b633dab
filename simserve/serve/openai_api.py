"""The platform's OpenAI-compatible route on ``simserve serve``: ``/v2/{endpoint_id}/openai/v1/*``.

Owns ``add_openai_routes``: ``POST .../openai/v1/chat/completions`` and ``.../completions``, ``GET
.../openai/v1/models``. A request becomes a job as the platform makes it, input ``{"openai_route":
"/v1/...", "openai_input": <the body>}`` (submitted like a ``/runsync`` job: the same API key, the
same queue and policy, a ``sync-`` id). Its answer is what the worker yielded, passed on as it comes:
with ``stream`` true a ``text/event-stream`` response whose body is each yielded string as it is
(an object: ``data: {json}\\n\\n``), sent once the first chunk is there; otherwise the one object the
worker yielded (or returned), with ``usage``. A job that does not complete answers in the OpenAI
error shape (``{"error": {"message", "type", "param", "code"}}``: 400 for a request the worker
refuses, 408 timed out, 500 failed, 503 stopping), as does every error of these routes
(``openai_format.http_error``; ``simserve.serve.api``'s guard uses it on ``/openai/`` paths). A
client that goes away leaves its job running, as the platform's queue does. No platform rule.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from simserve.records import JobStatus
from simserve.serve.jobs import ENDED
from simserve.serve.llm_requests import CHAT_ROUTE, COMPLETIONS_ROUTE, MODELS_ROUTE
from simserve.serve.openai_format import http_error, sse

OPENAI_LIMIT_BYTES = 20 * 1000 * 1000
#: a waiting answer re-reads its job this often (s): a job can end without a wake-up (a TTL in the queue)
POLL_S = 1.0
#: HTTP status of a job that did not complete, by its status
FAILED_HTTP = {
    int(JobStatus.TIMED_OUT): (408, "timeout_error"),
    int(JobStatus.CANCELLED): (499, "cancelled"),
}


class OpenAIError(Exception):
    """An error answered in the OpenAI shape."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", param: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = http_error(message, kind, status, param)


def openai_json(body: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json")


Submit = Callable[[dict[str, Any], bool], Awaitable[int]]  # the API's job submission: (data, sync) -> core job


def add_openai_routes(app: web.Application, session: Any, submit: Submit) -> None:
    """The OpenAI routes of one ``ServeSession`` (``submit(data, sync)``: the API's job submission)."""
    book = session.book
    base = "/v2/{endpoint_id}/openai/v1"

    async def body_of(request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if len(raw) > OPENAI_LIMIT_BYTES:
            raise OpenAIError(413, f"request body over {OPENAI_LIMIT_BYTES // 1_000_000} MB")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise OpenAIError(400, f"malformed JSON: {' '.join(str(exc).split())[:200]}") from None
        if not isinstance(data, dict):
            raise OpenAIError(400, "expected a JSON object")
        return data

    async def answer(request: web.Request, route: str, body: dict[str, Any]) -> web.StreamResponse:
        j = await submit({"input": {"openai_route": route, "openai_input": body}}, True)
        if body.get("stream") is True:
            return await _stream(request, book, j)
        while book.rec.status[j] not in ENDED and book.open:
            await book.wait(j, POLL_S)
        return _final(book, j)

    async def chat(request: web.Request) -> web.StreamResponse:
        return await answer(request, CHAT_ROUTE, await body_of(request))

    async def completions(request: web.Request) -> web.StreamResponse:
        return await answer(request, COMPLETIONS_ROUTE, await body_of(request))

    async def models(request: web.Request) -> web.StreamResponse:
        return await answer(request, MODELS_ROUTE, {})

    app.router.add_post(f"{base}/chat/completions", chat)
    app.router.add_post(f"{base}/completions", completions)
    app.router.add_get(f"{base}/models", models)


def _error_of(book: Any, j: int) -> OpenAIError:
    """The OpenAI error of job ``j``, which did not complete (or has not yet, when the run stops)."""
    status = int(book.rec.status[j])
    if status not in ENDED:
        return OpenAIError(503, "the endpoint stopped before the job ended", "service_unavailable")
    http, kind = FAILED_HTTP.get(status, (500, "server_error"))
    message = book.answer(j).get("error") or book.status_name(j).lower()
    return OpenAIError(http, str(message), kind)


def _worker_error(chunk: Any) -> OpenAIError | None:
    """A chunk that is the vLLM worker's error object (``{"object": "error", ...}``), as an OpenAI error."""
    if isinstance(chunk, dict) and chunk.get("object") == "error":
        code = chunk.get("code")
        status = code if isinstance(code, int) and 400 <= code < 600 else 400
        return OpenAIError(status, str(chunk.get("message", "error")), str(chunk.get("type", "BadRequestError")))
    return None


def _final(book: Any, j: int) -> web.Response:
    """A non-streamed answer: the worker's one object (the first of its yields)."""
    if book.rec.status[j] != JobStatus.COMPLETED:
        err = _error_of(book, j)
        return openai_json(err.body, err.status)
    out = book.outputs.get(j)
    if isinstance(out, list):
        out = next((x for x in out if isinstance(x, dict)), out[0] if out else None)
    err_ = _worker_error(out)
    if err_ is not None:
        return openai_json(err_.body, err_.status)
    if isinstance(out, str):
        return web.Response(text=out, content_type="application/json")
    return openai_json(out)


def _encode(chunk: Any) -> bytes:
    """A yielded chunk on the wire: a string as it is, anything else as one server-sent event."""
    return (chunk if isinstance(chunk, str) else sse(chunk)).encode()


async def _stream(request: web.Request, book: Any, j: int) -> web.StreamResponse:
    """A streamed answer: each chunk the worker yields, as it comes; headers once the first is there."""
    resp: web.StreamResponse | None = None

    async def send(chunk: Any) -> web.Response | None:
        """Write one chunk; before the headers, a worker's error object is the whole answer instead."""
        nonlocal resp
        if resp is None:
            err = _worker_error(chunk)
            if err is not None:
                return openai_json(err.body, err.status)
            resp = await _open(request)
        await resp.write(_encode(chunk))
        return None

    sent = 0
    try:
        while True:
            chunks = book.chunks.get(j) or ()
            while sent < len(chunks):
                sent += 1
                if (answer := await send(chunks[sent - 1])) is not None:
                    return answer
            if book.rec.status[j] in ENDED or not book.open:
                break
            await book.wait_chunk(j, sent, POLL_S)
        status = book.rec.status[j]
        if status == JobStatus.COMPLETED and sent == 0:  # a worker that returned instead of yielding
            out = book.outputs.get(j)
            for chunk in out if isinstance(out, list) else [out]:
                if (answer := await send(chunk)) is not None:
                    return answer
        elif status != JobStatus.COMPLETED:
            err = _error_of(book, j)
            if resp is None:
                return openai_json(err.body, err.status)
            await resp.write(_encode(err.body))
        if resp is None:
            resp = await _open(request)
        await resp.write_eof()
    except (ConnectionResetError, ConnectionError):
        pass  # the client went away; its job runs on
    return resp if resp is not None else web.Response(status=499)


async def _open(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(
        status=200,
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    await resp.prepare(request)
    return resp
