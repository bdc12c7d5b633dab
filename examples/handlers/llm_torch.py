"""A small transformer decoding for real: batched matmuls on the GPU (torch), or numpy on the CPU.

The same continuous batching as ``llm_engine.py`` (one engine per worker process, requests join
between steps in FIFO order up to ``max_batch``, every token streamed as it comes), but a step
takes what the model takes instead of the scenario's rule. The model is a randomly initialised
decoder made at start (nothing downloaded): ``LLM_LAYERS`` layers of width ``LLM_DIM``, one
attention head, an MLP of 4x the width, a vocabulary of ``LLM_VOCAB``. A step runs the prompts of
the requests joining it (prefill: causal attention over each prompt, their first token) and one
decode token for every other sequence in the batch (each layer's projections and MLP as one
batched matmul over the sequences; attention over each sequence's KV cache, padded and masked),
then waits for the device. Each chunk yielded is ``{"token", "step_s", "batch"}``: the token,
the measured time of the step that made it and the sequences in that step.

With torch and a GPU (``CUDA_VISIBLE_DEVICES``, which ``simserve live --gpus`` sets): fp16 on the
GPU, width 1024 and 8 layers by default. Without: numpy float32 on the CPU, width 256 and 2
layers. Prompts longer than ``LLM_MAX_LEN`` minus their reply are cut to fit the KV cache.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import deque
from typing import Any

try:
    import torch

    GPU = torch.cuda.is_available()
except ImportError:  # numpy on the CPU
    torch = None
    GPU = False
import numpy as np

BACKEND = "torch-cuda" if GPU else "numpy-cpu"
DIM = int(os.environ.get("LLM_DIM") or (1024 if GPU else 256))
LAYERS = int(os.environ.get("LLM_LAYERS") or (8 if GPU else 2))
VOCAB = int(os.environ.get("LLM_VOCAB") or (32000 if GPU else 4096))
MAX_LEN = int(os.environ.get("LLM_MAX_LEN") or (4096 if GPU else 1024))


class Ops:
    """The few array operations the model needs, on torch (GPU, fp16) or numpy (CPU, float32)."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def weight(self, *shape: int) -> Any:
        w = self.rng.standard_normal(shape, dtype=np.float32) / math.sqrt(shape[0])
        return torch.from_numpy(w).to("cuda", torch.float16) if GPU else w

    def zeros(self, *shape: int) -> Any:
        return torch.zeros(shape, device="cuda", dtype=torch.float16) if GPU else np.zeros(shape, np.float32)

    def index(self, ids: list[int]) -> Any:
        return torch.tensor(ids, device="cuda") if GPU else np.asarray(ids)

    def softmax(self, x: Any) -> Any:
        if GPU:
            return torch.softmax(x.float(), dim=-1).half()
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def gelu(self, x: Any) -> Any:
        return torch.nn.functional.gelu(x) if GPU else 0.5 * x * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))

    def argmax(self, x: Any) -> list[int]:
        return x.argmax(dim=-1).tolist() if GPU else x.argmax(axis=-1).tolist()

    def transpose(self, x: Any) -> Any:
        return x.transpose(-1, -2) if GPU else np.swapaxes(x, -1, -2)

    def sync(self) -> None:
        if GPU:
            torch.cuda.synchronize()


class Model:
    """A randomly initialised decoder with a KV cache of ``slots`` sequences."""

    def __init__(self, slots: int) -> None:
        o = self.o = Ops()
        self.emb = o.weight(VOCAB, DIM)
        shapes = ((DIM, 3 * DIM), (DIM, DIM), (DIM, 4 * DIM), (4 * DIM, DIM))  # qkv, out, mlp up, mlp down
        self.layers = [tuple(o.weight(*s) for s in shapes) for _ in range(LAYERS)]
        self.k = [o.zeros(slots, MAX_LEN, DIM) for _ in range(LAYERS)]
        self.v = [o.zeros(slots, MAX_LEN, DIM) for _ in range(LAYERS)]
        self.scale = 1 / math.sqrt(DIM)

    def _block(self, i: int, x: Any, att: Any) -> Any:
        _, wo, w1, w2 = self.layers[i]
        x = x + att @ wo
        return x + self.o.gelu(x @ w1) @ w2

    def prefill(self, slot: int, ids: list[int]) -> int:
        """Run a prompt into ``slot``'s cache; its first output token."""
        o, n = self.o, len(ids)
        x = self.emb[o.index(ids)]
        mask = np.triu(np.full((n, n), -1e4, np.float32), 1)
        mask = torch.from_numpy(mask).to("cuda", torch.float16) if GPU else mask
        for i, (wqkv, *_rest) in enumerate(self.layers):
            qkv = x @ wqkv
            q, k, v = qkv[:, :DIM], qkv[:, DIM : 2 * DIM], qkv[:, 2 * DIM :]
            self.k[i][slot, :n] = k
            self.v[i][slot, :n] = v
            x = self._block(i, x, o.softmax(q @ o.transpose(k) * self.scale + mask) @ v)
        return o.argmax(x[-1:] @ o.transpose(self.emb))[0]

    def decode(self, slots: list[int], tokens: list[int], pos: list[int]) -> list[int]:
        """One token for each sequence in ``slots`` (batched); ``pos``: where each one's new token goes."""
        o = self.o
        idx = o.index(slots)
        x = self.emb[o.index(tokens)]
        width = max(pos) + 1
        mask = np.where(np.arange(width)[None, :] <= np.asarray(pos)[:, None], 0.0, -1e4).astype(np.float32)
        mask = torch.from_numpy(mask).to("cuda", torch.float16) if GPU else mask
        rows = o.index(pos)
        for i, (wqkv, *_rest) in enumerate(self.layers):
            qkv = x @ wqkv
            q, k, v = qkv[:, :DIM], qkv[:, DIM : 2 * DIM], qkv[:, 2 * DIM :]
            self.k[i][idx, rows] = k
            self.v[i][idx, rows] = v
            keys, vals = self.k[i][idx, :width], self.v[i][idx, :width]  # (n, width, DIM)
            scores = (q[:, None, :] @ o.transpose(keys))[:, 0, :] * self.scale + mask
            att = (o.softmax(scores)[:, None, :] @ vals)[:, 0, :]
            x = self._block(i, x, att)
        return o.argmax(x @ o.transpose(self.emb))


class Sequence:
    __slots__ = ("n_in", "n_out", "emitted", "queue", "gone", "slot", "last")

    def __init__(self, n_in: int, n_out: int) -> None:
        self.n_out = min(max(n_out, 1), MAX_LEN - 1)
        self.n_in = min(max(n_in, 1), MAX_LEN - self.n_out)  # the prompt is cut to fit the cache
        self.emitted = 0
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.gone = False
        self.slot = -1
        self.last = 0


class Engine:
    def __init__(self) -> None:
        self.model: Model | None = None
        self.max_batch = 0
        self.free: list[int] = []
        self.waiting: deque[Sequence] = deque()
        self.batch: list[Sequence] = []
        self.task: asyncio.Task[None] | None = None
        self.rng = np.random.default_rng(1)

    def submit(self, n_in: int, n_out: int, max_batch: int) -> Sequence:
        if self.model is None:  # the cache is sized by the scenario's max_batch, at the first request
            self.max_batch = max(max_batch, 1)
            self.model = Model(self.max_batch)
            self.free = list(range(self.max_batch))
        seq = Sequence(n_in, n_out)
        self.waiting.append(seq)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())
        return seq

    def _step(self, joining: list[Sequence], running: list[Sequence]) -> tuple[list[int], list[int], float]:
        """One step on the device (in a thread): the joining prompts, then one token for each running one."""
        assert self.model is not None
        t0 = time.perf_counter()
        firsts = [self.model.prefill(s.slot, self.rng.integers(0, VOCAB, s.n_in).tolist()) for s in joining]
        nexts = []
        if running:
            pos = [s.n_in + s.emitted - 1 for s in running]
            nexts = self.model.decode([s.slot for s in running], [s.last for s in running], pos)
        self.model.o.sync()
        return firsts, nexts, time.perf_counter() - t0

    async def _run(self) -> None:
        try:
            while True:
                for s in [s for s in self.batch if s.gone]:
                    self.batch.remove(s)
                    self.free.append(s.slot)
                running = list(self.batch)
                joining = []
                while self.waiting and len(self.batch) < self.max_batch:
                    s = self.waiting.popleft()
                    if s.gone:
                        continue
                    s.slot = self.free.pop()
                    joining.append(s)
                    self.batch.append(s)
                if not self.batch:
                    return
                firsts, nexts, step_s = await asyncio.to_thread(self._step, joining, running)
                n = len(joining) + len(running)
                for s, tok in [*zip(joining, firsts, strict=True), *zip(running, nexts, strict=True)]:
                    s.emitted += 1
                    s.last = int(tok)
                    s.queue.put_nowait({"token": s.last, "step_s": step_s, "batch": n})
                    if s.emitted >= s.n_out:
                        s.queue.put_nowait(None)
                        self.batch.remove(s)
                        self.free.append(s.slot)
        finally:
            self.task = None


ENGINE = Engine()


async def handler(job: dict[str, Any]) -> Any:
    """Runpod-style async-generator handler: one chunk per output token."""
    inp = job["input"]
    engine = inp.get("engine") or {}
    seq = ENGINE.submit(
        int(inp.get("input_tokens", 1)), int(inp.get("output_tokens", 1)), int(engine.get("max_batch", 64))
    )
    try:
        while True:
            chunk = await seq.queue.get()
            if chunk is None:
                return
            yield chunk
    finally:
        seq.gone = True
