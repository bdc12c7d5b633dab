"""Named, independent random streams owned by one run.

``RandomStreams(seed).get("arrivals")`` derives a numpy Generator from
``SeedSequence([seed, crc32(name)])``: adding a stream never shifts another, and the same
seed gives the same numbers on any machine (builtin ``hash()`` is never used). Also owns
``Draws``, a buffered scalar sampler over a vectorised distribution.
"""

from __future__ import annotations

import zlib
from typing import Protocol

import numpy as np


class _Sampler(Protocol):
    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray: ...


class RandomStreams:
    """Per-run registry of named generators."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._streams: dict[str, np.random.Generator] = {}

    def get(self, name: str) -> np.random.Generator:
        gen = self._streams.get(name)
        if gen is None:
            ss = np.random.SeedSequence([self.seed, zlib.crc32(name.encode())])
            gen = self._streams[name] = np.random.default_rng(ss)
        return gen


class Draws:
    """Scalar draws from a vectorised distribution, refilled in blocks (cheap per call)."""

    __slots__ = ("_dist", "_rng", "_buf", "_i", "_block")

    def __init__(self, dist: _Sampler, rng: np.random.Generator, block: int = 256) -> None:
        self._dist, self._rng, self._block = dist, rng, block
        self._buf: list[float] = []
        self._i = 0

    def next(self) -> float:
        if self._i >= len(self._buf):
            self._buf = self._dist.sample(self._rng, self._block).tolist()
            self._i = 0
        value = self._buf[self._i]
        self._i += 1
        return value
