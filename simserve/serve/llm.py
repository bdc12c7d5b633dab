"""An LLM endpoint under ``simserve serve``: the tokens each job carries into the core, and its answer.

Owns ``LlmServing``: for each job a client sends (through the OpenAI route or the native routes), the
request read as the vLLM worker reads it (``llm_requests.read_request``) and the token counts the
endpoint core is told (``JobOps.submit(tokens=...)``): the prompt's estimate and the output tokens
(``max_tokens``, else one drawn by ``OutputLengths``). Without a handler the core's engine model runs
the job and ``BuiltinWorker`` makes its answer; with one, the user's worker answers, and the output
tokens are what it gave (``openai_format.output_tokens`` of its yields: their ``usage``, else the
chunks with text), written to the job's record when its run ends. No HTTP; no rule of the platform.
"""

from __future__ import annotations

from typing import Any

from simserve.live.runtime import JobOutcome
from simserve.rng import RandomStreams
from simserve.serve.jobs import JobBook
from simserve.serve.llm_requests import LlmRequest, OutputLengths, RequestError, read_request
from simserve.serve.llm_worker import BuiltinWorker
from simserve.serve.openai_format import output_tokens


def served_model(scenario: Any) -> str:
    """The model name the endpoint answers with: the endpoint's ``OPENAI_SERVED_MODEL_NAME_OVERRIDE``, as
    for the vLLM worker, else ``simserve/<the service's model, or the scenario's name>``."""
    name = scenario.endpoint.env.get("OPENAI_SERVED_MODEL_NAME_OVERRIDE")
    if name:
        return str(name)
    llm = scenario.workload.llm
    return "simserve/" + str((llm.model if llm is not None else None) or scenario.name)


class LlmServing:
    """The LLM side of one serve run (``builtin``: the core runs the engine, no handler)."""

    def __init__(self, scenario: Any, core: Any, book: JobBook, seed: int, builtin: bool) -> None:
        self.core = core
        self.book = book
        self.model = served_model(scenario)
        self.lengths = OutputLengths(scenario, RandomStreams(seed))
        self.worker = BuiltinWorker(core, book, self.model, scenario.endpoint.env) if builtin else None

    def tokens(self, given: Any) -> tuple[LlmRequest | None, tuple[int, int]]:
        """A job's input read as the vLLM worker reads it, and the (input, output) tokens the core is told
        (with a handler the output is measured at the end: 0 until then; an input it cannot read, None and
        no tokens). Raises ``RequestError`` for the built-in worker."""
        if self.worker is None:  # the user's worker reads its input: one it does not take is its to refuse
            try:
                req = read_request(given)
            except RequestError:
                return None, (0, 0)
            return req, (req.prompt_tokens, 0)
        req = read_request(given)
        return req, (req.prompt_tokens, req.max_tokens if req.max_tokens is not None else self.lengths.draw())

    def started(self, j: int, req: LlmRequest) -> None:
        """Job ``j`` was submitted and booked."""
        if self.worker is not None:
            self.worker.start(j, req)

    def outcome(self, j: int, out: JobOutcome) -> None:
        """With a handler: a run of ``j`` ended; its output tokens are what the worker gave."""
        if self.worker is not None or out.status != "completed":
            return
        chunks = self.book.chunks.get(j)
        yields = chunks if chunks else (out.output if isinstance(out.output, list) else [out.output])
        n = output_tokens(yields)
        if n is not None:
            self.core.rec.output_tokens[j] = n

    def ended(self, j: int) -> None:
        """Job ``j`` ended outside an engine step (a client's cancel, a TTL): the built-in worker answers."""
        if self.worker is not None:
            self.worker.ended(j, notify=False)

    @property
    def token_times(self) -> list[tuple[int, tuple[float, ...]]]:
        return self.worker.token_times if self.worker is not None else []
