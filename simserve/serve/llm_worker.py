"""The built-in LLM worker of ``simserve serve``: the vLLM worker's answers, timed by the core's engine.

Owns ``BuiltinWorker``, used when an LLM scenario is served without ``--handler``. The endpoint core
runs its batching engine model (``simserve.endpoint.engine``, the steps of ``simserve run``) on the
live driver's wall clock; after each engine step the driver calls ``on_timer``, and every job the
step gave tokens to gets them here (``BatchEngine.tokens_out``), as placeholder text
(``openai_format.placeholder``). What a job yields is what the platform's vLLM worker yields for its
input (``llm_requests.read_request``): a streamed OpenAI request, strings of server-sent events
joined in batches (``openai_format.BatchSize``: 1, 3, 9, ... chunks a yield), the role chunk with the
first token and ``data: [DONE]`` in the last one; a streamed native request, ``native_batch``es; an
unstreamed one, one object at its end (with ``usage``). Each yield goes to the job book as a chunk
(``/stream``, the OpenAI route's stream) and the list of them is the job's output (the worker's
``return_aggregate_stream``). A job that ends otherwise (timed out, too large for the KV cache,
cancelled) ends with the book's error. Each completed job's token times (scenario seconds) are kept
for ``token_times.csv``. It decides nothing: the tokens and their times are the core's.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simserve.endpoint import SetTimer
from simserve.endpoint.effects import TimerKind
from simserve.live.adapter import MAX_TOKEN_ROWS
from simserve.live.runtime import JobOutcome
from simserve.records import JobStatus
from simserve.serve import openai_format as fmt
from simserve.serve.jobs import ENDED, JobBook
from simserve.serve.llm_requests import CHAT_ROUTE, COMPLETIONS_ROUTE, MODELS_ROUTE, LlmRequest

_IN_QUEUE = int(JobStatus.IN_QUEUE)
_COMPLETED = int(JobStatus.COMPLETED)


@dataclass(slots=True)
class _Reply:
    """One job's answer being made: its request, the tokens given out, the chunks not yet yielded."""

    req: LlmRequest
    rid: str
    created: int
    batch: fmt.BatchSize
    made: int = 0
    pending: list[Any] = field(default_factory=list)
    yields: list[Any] = field(default_factory=list)
    times: list[float] = field(default_factory=list)


class BuiltinWorker:
    """Answers for the jobs of an LLM endpoint whose engine is the core's model."""

    def __init__(self, core: Any, book: JobBook, model: str, env: Mapping[str, str]) -> None:
        self.core = core
        self.engine = core.llm
        self.book = book
        self.model = model
        self.env = dict(env)
        self.replies: dict[int, _Reply] = {}
        self.token_times: list[tuple[int, tuple[float, ...]]] = []
        self.token_rows = 0
        self.token_times_dropped = 0

    # ------------------------------------------------------------------ jobs
    def start(self, j: int, req: LlmRequest) -> None:
        """Job ``j`` (just submitted) will be answered as ``req`` asks."""
        prefix = "chatcmpl-" if req.route == CHAT_ROUTE else "cmpl-"
        batch = fmt.BatchSize.of(self.env, req.batch)
        self.replies[j] = _Reply(req, prefix + uuid.uuid4().hex, int(time.time()), batch)
        if self.core.status[j] in ENDED:  # ended at its arrival (a per_request rejection)
            self.ended(j)

    def on_timer(self, t: SetTimer, now: float) -> None:
        """The live driver's observer: after an engine step, the tokens it gave out (and the jobs it ended)."""
        if t.kind != TimerKind.STEP or not self.replies:
            return
        status = self.core.status
        tokens_out = self.engine.tokens_out
        for j in list(self.replies):
            s = status[j]
            if s == _IN_QUEUE:
                continue
            r = self.replies[j]
            n = tokens_out(j)
            if n > r.made:
                self._tokens(r, n, now)
                self._flush(j, r, final=False)
            if s in ENDED:
                self.ended(j)

    def ended(self, j: int, notify: bool = True) -> None:
        """Job ``j`` has ended (after a step, or a client's cancel, a TTL): its last yield and its outcome;
        ``notify``: tell the book it ended (not when the book is the one telling)."""
        r = self.replies.pop(j, None)
        if r is None:
            return
        status = self.core.status[j]
        if status == _COMPLETED:
            self._finish(r)
            self._flush(j, r, final=True)
            self._keep_times(j, r.times)
            self.book.outcome(j, JobOutcome("completed", r.yields))
        else:
            self.book.outcome(j, JobOutcome("failed", None, _error(status)))
        if notify:
            self.book.ended(j)

    # ------------------------------------------------------------------ the worker's output
    def _tokens(self, r: _Reply, n: int, now: float) -> None:
        """Tokens ``r.made + 1 .. n`` came out now."""
        texts = fmt.placeholder(r.made + 1, n)
        r.times.extend([now] * (n - r.made))
        req = r.req
        if req.stream and req.route == CHAT_ROUTE:
            if r.made == 0:
                r.pending.append(fmt.sse(fmt.chat_chunk(r.rid, self._model(req), r.created, {"role": "assistant"})))
            r.pending.extend(fmt.sse(fmt.chat_chunk(r.rid, self._model(req), r.created, {"content": t})) for t in texts)
        elif req.stream and req.route == COMPLETIONS_ROUTE:
            r.pending.extend(fmt.sse(fmt.completion_chunk(r.rid, self._model(req), r.created, t)) for t in texts)
        elif req.stream and req.route == "native":
            r.pending.extend(texts)
        r.made = n

    def _finish(self, r: _Reply) -> None:
        """The job completed: the stream's last chunks, or the whole answer."""
        req, model = r.req, self._model(r.req)
        n, prompt = r.made, req.prompt_tokens
        finish = "length" if req.max_tokens is not None else "stop"
        if req.route == MODELS_ROUTE:
            r.yields.append(fmt.models_list(self.model, r.created))
        elif not req.stream:
            text = "".join(fmt.placeholder(1, n))
            if req.route == CHAT_ROUTE:
                r.yields.append(fmt.chat_response(r.rid, model, r.created, text, finish, prompt, n))
            elif req.route == COMPLETIONS_ROUTE:
                r.yields.append(fmt.completion_response(r.rid, model, r.created, text, finish, prompt, n))
            else:
                r.yields.append(fmt.native_batch([text], prompt, n))
        elif req.route != "native":
            chat = req.route == CHAT_ROUTE
            last = (
                fmt.chat_chunk(r.rid, model, r.created, {}, finish)
                if chat
                else fmt.completion_chunk(r.rid, model, r.created, "", finish)
            )
            r.pending.append(fmt.sse(last))
            if req.include_usage:
                r.pending.append(fmt.sse(fmt.usage_chunk(r.rid, model, r.created, chat, prompt, n)))
            r.pending.append(fmt.DONE)

    def _flush(self, j: int, r: _Reply, final: bool) -> None:
        """Yield the pending chunks in the worker's batches (all that are left when ``final``)."""
        book = self.book
        while r.pending and (final or len(r.pending) >= r.batch.current):
            take = r.pending[: r.batch.current] if not final else r.pending
            r.pending = r.pending[len(take) :]
            if r.req.route == "native":
                out: Any = fmt.native_batch(take, r.req.prompt_tokens, r.made - len(r.pending))
            else:
                out = "".join(take)
            r.yields.append(out)
            book.chunk(j, out)
            r.batch.update()
        if final and not r.req.stream:
            for out in r.yields:
                book.chunk(j, out)

    def _model(self, req: LlmRequest) -> str:
        return req.model or self.model

    def _keep_times(self, j: int, times: list[float]) -> None:
        if self.token_rows + len(times) > MAX_TOKEN_ROWS:
            self.token_times_dropped += 1
            return
        self.token_rows += len(times)
        self.token_times.append((j, tuple(times)))


def _error(status: int) -> str:
    """Why a job that ended with ``status`` did not complete (the book's error)."""
    if status == JobStatus.TIMED_OUT:
        return "timed out: over its execution timeout or its TTL"
    if status == JobStatus.CANCELLED:
        return "cancelled"
    if status == JobStatus.FAILED:
        return "failed: its prompt and output tokens exceed the worker's KV cache, or its worker died on each try"
    return JobStatus(status).name.lower()
