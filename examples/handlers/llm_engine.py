"""A continuous-batching LLM engine on the CPU: one engine per worker process, tokens streamed.

An async-generator handler, so the worker takes many requests at once (``simserve live`` gives an
LLM scenario's workers ``max_concurrency`` of them, default ``max_batch``; on Runpod,
``llm_engine_runpod.py`` sets the SDK's ``concurrency_modifier``). Each request joins the process's one ``Engine``, whose asyncio step loop
runs the scenario's step-time rule (``simserve/endpoint/engine.py`` models the same engine):

- at the start of a step, waiting requests join the batch in FIFO order while it has fewer than
  ``max_batch`` sequences and the KV cache has room for the request's input plus all its output
  tokens (a request larger than the whole cache fails);
- a step lasts ``base + per_sequence x sequences + input tokens joining / prefill_tokens_per_s``;
- at its end every sequence in the batch gets one token, which the handler yields at once; a
  sequence leaves the batch with its last token.

The figures come with each job (``simserve live`` puts the scenario's engine figures for the
worker's GPU in ``input.engine``, in wall seconds, i.e. already scaled by ``--speed``; tokens in
``input.input_tokens`` / ``input.output_tokens``). Steps keep to their schedule: a step begins when
the previous one was due to end, so a late wake-up does not stretch the next step (a GPU's step
is its kernels' time, not the host's). No GPU, no weights: the time is the rule's.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

#: the figures an ``input.engine`` without them falls back to (seconds; tokens per second)
DEFAULTS = {"base_s": 0.02, "per_sequence_s": 0.001, "prefill_tokens_per_s": 20000.0, "max_batch": 64}


class Sequence:
    """One request in the engine: its tokens come through ``queue`` (``None`` ends it)."""

    __slots__ = ("n_in", "n_out", "emitted", "queue", "gone")

    def __init__(self, n_in: int, n_out: int) -> None:
        self.n_in = n_in
        self.n_out = n_out
        self.emitted = 0
        self.queue: asyncio.Queue[int | None] = asyncio.Queue()
        self.gone = False  # its consumer stopped reading (cancelled): it leaves at the next step

    def reserve(self) -> int:
        return self.n_in + self.n_out


class Engine:
    """The worker's batching engine (one per process)."""

    def __init__(self) -> None:
        self.base_s = DEFAULTS["base_s"]
        self.per_sequence_s = DEFAULTS["per_sequence_s"]
        self.prefill_tokens_per_s = DEFAULTS["prefill_tokens_per_s"]
        self.max_batch = int(DEFAULTS["max_batch"])
        self.kv_cache_tokens: int | None = None
        self.waiting: deque[Sequence] = deque()
        self.batch: list[Sequence] = []
        self.kv = 0
        self.steps = 0
        self.loop_task: asyncio.Task[None] | None = None

    def configure(self, figures: dict[str, Any]) -> None:
        """The step-time rule from a job's ``input.engine``."""
        self.base_s = float(figures.get("base_s", self.base_s))
        self.per_sequence_s = float(figures.get("per_sequence_s", self.per_sequence_s))
        self.prefill_tokens_per_s = float(figures.get("prefill_tokens_per_s", self.prefill_tokens_per_s))
        self.max_batch = max(int(figures.get("max_batch", self.max_batch)), 1)
        kv = figures.get("kv_cache_tokens")
        self.kv_cache_tokens = int(kv) if kv else None

    def submit(self, n_in: int, n_out: int) -> Sequence:
        """A new request: it waits for the next step (the loop starts if the engine was idle)."""
        seq = Sequence(max(n_in, 0), max(n_out, 1))
        if self.kv_cache_tokens is not None and seq.reserve() > self.kv_cache_tokens:
            raise ValueError(
                f"request of {seq.reserve()} tokens is larger than the KV cache ({self.kv_cache_tokens} tokens)"
            )
        self.waiting.append(seq)
        if self.loop_task is None:
            self.loop_task = asyncio.get_running_loop().create_task(self._run())
        return seq

    def _join(self) -> int:
        """Waiting requests join (FIFO, within max_batch and the KV cache); their input tokens."""
        prefill = 0
        while self.waiting and len(self.batch) < self.max_batch:
            seq = self.waiting[0]
            if seq.gone:
                self.waiting.popleft()
                continue
            if self.kv_cache_tokens is not None and self.kv + seq.reserve() > self.kv_cache_tokens:
                break
            self.waiting.popleft()
            self.batch.append(seq)
            self.kv += seq.reserve()
            prefill += seq.n_in
        return prefill

    async def _run(self) -> None:
        try:
            start = time.monotonic()
            while True:
                prefill = self._join()
                if not self.batch:
                    return
                d = self.base_s + self.per_sequence_s * len(self.batch) + prefill / self.prefill_tokens_per_s
                due = start + d
                await asyncio.sleep(max(due - time.monotonic(), 0.0))
                self.steps += 1
                still = []
                for seq in self.batch:
                    if seq.gone:
                        self.kv -= seq.reserve()
                        continue
                    seq.emitted += 1
                    seq.queue.put_nowait(seq.emitted)
                    if seq.emitted >= seq.n_out:
                        seq.queue.put_nowait(None)
                        self.kv -= seq.reserve()
                    else:
                        still.append(seq)
                self.batch = still
                now = time.monotonic()
                start = due if now - due < d else now  # on schedule, unless far behind (a pause)
        finally:
            self.loop_task = None


ENGINE = Engine()


async def generate(job_input: dict[str, Any]) -> Any:
    """Stream one request's tokens (token numbers 1, 2, ...) as the engine makes them."""
    ENGINE.configure(job_input.get("engine") or {})
    seq = ENGINE.submit(int(job_input.get("input_tokens", 0)), int(job_input.get("output_tokens", 1)))
    try:
        while True:
            token = await seq.queue.get()
            if token is None:
                return
            yield token
    finally:
        seq.gone = True  # cancelled or done: a sequence still in the batch leaves at the next step


async def handler(job: dict[str, Any]) -> Any:
    """Runpod-style async-generator handler: one chunk per output token."""
    async for token in generate(job["input"]):
        yield token
