"""The endpoint API's routes on aiohttp: requests in, the live driver's job events out, JSON answers.

Owns ``build_app``: ``POST /v2/{endpoint_id}/run`` and ``/runsync``, ``GET /status/{job_id}``,
``GET /stream/{job_id}``, ``POST /cancel/{job_id}`` and ``/retry/{job_id}``, ``POST /purge-queue``,
``GET /health`` (any endpoint id: an application's own id works unchanged), ``GET /`` (the
dashboard page) and ``GET /v2/{endpoint_id}/dashboard`` (its data). Every route but the page needs
``Authorization: Bearer KEY`` (401 otherwise). A route over its rate limit is 429 with
``Retry-After`` (``simserve.serve.limits``). The OpenAI-compatible route
``/v2/{endpoint_id}/openai/v1/*`` is ``simserve.serve.openai_api``'s; its errors take the OpenAI
shape. On an LLM endpoint a job's input is read as the vLLM worker reads it (``simserve.serve.llm``;
with the built-in worker a bad one is 400) and carries its tokens. Bodies over the platform's limits are 413 (10 MB
``/run``, 20 MB ``/runsync``), malformed JSON, a body without ``input`` or a ``policy`` value out of
the platform's range (the bound named) is 400, an unknown job id (or one whose result has expired)
is 404, a stopped run is 503: always a JSON ``{"error": ...}``. Any other error in a handler is a
500 JSON answer (counted), never a crash. ``/run`` answers ``IN_QUEUE`` whatever happened since, as
the platform does. A job request that comes while the run starts (the port opens first) is held until the
endpoint takes jobs (``ServeSession.taking_jobs``), as the platform queues it. A request that got a job id has
its job in the tables. Translation only: every rule is the endpoint core's (``simserve.endpoint.jobops``).
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from simserve.endpoint.jobops import retry_refusal
from simserve.serve.dashboard import PAGE
from simserve.serve.limits import RateLimiter, policy_ms
from simserve.serve.llm_requests import RequestError
from simserve.serve.openai_api import OpenAIError, add_openai_routes, openai_json
from simserve.serve.openai_format import http_error

RUN_LIMIT_BYTES = 10 * 1000 * 1000
RUNSYNC_LIMIT_BYTES = 20 * 1000 * 1000
#: /runsync waits this long for the result by default (ms), as the platform does; ``?wait=`` 1000-300000
RUNSYNC_WAIT_MS = 90_000
RUNSYNC_WAIT_RANGE_MS = (1_000, 300_000)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=json.dumps(data), status=status, content_type="application/json", headers=headers)


def _error(path: str, message: str, status: int, headers: dict[str, str] | None = None) -> web.Response:
    """An error answer: ``{"error": message}``, or the OpenAI shape on the OpenAI route."""
    if "/openai/" in path:
        kind = "invalid_request_error" if status < 500 else "server_error"
        return _json(http_error(message, kind, status), status, headers)
    return _json({"error": message}, status, headers)


def limited(limiter: RateLimiter | None, route: str, handler: Handler) -> Handler:
    """``handler`` behind ``route``'s rate limit (429 with ``Retry-After`` over it); as is without limits."""
    if limiter is None or route not in limiter.limits:
        return handler

    async def guarded(request: web.Request) -> web.StreamResponse:
        refusal = limiter.admit(route)
        if refusal is not None:
            raise ApiError(429, refusal.message, {"Retry-After": str(max(1, math.ceil(refusal.retry_after_s)))})
        try:
            return await handler(request)
        finally:
            limiter.done(route)

    return guarded


def build_app(session: Any) -> web.Application:
    """The aiohttp application of one ``ServeSession`` (its key, book, driver and dashboard data)."""
    keys = [f"Bearer {session.api_key}".encode(), session.api_key.encode()]
    counts = session.http_counts

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        counts["requests"] += 1
        try:
            if request.path != "/":
                auth = request.headers.get("Authorization", "").strip().encode("latin-1", "replace")
                if not any(hmac.compare_digest(auth, k) for k in keys):
                    counts["unauthorized"] += 1
                    raise ApiError(401, "unauthorized: send Authorization: Bearer <api key>")
            return await handler(request)
        except ApiError as exc:
            counts[str(exc.status)] = counts.get(str(exc.status), 0) + 1
            return _error(request.path, exc.message, exc.status, exc.headers)
        except OpenAIError as exc:
            counts[str(exc.status)] = counts.get(str(exc.status), 0) + 1
            return openai_json(exc.body, exc.status)
        except web.HTTPRequestEntityTooLarge:
            counts["413"] = counts.get("413", 0) + 1
            return _error(request.path, "request body too large", 413)
        except web.HTTPException as exc:
            if exc.status >= 400:
                counts[str(exc.status)] = counts.get(str(exc.status), 0) + 1
                return _error(request.path, exc.reason, exc.status)
            raise
        except Exception as exc:  # noqa: BLE001 - the server never crashes on a request: a JSON 500
            counts["500"] = counts.get("500", 0) + 1
            session.last_error = f"{type(exc).__name__}: {exc}"
            return _error(request.path, f"internal error: {type(exc).__name__}", 500)

    book = session.book

    def job_of(request: web.Request) -> int:
        j = book.find(request.match_info["job_id"])
        if j < 0:
            raise ApiError(404, f"job {request.match_info['job_id'][:80]!r} not found")
        return j

    async def body_of(request: web.Request, limit: int) -> dict[str, Any]:
        if request.content_length is not None and request.content_length > limit:
            raise ApiError(413, f"request body over {limit // 1_000_000} MB")
        raw = await request.read()
        if len(raw) > limit:
            raise ApiError(413, f"request body over {limit // 1_000_000} MB")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ApiError(400, f"malformed JSON: {' '.join(str(exc).split())[:200]}") from None
        if not isinstance(data, dict):
            raise ApiError(400, "expected a JSON object with 'input'")
        if data.get("input") is None:
            raise ApiError(400, "missing 'input'")
        return data

    bounded = bool(session.policy_bounds)

    async def taking_jobs() -> None:
        """Once the endpoint takes jobs (a request that came while it starts is held); 503 if it never does."""
        if not await session.taking_jobs():
            raise ApiError(503, "the endpoint is not running (it did not start, or it is stopping)")

    async def submit(data: dict[str, Any], sync: bool) -> int:
        hook = data.get("webhook")
        if hook is not None and (not isinstance(hook, str) or not hook.startswith(("http://", "https://"))):
            raise ApiError(400, "'webhook': expected an http(s) URL")
        s3 = data.get("s3Config")
        if s3 is not None and not isinstance(s3, dict):
            raise ApiError(400, "'s3Config': expected an object")
        policy = _policy(data.get("policy"), bounded)
        llm, req, tokens = session.llm, None, None
        if llm is not None:  # an LLM endpoint: the input as its vLLM worker reads it, and the job's tokens
            try:
                req, tokens = llm.tokens(data["input"])
            except RequestError as exc:
                raise ApiError(400, exc.message) from None
        await taking_jobs()
        j = session.driver.submit(policy.exec_s, policy.ttl_s, policy.low_priority, tokens)
        if j < 0:
            raise ApiError(503, "the endpoint is stopping")
        book.add(j, data["input"], hook, sync, s3)
        if llm is not None and req is not None:
            llm.started(j, req)
        return j

    async def run(request: web.Request) -> web.StreamResponse:
        j = await submit(await body_of(request, RUN_LIMIT_BYTES), sync=False)
        return _json({"id": book.ids[j], "status": "IN_QUEUE"})  # the platform's answer, whatever came since

    async def runsync(request: web.Request) -> web.StreamResponse:
        wait_ms = _wait_ms(request.query.get("wait"))
        j = await submit(await body_of(request, RUNSYNC_LIMIT_BYTES), sync=True)
        await book.wait(j, wait_ms / 1000)
        return _json(book.answer(j))

    async def status(request: web.Request) -> web.StreamResponse:
        return _json(book.answer(job_of(request)))

    async def stream(request: web.Request) -> web.StreamResponse:
        return _json(book.stream(job_of(request)))

    async def cancel(request: web.Request) -> web.StreamResponse:
        j = job_of(request)
        if session.driver.cancel(j):
            book.ended(j)
        return _json({"id": book.ids[j], "status": book.status_name(j)})

    async def retry(request: web.Request) -> web.StreamResponse:
        j = job_of(request)
        refusal = retry_refusal(book.rec.status[j])  # the core's rule
        if refusal is not None:
            raise ApiError(400, f"job {book.ids[j]} is {book.status_name(j)}: {refusal}")
        book.retried(j)
        if not session.driver.retry(j):
            raise ApiError(400, f"job {book.ids[j]} cannot be retried now")
        return _json({"id": book.ids[j], "status": book.status_name(j)})

    async def purge(request: web.Request) -> web.StreamResponse:
        await taking_jobs()
        removed = session.driver.purge()
        for j in removed:
            book.ended(j)
        return _json({"removed": len(removed), "status": "completed"})

    async def health(request: web.Request) -> web.StreamResponse:
        return _json(book.health())

    async def dashboard_data(request: web.Request) -> web.StreamResponse:
        return _json(session.dashboard())

    async def page(request: web.Request) -> web.StreamResponse:
        return web.Response(text=PAGE, content_type="text/html", headers={"Cache-Control": "no-store"})

    limiter = session.rate_limits
    app = web.Application(middlewares=[guard], client_max_size=RUNSYNC_LIMIT_BYTES + (1 << 16))
    app.router.add_get("/", page)
    v2 = "/v2/{endpoint_id}"
    app.router.add_post(f"{v2}/run", limited(limiter, "run", run))
    app.router.add_post(f"{v2}/runsync", limited(limiter, "runsync", runsync))
    app.router.add_get(f"{v2}/status/{{job_id}}", status)
    app.router.add_post(f"{v2}/status/{{job_id}}", status)
    app.router.add_get(f"{v2}/stream/{{job_id}}", stream)
    app.router.add_post(f"{v2}/stream/{{job_id}}", stream)
    app.router.add_post(f"{v2}/cancel/{{job_id}}", limited(limiter, "cancel", cancel))
    app.router.add_post(f"{v2}/retry/{{job_id}}", retry)
    app.router.add_post(f"{v2}/purge-queue", limited(limiter, "purge-queue", purge))
    app.router.add_get(f"{v2}/health", health)
    app.router.add_get(f"{v2}/dashboard", dashboard_data)
    add_openai_routes(app, session, submit)
    return app


@dataclass(frozen=True, slots=True)
class Policy:
    """A request's ``policy``: execution timeout and TTL in seconds (None: the endpoint's), low priority."""

    exec_s: float | None = None
    ttl_s: float | None = None
    low_priority: bool = False


def _seconds(policy: dict[str, Any], name: str, bounded: bool) -> float | None:
    value = policy.get(name)
    if value is None:
        return None
    ms = policy_ms(value, name, bounded)
    if isinstance(ms, str):
        raise ApiError(400, ms)
    return ms / 1000


def _policy(policy: Any, bounded: bool = True) -> Policy:
    """A request's ``policy`` (times in ms, each inside the platform's range when ``bounded``)."""
    if policy is None:
        return Policy()
    if not isinstance(policy, dict):
        raise ApiError(400, "'policy': expected an object")
    low = policy.get("lowPriority", False)
    if not isinstance(low, bool):
        raise ApiError(400, "'policy.lowPriority': expected true or false")
    return Policy(_seconds(policy, "executionTimeout", bounded), _seconds(policy, "ttl", bounded), low)


def _wait_ms(text: str | None) -> float:
    if text is None:
        return RUNSYNC_WAIT_MS
    try:
        value = float(text)
    except ValueError:
        raise ApiError(400, f"'wait': expected milliseconds, got {text[:40]!r}") from None
    lo, hi = RUNSYNC_WAIT_RANGE_MS
    if not math.isfinite(value):
        raise ApiError(400, f"'wait': expected milliseconds, got {text[:40]!r}")
    return min(max(value, lo), hi)
