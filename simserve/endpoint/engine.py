"""The batching LLM worker: continuous batching in engine steps, a platform rule like any other.

Owns ``BatchEngine``, the endpoint core's model of a vLLM-like worker (``workload.service: {type:
llm}``). The core hands it each job it starts on a worker (``admit``); the engine runs steps on
that worker while it has sequences, each step a ``SetTimer(STEP)`` effect that both drivers carry
out like any timer, so the simulator and the live driver on a virtual clock run the same steps.
The rules (``tests/theory/test_llm_theory.py`` and ``tests/llm/test_engine_steps.py`` pin them):

- A worker takes up to ``max_concurrency`` requests from the endpoint's queue (default
  ``max_batch``); those not in the batch wait on it, FIFO. A request joins the batch at the start of
  a step while the batch has fewer than ``max_batch`` sequences and the KV cache has room for its
  input plus all its output tokens (reserved at join, so ``kv_cache_tokens`` is never exceeded); a
  request that could not fit even alone fails as its worker takes it (``kv_too_small``).
- A step processes at most ``max_batched_tokens`` tokens (vLLM's ``max_num_batched_tokens``;
  unlimited when None). With ``chunked_prefill`` (vLLM's default scheduler) every decoding sequence
  gets its one token first, then sequences part-way through their prompt continue it, then waiting
  requests join, each prompt taking what is left of the budget (a chunk; the rest in later steps).
  Without it (vLLM V0, SGLang's default), a step that can admit waiting requests is a prefill-only
  step of whole prompts (the first one even over the budget) and decoding sequences wait it out.
- ``scheduler_steps`` > 1 (vLLM 0.6's multi-step, without chunks): after a decoding step begins a run
  of that many, nothing joins until the run ends, sequences done within it complete at its end, and
  its later steps pay ``in_run`` (each step's launch and input update) instead of ``base`` and
  ``per_sequence`` (scheduling and output processing, once a run) when the physics model the GPU's work.
  A run runs all its steps, each computing every sequence it began with, done or not (vLLM 0.6.0's
  ``step_async`` skips the scheduler while the cached run has steps left).
- ``frontend_s``: each request spends that long in a serial API server before the engine sees it; the
  requests it holds reach the engine together when it has none left (an event loop parses every
  ready request first).
- ``intake_s``: then each request takes that much longer to reach the engine, every request at once, none
  waiting for another (vLLM V1's engine core is a process of its own: a request crosses to it, its outputs
  cross back and are detokenized; the model puts that whole per-request latency on the way in).
- A sequence's first output token comes at the end of the step that completes its prompt (with
  ``async_output``, with the next step: the output is processed while that step runs and goes out when
  the step's engine call returns: at its end, or, when it is the first step of a multi-step run and the
  GPU's work is modelled, once its CPU part ``base + per_sequence x sequences`` is done, since such a
  step does not wait for its GPU work; vLLM 0.6.0's ``MultiStepModelRunner.execute_model``); then
  one more at the end of each step that decodes; it completes with its last token. With
  ``async_output`` a last token made by a run's last step (or by a single step) is held the same way
  (``_process_model_outputs`` makes a request's output within a run only for sequences that finished,
  and the last step's output is processed by the next step's callback); with nothing left to run, the
  scheduler runs those sequences again (it has not seen them finish), that run's first step brings them
  out once its CPU part is done, and the rest of that run waits for the next request.
- The step lasts ``engine_step_s``: ``base + per_sequence x sequences scheduled + prompt tokens /
  prefill_tokens_per_s`` (the simple form) ``+ hypot(weights, per_token x tokens + per_sampled x
  sequences sampled)`` (the linear layers and LM head: streaming the weights or computing, a smooth
  roofline) ``+ per_kv_token x context the decodes attend to + per_attention_pair x prompt-token
  pairs + allreduce + allreduce_per_token x tokens`` (tensor parallelism). With the physics terms at
  zero and no budget it is the simple form, which the theory tests pin.
- A request over its execution limit (execution timeout, or what is left of its TTL) leaves at the
  end of the first step past it, ``timed_out``; the worker goes on.
- Steps keep to their schedule: a step begins when the one before was due to end, so a late timer
  (a live driver's wall clock under load) does not stretch the next step, unless it is a whole step
  late (then it begins now). In the simulator a step always ends when due: the rule changes nothing.

Where the runtime runs a real engine (``simserve live`` with a real handler), the core does not
model steps (``EndpointCore.use_worker_engine``). Sees the endpoint core only through
``ports.CorePort``. Pure Python; no simpy, asyncio or clock.
"""

from __future__ import annotations

import math
from collections import deque
from heapq import heappop, heappush
from typing import TYPE_CHECKING

from simserve.endpoint.effects import SetTimer, TimerKind
from simserve.records import JobStatus

if TYPE_CHECKING:
    from simserve.endpoint.ports import CorePort
    from simserve.endpoint.workers import Worker
    from simserve.scenario import EngineParams, LlmService

_IN_PROGRESS = int(JobStatus.IN_PROGRESS)
_COMPLETED = int(JobStatus.COMPLETED)
_FAILED = int(JobStatus.FAILED)
_TIMED_OUT = int(JobStatus.TIMED_OUT)
#: ``on_step`` codes other than a step's number: an idle engine's first step begins, requests that can never fit
#: fail, the frontend hands over what it holds, a run's first step has done its CPU part (held output out),
#: requests on their way from the API server reach the engine
_BEGIN, _TOO_BIG, _FRONT_DONE, _LAG_OUT, _INTAKE_DONE = -1, -2, -3, -4, -5


def gpu_modelled(p: EngineParams) -> bool:
    """Whether the physics terms model the GPU's work (else ``base`` and ``per_sequence`` are the whole step)."""
    return p.weights_s > 0 or p.per_token_s > 0


def cpu_part_s(p: EngineParams, scheduled: int) -> float:
    """A step's scheduling and output processing for ``scheduled`` sequences: ``base + per_sequence x scheduled``."""
    return p.base_s + p.per_sequence_s * scheduled


def engine_step_s(
    p: EngineParams,
    *,
    scheduled: int,
    tokens: int,
    prompt_tokens: int,
    sampled: int,
    context_tokens: int,
    attention_pairs: float,
    scheduled_by_cpu: bool = True,
) -> float:
    """Seconds of one engine step with ``scheduled`` sequences, ``tokens`` tokens through the model
    (``prompt_tokens`` of them prompt tokens), ``sampled`` sequences emitting a token, decodes attending
    to ``context_tokens`` KV entries and prompt chunks to ``attention_pairs`` (query, key) pairs.
    ``scheduled_by_cpu`` False: a later step of a multi-step run, whose scheduling and output processing
    (``base``, ``per_sequence``) the run's first step paid: it pays ``in_run_s`` (its launch and input
    update) when the physics terms model the GPU's work (in the simple form ``base`` and ``per_sequence``
    are the step).

    >>> from simserve.scenario import EngineParams
    >>> p = EngineParams(gpus_needed=1, prefill_tokens_per_s=1000.0, base_s=0.01, per_sequence_s=0.001,
    ...                  max_batch=8, kv_cache_tokens=None)
    >>> round(engine_step_s(p, scheduled=2, tokens=102, prompt_tokens=100, sampled=2, context_tokens=0,
    ...                     attention_pairs=0.0), 6)
    0.112
    """
    d = cpu_part_s(p, scheduled) if scheduled_by_cpu or not gpu_modelled(p) else p.in_run_s
    if prompt_tokens:
        d += prompt_tokens / p.prefill_tokens_per_s
    compute = p.per_token_s * tokens + p.per_sampled_s * sampled
    if p.weights_s or compute:
        d += math.hypot(p.weights_s, compute)
    d += p.per_kv_token_s * context_tokens + p.per_attention_pair_s * attention_pairs
    if p.allreduce_s or p.allreduce_per_token_s:
        d += p.allreduce_s + p.allreduce_per_token_s * tokens
    return d


class _Batch:
    """One worker's engine: its waiting requests, the batch and the step it is running."""

    __slots__ = (
        "epoch", "p", "wait", "batch", "kv", "step", "tick", "busy", "deadlines",
        "pre", "left", "ends", "end_tick", "anchor", "n_dec", "ctx_base", "firsts", "decoding",
        "run_left", "held", "front", "front_free", "lagged", "lag_at", "due", "last_d", "lag_done", "run_n",
        "intake",
    )  # fmt: skip

    def __init__(self, epoch: int, p: EngineParams) -> None:
        self.epoch = epoch  # the worker's epoch: a crash or restart makes this engine (and its steps) stale
        self.p = p
        self.wait: deque[int] = deque()  # handed to the worker, not yet in the batch (FIFO)
        self.batch: set[int] = set()  # sequences in the batch (prefilling or decoding)
        self.kv = 0  # KV-cache tokens reserved by the batch
        self.step = 0  # number of the step running (or next to run)
        self.tick = 0  # steps that decoded so far (the index of the next decoding step)
        self.busy = False  # a step is running (or being set up)
        self.deadlines: list[tuple[float, int, int]] = []  # (execution limit, admission, job), a heap
        self.pre: list[int] = []  # sequences part-way through their prompt, FIFO
        self.left: dict[int, int] = {}  # prefilling sequence -> prompt tokens not yet processed
        self.ends: dict[int, list[int]] = {}  # decoding step index -> sequences whose last token ends it
        self.end_tick: dict[int, int] = {}  # decoding sequence -> the decoding step its last token ends
        self.anchor: dict[int, int] = {}  # decoding sequence -> a, its context at decoding step t is in + t - a
        self.n_dec = 0  # decoding sequences
        self.ctx_base = 0  # sum of (input tokens - anchor) over the decoding sequences
        self.firsts: list[int] = []  # sequences whose prompt the running step completes (first token)
        self.decoding = False  # the running step decodes (else: a prefill-only step)
        self.run_left = 0  # decoding steps left in the running multi-step run (no scheduling within it)
        self.held: list[int] = []  # sequences done within a multi-step run: they complete at its end
        self.front: deque[tuple[float, int]] = deque()  # (ready time, job) in the serial frontend
        self.front_free = 0.0  # when the frontend is done with the requests it holds
        self.intake: deque[tuple[float, int]] = deque()  # (when it reaches the engine, job) on its way there
        self.lagged: list[int] = []  # first tokens made, out with the next step (asynchronous output)
        self.lag_at = math.inf  # when they come out before that step's end (its CPU part done), else inf
        self.lag_done: list[int] = []  # sequences whose last token a run's last step made: out with the next step
        self.run_n = 0  # sequences the running multi-step run was scheduled with (all its steps compute them)
        self.due = -math.inf  # when the running step was due to end (-inf: the engine was idle)
        self.last_d = 0.0  # how long it lasted


class BatchEngine:
    """The core's continuous-batching workers (one ``_Batch`` per worker, made at its first job)."""

    def __init__(self, core: CorePort, svc: LlmService) -> None:
        self.core = core
        self.svc = svc
        self.params: dict[str, EngineParams] = {}
        self.engines: dict[int, _Batch] = {}
        rec = core.rec
        self.in_tokens: list[int] = rec.input_tokens
        self.out_tokens: list[int] = rec.output_tokens
        self.first: list[float] = rec.first_token_s
        self.token: dict[int, int] = {}  # job -> the token its current run reports with
        self.admission: dict[int, int] = {}  # job -> number of its current admission (a slot's job may change)
        self.n_admitted = 0
        self.kv_too_small = 0
        self.too_big: list[int] = []  # admitted requests larger than their worker's KV cache, failing now
        self.max_kv_used = 0  # most KV-cache tokens reserved on one worker at once (a checked invariant)
        self.max_batch_used = 0
        self.over_budget = 0  # steps whose prompt tokens broke the token budget (a checked invariant: 0)

    def engine_params(self, gpu: str) -> EngineParams:
        p = self.params.get(gpu)
        if p is None:
            p = self.params[gpu] = self.svc.engine(gpu)
        return p

    def _engine(self, w: Worker) -> _Batch:
        st = self.engines.get(w.wid)
        if st is None or st.epoch != w.epoch:
            assert w.host is not None
            st = self.engines[w.wid] = _Batch(w.epoch, self.engine_params(w.host.gpu))
        return st

    # ------------------------------------------------------------------ events from the core
    def admit(self, w: Worker, j: int, token: int, limit_s: float) -> None:
        """The core started job ``j`` on ``w`` (run token ``token``, at most ``limit_s``): it waits for a step."""
        st = self._engine(w)
        now = self.core.now
        self.token[j] = token
        self.first[j] = float("nan")  # a retried job's earlier first token does not count
        kv_cap = st.p.kv_cache_tokens
        if kv_cap is not None and self.in_tokens[j] + self.out_tokens[j] > kv_cap:
            self.too_big.append(j)  # can never fit: fails now, once the core's event is done
            if len(self.too_big) == 1:
                self.core.out.append(SetTimer(now, TimerKind.STEP, (w.wid, st.epoch, _TOO_BIG)))
            return
        self.n_admitted += 1
        self.admission[j] = self.n_admitted
        heappush(st.deadlines, (now + limit_s, self.n_admitted, j))
        if st.p.frontend_s > 0:  # the API server takes requests one at a time before the engine sees them
            st.front_free = max(now, st.front_free) + st.p.frontend_s
            st.front.append((st.front_free, j))
            self.core.out.append(SetTimer(st.front_free, TimerKind.STEP, (w.wid, st.epoch, _FRONT_DONE)))
            return
        if st.p.intake_s > 0:  # on its way to the engine (another process), beside every other request
            self._send(w, st, [j], now)
            return
        st.wait.append(j)
        if not st.busy:  # an idle engine: its next step begins once every job handed over now is there
            st.busy = True
            self.core.out.append(SetTimer(now, TimerKind.STEP, (w.wid, st.epoch, _BEGIN)))

    def _send(self, w: Worker, st: _Batch, jobs: list[int], now: float) -> None:
        """``jobs`` leave the API server now: they reach the engine ``intake_s`` later, together (now, with none)."""
        if st.p.intake_s <= 0:
            self._arrive(w, st, jobs, now)
            return
        at = now + st.p.intake_s
        st.intake.extend((at, j) for j in jobs)
        self.core.out.append(SetTimer(at, TimerKind.STEP, (w.wid, st.epoch, _INTAKE_DONE)))

    def _arrive(self, w: Worker, st: _Batch, jobs: list[int], now: float) -> None:
        """``jobs`` reach the engine now: they wait for a step, which an idle engine begins at once (once its held
        output is out)."""
        st.wait.extend(jobs)
        if not st.busy and not now < st.lag_at < math.inf:
            self._begin_step(w, st, now)

    def on_step(self, arg: tuple[int, int, int]) -> None:
        """The step ``arg = (worker, epoch, step)`` ended: tokens out, finished sequences leave, next step."""
        wid, epoch, step = arg
        st = self.engines.get(wid)
        w = self.core.workers[wid]
        core = self.core
        now = core.now
        if step == _TOO_BIG:  # requests that can never fit in the KV cache fail (whatever their worker did since)
            too_big, self.too_big = self.too_big, []
            for j in too_big:
                if core.status[j] == _IN_PROGRESS and j in self.token:
                    self.kv_too_small += 1
                    self.admission.pop(j, None)
                    core.job_finished(self.token.pop(j), now, _FAILED)
            return
        if st is None or st.epoch != epoch or w.epoch != epoch or (st.step != step and step >= 0):
            return  # the worker crashed, restarted or stopped since: its engine's steps are stale
        if step == _FRONT_DONE:  # the frontend is done with every request it holds: they reach the engine together
            if st.front_free > now:
                return  # a later request keeps it busy (an event loop finishes every ready request first)
            held = [j for _, j in st.front]
            st.front.clear()
            self._send(w, st, held, now)
            return
        if step == _INTAKE_DONE:  # the requests sent ``intake_s`` ago reach the engine
            arrived = []
            while st.intake and st.intake[0][0] <= now:
                arrived.append(st.intake.popleft()[1])
            self._arrive(w, st, arrived, now)
            return
        if step == _LAG_OUT:  # a multi-step run's first step has launched its GPU work: the lagged tokens out
            if (st.lagged or st.lag_done) and now >= st.lag_at:
                for j in self._out_lagged(st, now):
                    self._finish(j, now)
                    if w.epoch != epoch:
                        return
                if not st.busy and st.wait:  # requests that came while the idle engine processed the held output
                    self._begin_step(w, st, now)
            return
        if step < 0:  # an idle engine's first step begins (once the held output it processes is out)
            if now < st.lag_at < math.inf:
                st.busy = False
                return
            self._begin_step(w, st, now)
            return
        st.step = step + 1
        ended = self._end_tokens(st, now)
        self._expire(st, wid, now, ended)
        for j, how in ended:
            self._finish(j, now, how)
            if w.epoch != epoch:
                return
        self._begin_step(w, st, now)

    def _finish(self, j: int, now: float, how: int = _IN_PROGRESS) -> None:
        token = self.token.pop(j, j)
        del self.admission[j]
        if how == _IN_PROGRESS:
            self.core.job_finished(token, now)
        else:
            self.core.job_finished(token, now, _TIMED_OUT, restart=False)

    def _leave(self, st: _Batch, j: int) -> None:
        st.batch.discard(j)
        st.kv -= self.in_tokens[j] + self.out_tokens[j]

    def _end_tokens(self, st: _Batch, now: float) -> list[tuple[int, int]]:
        """The running step's tokens: sequences whose last token it was, and first tokens (decoding from now)."""
        in_tokens = self.in_tokens
        ended = [(j, _IN_PROGRESS) for j in self._out_lagged(st, now)] if st.lagged or st.lag_done else []
        lag = st.p.async_output
        if st.decoding:
            for j in st.ends.pop(st.tick, ()):
                del st.end_tick[j]
                st.n_dec -= 1
                st.ctx_base -= in_tokens[j] - st.anchor.pop(j)
                if st.run_left:
                    st.held.append(j)  # within a multi-step run, tokens come out at its end
                    continue
                self._leave(st, j)
                if lag:
                    st.lag_done.append(j)  # the step's output is processed with the next step: out then
                else:
                    ended.append((j, _IN_PROGRESS))
            st.tick += 1
            if st.held and not st.run_left:  # the run's last step (a run runs all its steps): its held tokens out
                for j in st.held:
                    self._leave(st, j)
                    ended.append((j, _IN_PROGRESS))
                st.held = []
        anchor = st.tick - 1
        for j in st.firsts:
            out = self.out_tokens[j]
            if lag and out > 1:
                st.lagged.append(j)  # processed while the next step runs: out at its end
            else:
                self.first[j] = now
            if out <= 1:
                self._leave(st, j)
                ended.append((j, _IN_PROGRESS))
                continue
            end = anchor + out - 1
            st.end_tick[j] = end
            st.anchor[j] = anchor
            st.n_dec += 1
            st.ctx_base += in_tokens[j] - anchor
            ends = st.ends.get(end)
            if ends is None:
                st.ends[end] = [j]
            else:
                ends.append(j)
        st.firsts = []
        return ended

    def _out_lagged(self, st: _Batch, now: float) -> list[int]:
        """The tokens the asynchronous output processor held come out now: first tokens, and the sequences
        whose last token they were (returned: they complete now)."""
        for j in st.lagged:
            self.first[j] = now
        done = st.lag_done
        st.lagged, st.lag_done = [], []
        st.lag_at = math.inf
        return done

    def _expire(self, st: _Batch, wid: int, now: float, ended: list[tuple[int, int]]) -> None:
        """Sequences past their execution limit leave (``timed_out``), wherever they are."""
        core = self.core
        status, job_worker = core.status, core.job_worker
        dl = st.deadlines
        while dl and dl[0][0] <= now:
            _, adm, j = heappop(dl)
            if self.admission.get(j) != adm or status[j] != _IN_PROGRESS or job_worker[j] != wid:
                continue  # ended already (or its slot holds another job now)
            if j in st.end_tick:
                st.ends[st.end_tick.pop(j)].remove(j)
                st.n_dec -= 1
                st.ctx_base -= self.in_tokens[j] - st.anchor.pop(j)
                self._leave(st, j)
            elif j in st.left:
                del st.left[j]
                st.pre.remove(j)
                self._leave(st, j)
            elif j in st.held:
                st.held.remove(j)
                self._leave(st, j)
            elif j in st.lag_done:
                st.lag_done.remove(j)
            elif any(f == j for _, f in st.front):
                st.front = deque((t, f) for t, f in st.front if f != j)
            elif any(f == j for _, f in st.intake):
                st.intake = deque((t, f) for t, f in st.intake if f != j)
            elif j not in st.wait:
                continue
            ended.append((j, _TIMED_OUT))

    # ------------------------------------------------------------------ steps
    def _join(self, st: _Batch, wid: int, now: float, room: float) -> int | None:
        """The next waiting request, if it can join now with a prompt of at most ``room`` tokens (it joins:
        batch, KV, start), or None."""
        core = self.core
        wait = st.wait
        while wait:
            j = wait[0]
            if core.status[j] != _IN_PROGRESS or core.job_worker[j] != wid:
                wait.popleft()  # ended while it waited (timed out, cancelled)
                continue
            if len(st.batch) >= st.p.max_batch or self.in_tokens[j] > room:
                return None
            need = self.in_tokens[j] + self.out_tokens[j]
            if st.p.kv_cache_tokens is not None and st.kv + need > st.p.kv_cache_tokens:
                return None  # waits for room (a request that fits alone: admit() failed the others)
            wait.popleft()
            st.batch.add(j)
            st.kv += need
            core.start_s[j] = now  # execution starts when it joins the batch
            return j
        return None

    def _begin_step(self, w: Worker, st: _Batch, now: float) -> None:
        """The scheduler: which decodes and prompt chunks run in the step; then the step's timer is set."""
        st.busy = True
        p = st.p
        wid = w.wid
        budget = p.max_batched_tokens if p.max_batched_tokens is not None else math.inf
        in_tokens = self.in_tokens
        chunks: list[tuple[int, int, int]] = []  # (sequence, prompt tokens done before, chunk)
        in_run = False  # a later step of a multi-step run (no scheduling, no output processing)
        if p.chunked_prefill:
            st.decoding = True
            left = budget - st.n_dec
            for j in st.pre:
                if left <= 0:
                    break
                rest = st.left[j]
                c = int(min(rest, left))
                chunks.append((j, in_tokens[j] - rest, c))
                left -= c
            while True:
                nxt = self._join(st, wid, now, math.inf if left > 0 else 0)
                if nxt is None:
                    break
                j = nxt
                c = int(min(in_tokens[j], left))
                chunks.append((j, 0, c))
                left -= c
                st.left[j] = in_tokens[j]
                st.pre.append(j)
        elif st.run_left and (st.n_dec or st.held or st.wait):  # within a multi-step run: decode on, nothing joins
            st.run_left -= 1  # (all its steps run, with the sequences it was scheduled with, done or not)
            st.decoding = True
            in_run = True
        else:
            used = 0
            while True:
                nxt = self._join(st, wid, now, budget - used if chunks else math.inf)
                if nxt is None:
                    break
                j = nxt
                chunks.append((j, 0, in_tokens[j]))
                used += in_tokens[j]
                st.left[j] = in_tokens[j]
                st.pre.append(j)
            st.decoding = not chunks
            if st.decoding and st.n_dec:
                st.run_left = p.scheduler_steps - 1
                st.run_n = st.n_dec
        if not chunks and not st.n_dec and not in_run:
            st.busy = False
            st.due = -math.inf
            if st.lagged or st.lag_done:
                self._lag_out_idle(w, st, now)
            return
        prompt = pairs = 0.0
        for j, done, c in chunks:
            prompt += c
            pairs += c * (done + (c + 1) / 2)
            rest = st.left[j] - c
            if rest:
                st.left[j] = rest
            else:
                del st.left[j]
                st.firsts.append(j)
        if st.firsts:
            st.pre = [j for j in st.pre if j in st.left]
        dec = st.n_dec if st.decoding else 0
        run_n = st.run_n if in_run else dec  # a run's later step computes every sequence it was scheduled with
        tokens = run_n + int(prompt)
        if len(st.batch) > self.max_batch_used:
            self.max_batch_used = len(st.batch)
        if st.kv > self.max_kv_used:
            self.max_kv_used = st.kv
        if prompt > max(budget - dec, 0) and (p.chunked_prefill or len(chunks) > 1):
            self.over_budget += 1  # (a prefill-only step may take one prompt over the budget, as vLLM V0 does)
        d = engine_step_s(
            p,
            scheduled=run_n + len(chunks),
            tokens=tokens,
            prompt_tokens=int(prompt),
            sampled=run_n + len(st.firsts),
            context_tokens=st.ctx_base + dec * st.tick if dec else 0,
            attention_pairs=pairs,
            scheduled_by_cpu=not in_run,
        )
        # a step begins when the one before was due to end, unless that was a whole step ago: a late wake-up
        # of a live driver's timer does not stretch the engine (in the simulator the two are the same time)
        begin = st.due if now - st.due < st.last_d else now
        st.due, st.last_d = begin + d, d
        out = self.core.out
        if (st.lagged or st.lag_done) and st.run_left and not in_run and gpu_modelled(p):
            # the first step of a multi-step run returns to the engine loop once its CPU part is done (scheduling,
            # input preparation, the held output processed while its GPU work runs): the held tokens go out then
            st.lag_at = begin + cpu_part_s(p, dec + len(chunks))
            out.append(SetTimer(st.lag_at, TimerKind.STEP, (wid, st.epoch, _LAG_OUT)))
        out.append(SetTimer(begin + d, TimerKind.STEP, (wid, st.epoch, st.step)))

    def _lag_out_idle(self, w: Worker, st: _Batch, now: float) -> None:
        """Nothing left to run but the held output of the last step: vLLM 0.6.0's scheduler still runs the
        sequences it has not seen finish, so a run's first step processes that output (out once its CPU part is
        done); the rest of that run waits for the next request (``LLMEngine.step_async`` resumes a cached run
        before it schedules). Without multi-step or the GPU's work modelled, the output comes out now."""
        p = st.p
        n = len(st.lag_done)
        if p.scheduler_steps > 1 and gpu_modelled(p) and n:
            st.run_left = p.scheduler_steps - 1
            st.run_n = n
            st.lag_at = now + cpu_part_s(p, n)
            self.core.out.append(SetTimer(st.lag_at, TimerKind.STEP, (w.wid, st.epoch, _LAG_OUT)))
            return
        for j in self._out_lagged(st, now):
            self._finish(j, now)

    def tokens_out(self, j: int) -> int:
        """Output tokens job ``j``'s current run has given out so far, by the rules above (0 before its first
        token; all of them once it completed): what a live server streams after each step. Read only.

        A decoding sequence anchored at ``a`` has made ``tick - a`` tokens when ``tick`` decoding steps
        ended (one at the end of its prompt's step, then one a decoding step); within a multi-step run they
        are counted as they are made; a last token held for the next step (asynchronous output) comes with
        the job's completion."""
        status = self.core.status[j]
        if status == _COMPLETED:
            return int(self.out_tokens[j])
        if status != _IN_PROGRESS or math.isnan(self.first[j]):
            return 0
        st = self.engines.get(self.core.job_worker[j])
        if st is not None and j in st.lag_done:
            return int(self.out_tokens[j]) - 1  # its last token is held for the next step (asynchronous output)
        if st is None or j not in st.anchor:
            return 1  # its first token, and no decoding step since (or its last)
        return max(1, min(st.tick - st.anchor[j], int(self.out_tokens[j])))

    def finish(self, counters: dict[str, int]) -> None:
        counters["kv_too_small"] = self.kv_too_small
        counters["max_batch_used"] = self.max_batch_used
        counters["max_kv_used"] = self.max_kv_used
        counters["over_budget_steps"] = self.over_budget
