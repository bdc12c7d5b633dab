"""A continuous-batching LLM engine on the CPU: one engine per worker process, tokens streamed.

An async-generator handler, so the worker takes many requests at once (``simserve live`` gives an
LLM scenario's workers ``max_concurrency`` of them, default ``max_batch``; on Runpod,
``llm_engine_runpod.py`` sets the SDK's ``concurrency_modifier``). Each request joins the process's
one ``Engine``, whose asyncio step loop schedules as ``simserve/endpoint/engine.py`` models it:

- requests join the batch at the start of a step, FIFO, while it has fewer than ``max_batch``
  sequences and the KV cache has room for the request's input plus all its output tokens (a request
  larger than the whole cache fails);
- a step takes at most ``max_batched_tokens`` tokens (none: unlimited). With ``chunked_prefill``
  every decoding sequence gets its token, then prompts part-way continue, then waiting requests
  join, each prompt taking what is left of the budget; without it, a step that can admit requests
  is a prefill-only step of whole prompts (the first even over the budget);
- ``scheduler_steps`` > 1: decoding runs of that many steps, nothing joins within one, it runs all
  its steps (computing every sequence it began with) and its tokens come out at its end;
  ``frontend_s``: each request first takes that long in a serial frontend, and a burst reaches the
  engine once the frontend has none left; ``intake_s``: then each request reaches the engine that
  much later, every request at once; ``async_output``: a step's first tokens, and the last tokens
  of a run's last step (or of a single step), come out at the end of the step after the one that
  made them, or, when that step is the first of a multi-step run (the GPU's work modelled), once its
  CPU part (``base + per_sequence x sequences``) is done; with nothing left to run, last tokens held
  so come out after such a CPU part and the rest of that run waits for the next request;
- a step lasts ``base + per_sequence x sequences + prompt tokens / prefill_tokens_per_s +
  hypot(weights, per_token x tokens + per_sampled x sampled) + per_kv_token x context +
  per_attention_pair x prompt pairs + allreduce + allreduce_per_token x tokens`` (the physics terms
  default to 0: the simple form); a sequence's first token ends the step that completes its prompt,
  then one token a decoding step; it leaves with its last.

The figures come with each job (``simserve live`` puts the scenario's engine figures for the
worker's GPU in ``input.engine``, in wall seconds, i.e. already scaled by ``--speed``; tokens in
``input.input_tokens`` / ``input.output_tokens``). Steps keep to their schedule: a step begins when
the previous one was due to end, so a late wake-up does not stretch the next step (a GPU's step
is its kernels' time, not the host's). No GPU, no weights: the time is the rule's.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from typing import Any

#: the figures an ``input.engine`` without them falls back to (seconds; tokens per second)
DEFAULTS: dict[str, Any] = {
    "base_s": 0.02,
    "per_sequence_s": 0.001,
    "in_run_s": 0.0,
    "prefill_tokens_per_s": 20000.0,
    "max_batch": 64,
    "max_batched_tokens": None,
    "chunked_prefill": True,
    "scheduler_steps": 1,
    "frontend_s": 0.0,
    "intake_s": 0.0,
    "async_output": False,
    "weights_s": 0.0,
    "per_token_s": 0.0,
    "per_sampled_s": 0.0,
    "per_kv_token_s": 0.0,
    "per_attention_pair_s": 0.0,
    "allreduce_s": 0.0,
    "allreduce_per_token_s": 0.0,
}
PHYSICS = ("weights_s", "per_token_s", "per_sampled_s", "per_kv_token_s", "per_attention_pair_s")
PHYSICS += ("allreduce_s", "allreduce_per_token_s")


class Sequence:
    """One request in the engine: its tokens come through ``queue`` (``None`` ends it)."""

    __slots__ = ("n_in", "n_out", "left", "made", "sent", "first_at", "queue", "gone", "last_held")

    def __init__(self, n_in: int, n_out: int) -> None:
        self.n_in = n_in
        self.n_out = n_out
        self.left = n_in  # prompt tokens not yet processed
        self.made = 0  # tokens made
        self.sent = 0  # tokens handed to the handler (a multi-step run holds them to its end)
        self.first_at = 0  # the engine step after which its first token may come out (asynchronous output)
        self.queue: asyncio.Queue[int | None] = asyncio.Queue()
        self.gone = False  # its consumer stopped reading (cancelled): it leaves at the next step
        self.last_held = False  # its last token waits for the next step (asynchronous output)

    def reserve(self) -> int:
        return self.n_in + self.n_out

    def decoding(self) -> bool:
        return self.left == 0 and 0 < self.made < self.n_out and not self.gone

    def deliver(self, upto: int | None = None) -> None:
        """Hand over the tokens made (up to token ``upto``)."""
        made = self.made if upto is None else min(upto, self.made)
        for k in range(self.sent + 1, made + 1):
            self.queue.put_nowait(k)
        if made >= self.n_out > self.sent:
            self.queue.put_nowait(None)
        self.sent = max(self.sent, made)


class Engine:
    """The worker's batching engine (one per process)."""

    def __init__(self) -> None:
        self.f: dict[str, Any] = dict(DEFAULTS)
        self.kv_cache_tokens: int | None = None
        self.waiting: deque[Sequence] = deque()
        self.front: list[Sequence] = []  # in the frontend
        self.front_free = 0.0
        self.batch: list[Sequence] = []
        self.kv = 0
        self.steps = 0
        self.run_left = 0
        self.run_n = 0  # sequences the running multi-step run began with (each of its steps computes them)
        self.lag_last: list[Sequence] = []  # done, their last token out with the next step (asynchronous output)
        self.loop_task: asyncio.Task[None] | None = None

    @property
    def max_batch(self) -> int:
        return max(int(self.f["max_batch"]), 1)

    def configure(self, figures: dict[str, Any]) -> None:
        """The step-time rule and scheduler from a job's ``input.engine``."""
        for key, value in figures.items():
            if key in DEFAULTS:
                self.f[key] = value
        kv = figures.get("kv_cache_tokens")
        self.kv_cache_tokens = int(kv) if kv else None

    def submit(self, n_in: int, n_out: int) -> Sequence:
        """A new request: through the frontend, then it waits for the next step (the loop starts if idle)."""
        seq = Sequence(max(n_in, 0), max(n_out, 1))
        if self.kv_cache_tokens is not None and seq.reserve() > self.kv_cache_tokens:
            raise ValueError(
                f"request of {seq.reserve()} tokens is larger than the KV cache ({self.kv_cache_tokens} tokens)"
            )
        frontend = float(self.f["frontend_s"] or 0.0)
        if frontend > 0:
            loop = asyncio.get_running_loop()
            self.front_free = max(time.monotonic(), self.front_free) + frontend
            self.front.append(seq)
            loop.call_at(loop.time() + (self.front_free - time.monotonic()), self._front_done)
            return seq
        self._send([seq])
        return seq

    def _front_done(self) -> None:
        if self.front_free > time.monotonic() + 1e-6:
            return  # a later request keeps the frontend busy
        self._send(self.front)
        self.front = []

    def _send(self, seqs: list[Sequence]) -> None:
        """``seqs`` leave the frontend: they reach the engine ``intake_s`` later, together."""
        intake = float(self.f["intake_s"] or 0.0)
        if intake > 0:
            asyncio.get_running_loop().call_later(intake, self._enter_all, list(seqs))
            return
        self._enter_all(seqs)

    def _enter_all(self, seqs: list[Sequence]) -> None:
        for seq in seqs:
            self._enter(seq)

    def _enter(self, seq: Sequence) -> None:
        self.waiting.append(seq)
        if self.loop_task is None:
            self.loop_task = asyncio.get_running_loop().create_task(self._run())

    def _join(self, room: float) -> Sequence | None:
        """The next waiting request, if it can join with a prompt of at most ``room`` tokens (it joins)."""
        while self.waiting:
            seq = self.waiting[0]
            if seq.gone:
                self.waiting.popleft()
                continue
            if len(self.batch) >= self.max_batch or seq.n_in > room:
                return None
            if self.kv_cache_tokens is not None and self.kv + seq.reserve() > self.kv_cache_tokens:
                return None
            self.waiting.popleft()
            self.batch.append(seq)
            self.kv += seq.reserve()
            return seq
        return None

    def _schedule(self) -> tuple[list[Sequence], list[tuple[Sequence, int]], bool]:
        """(decoding sequences, prompt chunks, in a multi-step run) of the next step."""
        f = self.f
        budget = float(f["max_batched_tokens"]) if f["max_batched_tokens"] else math.inf
        decodes = [s for s in self.batch if s.decoding()]
        chunks: list[tuple[Sequence, int]] = []
        if f["chunked_prefill"]:
            left = budget - len(decodes)
            for seq in [s for s in self.batch if s.left > 0 and not s.gone]:
                if left <= 0:
                    break
                c = int(min(seq.left, left))
                chunks.append((seq, c))
                left -= c
            while (seq := self._join(math.inf if left > 0 else 0)) is not None:
                c = int(min(seq.n_in, left))
                chunks.append((seq, c))
                left -= c
            return decodes, chunks, False
        held = any(s.made >= s.n_out > s.sent and not s.gone for s in self.batch)
        if self.run_left and (decodes or held or self.waiting):
            self.run_left -= 1  # a run runs all its steps (the rest of one waits for a request to come)
            return decodes, [], True
        used = 0
        while (seq := self._join(budget - used if chunks else math.inf)) is not None:
            chunks.append((seq, seq.n_in))
            used += seq.n_in
        if chunks:
            return [], chunks, False
        if decodes:
            self.run_left = int(f["scheduler_steps"]) - 1
            self.run_n = len(decodes)
        return decodes, [], False

    def _gpu(self) -> bool:
        """Whether the physics figures model the GPU's work (else base and per_sequence are the whole step)."""
        return bool(self.f["weights_s"] > 0 or self.f["per_token_s"] > 0)

    def _cpu_part(self, scheduled: int) -> float:
        """A step's scheduling and output processing: base + per_sequence x scheduled sequences."""
        return float(self.f["base_s"]) + float(self.f["per_sequence_s"]) * scheduled

    def _duration(self, decodes: list[Sequence], chunks: list[tuple[Sequence, int]], in_run: bool) -> float:
        f = self.f
        prompt = sum(c for _, c in chunks)
        n = self.run_n if in_run else len(decodes)  # a run's later step computes every sequence it began with
        tokens = n + prompt
        sampled = n + sum(1 for s, c in chunks if c == s.left)
        gpu = self._gpu()
        d = f["in_run_s"] if in_run and gpu else self._cpu_part(n + len(chunks))
        if prompt:
            d += prompt / f["prefill_tokens_per_s"]
        compute = f["per_token_s"] * tokens + f["per_sampled_s"] * sampled
        if gpu or compute:
            d += math.hypot(f["weights_s"], compute)
        d += f["per_kv_token_s"] * sum(s.n_in + s.made for s in decodes)
        d += f["per_attention_pair_s"] * sum(c * (s.n_in - s.left + (c + 1) / 2) for s, c in chunks)
        if f["allreduce_s"] or f["allreduce_per_token_s"]:
            d += f["allreduce_s"] + f["allreduce_per_token_s"] * tokens
        return float(d)

    def _early(self, decodes: list[Sequence], chunks: list[tuple[Sequence, int]], in_run: bool) -> list[Sequence]:
        """First tokens held by the asynchronous output processor that come out before this step ends: when it
        is the first step of a multi-step run and the GPU's work is modelled, its engine call returns once
        its CPU part is done (the held output is processed while its GPU work runs); otherwise none."""
        if not (self.f["async_output"] and self._gpu() and self.run_left and decodes) or in_run or chunks:
            return []
        firsts = [s for s in self.batch if s.first_at == self.steps + 1 and s.sent == 0 and not s.gone]
        return firsts + self.lag_last

    async def _run(self) -> None:
        try:
            start = time.monotonic()
            while True:
                decodes, chunks, in_run = self._schedule()
                if not decodes and not chunks and not in_run:
                    await self._idle_out()
                    if not self.waiting:
                        return
                    start = time.monotonic()  # a request came while the held output was processed
                    continue
                d = self._duration(decodes, chunks, in_run)
                due = start + d
                early = self._early(decodes, chunks, in_run)
                if early:  # a multi-step run's first step: held first tokens out once its CPU part is done
                    await asyncio.sleep(max(start + self._cpu_part(len(decodes) + len(chunks)) - time.monotonic(), 0.0))
                    for seq in early:
                        if not seq.gone:
                            seq.deliver(upto=None if seq.last_held else 1)
                    self.lag_last = []
                await asyncio.sleep(max(due - time.monotonic(), 0.0))
                self.steps += 1
                for seq, c in chunks:
                    seq.left -= c
                    if seq.left == 0:
                        seq.made = 1  # its first token ends the step that completes its prompt
                        if self.f["async_output"] and seq.n_out > 1:
                            seq.first_at = self.steps + 1  # ... and comes out with the next one
                for seq in decodes:
                    seq.made += 1
                    if seq.made >= seq.n_out and not self.run_left and self.f["async_output"]:
                        seq.last_held = True  # the step's output is processed with the next step: out then
                self._end_step()
                now = time.monotonic()
                start = due if now - due < d else now  # on schedule, unless far behind (a pause)
        finally:
            self.loop_task = None

    async def _idle_out(self) -> None:
        """Nothing left to run: held first tokens out now; held last tokens once a run's first step has processed
        them (its CPU part: the scheduler still runs sequences it has not seen finish), the rest of that run
        waiting for the next request; without multi-step or the GPU's work modelled, now."""
        f = self.f
        lag, self.lag_last = self.lag_last, []
        if lag and int(f["scheduler_steps"]) > 1 and self._gpu():
            self.run_left = int(f["scheduler_steps"]) - 1
            self.run_n = len(lag)
            await asyncio.sleep(self._cpu_part(len(lag)))
        for seq in lag + self.batch:
            if not seq.gone:
                seq.deliver()  # first tokens held for a next step that does not come

    def _end_step(self) -> None:
        """Tokens out (a multi-step run's at its end); done or abandoned sequences leave the batch."""
        for seq in self.lag_last:
            if not seq.gone:
                seq.deliver()  # last tokens held for this step
        self.lag_last = []
        still = []
        for seq in self.batch:
            if seq.gone or seq.first_at > self.steps:
                pass  # abandoned, or its first token waits for the next step
            elif not self.run_left:
                seq.deliver(upto=seq.n_out - 1 if seq.last_held else None)
                if seq.last_held:
                    self.lag_last.append(seq)
            elif seq.sent == 0:
                seq.deliver(upto=1)  # a first token comes out within a multi-step run
            if seq.gone or seq.sent >= seq.n_out or seq.last_held:
                self.kv -= seq.reserve()
                continue
            still.append(seq)
        self.batch = still


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
