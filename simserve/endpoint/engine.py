"""The batching LLM worker: continuous batching in engine steps, a platform rule like any other.

Owns ``BatchEngine``, the endpoint core's model of a vLLM-like worker (``workload.service: {type:
llm}``). The core hands it each job it starts on a worker (``admit``); the engine runs steps on
that worker while it has sequences, each step a ``SetTimer(STEP)`` effect that both drivers carry
out like any timer, so the simulator and the live driver on a virtual clock run the same steps.
The rules (the semantics ``tests/theory/test_llm_theory.py`` pins):

- A worker takes up to ``max_concurrency`` requests from the endpoint's queue (default
  ``max_batch``; the core's concurrency for the worker); those not in the batch wait on it.
- At the start of a step, requests waiting on the worker join the batch in FIFO order while the
  batch has fewer than ``max_batch`` sequences and the KV cache has room for the request's input
  plus all its output tokens (reserved at join, so ``kv_cache_tokens`` is never exceeded). A
  request that could not fit even alone fails as its worker takes it (``kv_too_small`` in the
  run's notes).
- A step lasts ``base + per_sequence x (sequences in the step) + (input tokens joining in this
  step) / prefill_tokens_per_s``.
- A request emits its first output token at the end of the step it joined in and one more at the
  end of each later step; it completes at the end of the step that emits its last token. Its
  ``first_token_s`` is recorded for TTFT; TPOT follows from completion (``records.token_times``).
- A request over its execution limit (execution timeout, or what is left of its TTL) is dropped
  from the batch at the end of the first step past the limit, ``timed_out``; the worker goes on
  (an engine aborts one sequence, it does not restart).

Where the runtime runs a real engine (``simserve live`` with a real handler), the core does not
model steps (``EndpointCore.use_worker_engine``): the worker gets each job and reports its end and
first token itself. Sees the endpoint core only through ``ports.CorePort``. Pure Python; no
simpy, asyncio or clock.
"""

from __future__ import annotations

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
_FAILED = int(JobStatus.FAILED)
_TIMED_OUT = int(JobStatus.TIMED_OUT)


class _Batch:
    """One worker's engine: its waiting requests, the batch and the step it is running."""

    __slots__ = ("epoch", "p", "wait", "batch", "kv", "step", "ends", "end_step", "joined", "deadlines", "busy")

    def __init__(self, epoch: int, p: EngineParams) -> None:
        self.epoch = epoch  # the worker's epoch: a crash or restart makes this engine (and its steps) stale
        self.p = p
        self.wait: deque[int] = deque()  # handed to the worker, not yet in the batch (FIFO)
        self.batch: set[int] = set()  # sequences in the batch
        self.kv = 0  # KV-cache tokens reserved by the batch
        self.step = 0  # number of the step running (or next to run)
        self.ends: dict[int, list[int]] = {}  # step number -> sequences whose last token ends it
        self.joined: list[int] = []  # sequences that joined in the running step (first token at its end)
        self.deadlines: list[tuple[float, int, int]] = []  # (execution limit, admission, job), a heap
        self.end_step: dict[int, int] = {}  # sequence in the batch -> the step its last token ends
        self.busy = False  # a step is running (or being set up)


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
                self.core.out.append(SetTimer(now, TimerKind.STEP, (w.wid, st.epoch, -2)))
            return
        st.wait.append(j)
        self.n_admitted += 1
        self.admission[j] = self.n_admitted
        heappush(st.deadlines, (now + limit_s, self.n_admitted, j))
        if not st.busy:  # an idle engine: its next step begins once every job handed over now is there
            st.busy = True
            self.core.out.append(SetTimer(now, TimerKind.STEP, (w.wid, st.epoch, -1)))

    def on_step(self, arg: tuple[int, int, int]) -> None:
        """The step ``arg = (worker, epoch, step)`` ended: tokens out, finished sequences leave, next step."""
        wid, epoch, step = arg
        st = self.engines.get(wid)
        w = self.core.workers[wid]
        core = self.core
        now = core.now
        if step == -2:  # requests that can never fit in the KV cache fail (whatever their worker did since)
            too_big, self.too_big = self.too_big, []
            for j in too_big:
                if core.status[j] == _IN_PROGRESS and j in self.token:
                    self.kv_too_small += 1
                    self.admission.pop(j, None)
                    core.job_finished(self.token.pop(j), now, _FAILED)
            return
        if st is None or st.epoch != epoch or w.epoch != epoch or (st.step != step and step >= 0):
            return  # the worker crashed, restarted or stopped since: its engine's steps are stale
        if step < 0:  # an idle engine's first step begins
            self._begin_step(w, st, now)
            return
        status, job_worker, in_tokens, out_tokens = core.status, core.job_worker, self.in_tokens, self.out_tokens
        for j in st.joined:
            self.first[j] = now
        st.joined = []
        st.step = step + 1
        ended: list[tuple[int, int]] = []
        batch = st.batch
        for j in st.ends.pop(step, ()):
            batch.discard(j)
            del st.end_step[j]
            st.kv -= in_tokens[j] + out_tokens[j]
            ended.append((j, _IN_PROGRESS))
        dl = st.deadlines
        while dl and dl[0][0] <= now:
            _, adm, j = heappop(dl)
            if self.admission.get(j) != adm or status[j] != _IN_PROGRESS or job_worker[j] != wid:
                continue  # ended already (or its slot holds another job now)
            if j in batch:
                batch.discard(j)
                st.ends[st.end_step.pop(j)].remove(j)
                st.kv -= in_tokens[j] + out_tokens[j]
            elif j not in st.wait:
                continue
            ended.append((j, _TIMED_OUT))
        for j, how in ended:
            token = self.token.pop(j, j)
            del self.admission[j]
            if how == _IN_PROGRESS:
                core.job_finished(token, now)
            else:
                core.job_finished(token, now, _TIMED_OUT, restart=False)
            if w.epoch != epoch:
                return
        self._begin_step(w, st, now)

    # ------------------------------------------------------------------ steps
    def _begin_step(self, w: Worker, st: _Batch, now: float) -> None:
        """Requests join (FIFO, within max_batch and the KV cache), then the step's timer is set."""
        st.busy = True
        p = st.p
        core = self.core
        status, job_worker, in_tokens, out_tokens = core.status, core.job_worker, self.in_tokens, self.out_tokens
        wid = w.wid
        batch, wait = st.batch, st.wait
        kv_cap = p.kv_cache_tokens
        prefill = 0
        joined = st.joined
        while wait and len(batch) < p.max_batch:
            j = wait[0]
            if status[j] != _IN_PROGRESS or job_worker[j] != wid:
                wait.popleft()  # ended while it waited (timed out, cancelled)
                continue
            need = in_tokens[j] + out_tokens[j]
            if kv_cap is not None and st.kv + need > kv_cap:
                break  # waits for room (a request that fits alone: admit() failed the others)
            wait.popleft()
            batch.add(j)
            st.kv += need
            prefill += in_tokens[j]
            core.start_s[j] = now  # execution starts when it joins the batch
            joined.append(j)
            end_step = st.step + out_tokens[j] - 1
            st.end_step[j] = end_step
            ends = st.ends.get(end_step)
            if ends is None:
                st.ends[end_step] = [j]
            else:
                ends.append(j)
        if not batch:
            st.busy = False
            return
        if st.kv > self.max_kv_used:
            self.max_kv_used = st.kv
        if len(batch) > self.max_batch_used:
            self.max_batch_used = len(batch)
        d = p.base_s + p.per_sequence_s * len(batch) + prefill / p.prefill_tokens_per_s
        core.out.append(SetTimer(now + d, TimerKind.STEP, (wid, st.epoch, st.step)))

    def finish(self, counters: dict[str, int]) -> None:
        counters["kv_too_small"] = self.kv_too_small
        counters["max_batch_used"] = self.max_batch_used
        counters["max_kv_used"] = self.max_kv_used
