"""A binary min-heap of (time, id, payload) entries in three flat arrays: the compiled build's queue of job
completions (``hotloop.run_hot``).

Owns ``TimeHeap``. Entries are ordered by (time, id), and ids are the kernel's event ids, unique, so the
order is total and is the order the kernel's own heap gives entries of one priority. Compiled
(``setup.py``; C types in ``timeheap.pxd``) a push or a pop compares C doubles and integers, where the
kernel's heap compares 4-tuples of Python objects, which was 40 % of the per-job loop's instructions with
~2,000 entries (bench_core case B, 2026-12-07). Interpreted, its sifting loops are slower than ``heapq``:
the interpreted ``run_hot`` pushes completions onto the kernel's heap instead and never builds one.
"""

from __future__ import annotations

from array import array


class TimeHeap:
    """Entries ``(t, e, p)``: time in seconds, a unique id, an integer payload; the first by (t, e) on top."""

    __slots__ = ("ta", "ea", "pa", "t", "e", "p", "n")

    def __init__(self, capacity: int = 256) -> None:
        # ``t``/``e``/``p`` are the arrays (compiled: typed views of ``ta``/``ea``/``pa``); ``n`` entries in use
        self.t = self.ta = array("d", bytes(8 * capacity))
        self.e = self.ea = array("q", bytes(8 * capacity))
        self.p = self.pa = array("q", bytes(8 * capacity))
        self.n = 0

    def push(self, t: float, e: int, p: int) -> None:
        i = self.n
        if i == len(self.ta):
            self._grow()
        ts, es = self.t, self.e
        while i > 0:  # sift up: parents later than the new entry move down
            up = (i - 1) >> 1
            tu = ts[up]
            if tu < t or (tu == t and es[up] < e):
                break
            self._move(up, i)
            i = up
        self._put(i, t, e, p)
        self.n += 1

    def pop(self) -> int:
        """Remove the first entry (there must be one) and return its payload."""
        ts, es, ps = self.t, self.e, self.p
        first = ps[0]
        n = self.n - 1
        self.n = n
        if n > 0:  # the last entry sifts down from the top
            t, e, p = ts[n], es[n], ps[n]
            i = 0
            while True:
                c = 2 * i + 1
                if c >= n:
                    break
                if c + 1 < n and (ts[c + 1] < ts[c] or (ts[c + 1] == ts[c] and es[c + 1] < es[c])):
                    c += 1
                tc = ts[c]
                if t < tc or (t == tc and e < es[c]):
                    break
                self._move(c, i)
                i = c
            self._put(i, t, e, p)
        return first

    def _move(self, src: int, dst: int) -> None:
        self.t[dst] = self.t[src]
        self.e[dst] = self.e[src]
        self.p[dst] = self.p[src]

    def _put(self, i: int, t: float, e: int, p: int) -> None:
        self.t[i] = t
        self.e[i] = e
        self.p[i] = p

    def _grow(self) -> None:
        """Twice the room (the views move to the new arrays)."""
        self.t = self.ta = self.ta + self.ta
        self.e = self.ea = self.ea + self.ea
        self.p = self.pa = self.pa + self.pa
