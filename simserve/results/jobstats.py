"""Job statistics computed online, block by block: what ``summary.json`` says about requests.

Owns ``JobStats``. A run hands it its jobs in blocks (job-id order; each block's outcomes final):
the streamed engine as it frees each block of its ring buffer, a run with tables by slicing its
jobs table the same way, so counts and means come from the same arithmetic in both. It keeps:

- exact counts by status, requests served, cold starts, and sums for the means;
- latency, queue-wait and execution percentiles in DDSketch sketches (``ddsketch``, DataDog's
  reference implementation) with relative accuracy ``RELATIVE_ACCURACY``: every reported
  percentile is within that fraction of a value of the sample at that rank. Values are binned
  with numpy a block at a time into the sketch's buckets, whose counts are kept in an array; the
  sketch is filled from them, one call per bucket, when the summary asks it (a sketch's add is
  pure Python: one call per value would cost more than the simulation);
- per-minute aggregates over the whole horizon (``MinuteSeries``): arrivals, completions, mean
  queue length, and latency count, mean and percentiles of the jobs that arrived in each minute;
- in a sketched run, ``StartupWait``: the jobs that waited for the first cold start, and the latency
  percentiles without them (what ``simserve.cli.startup`` judges a tail by, without a jobs table).

Memory is O(buckets + minutes), not O(jobs). Imports numpy and ddsketch only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ddsketch import DDSketch
from ddsketch.mapping import LogarithmicMapping

from simserve.records import token_times

#: relative accuracy of every sketched percentile (0.1 %)
RELATIVE_ACCURACY = 0.001
#: length of one bucket of the per-minute series
MINUTE_S = 60.0

# job status codes (simserve.records.JobStatus; repeated as plain ints to keep this module leaf-level)
IN_QUEUE, IN_PROGRESS, COMPLETED, FAILED, CANCELLED, TIMED_OUT, REJECTED = range(7)
STATUS_NAMES = ("in_queue", "in_progress", "completed", "failed", "cancelled", "timed_out", "rejected")


class Sketch:
    """A DDSketch fed a numpy array at a time.

    The values are binned with numpy into the sketch's own buckets (``LogarithmicMapping`` keys) and
    their counts kept in an array; the ``DDSketch`` is filled from those counts when it is first asked
    (each bucket added once, at its representative value, so it holds the same bins as one fed every
    value): a sketch's add is pure Python, one call per bucket per block cost more than the counting."""

    def __init__(self) -> None:
        self.mapping = LogarithmicMapping(RELATIVE_ACCURACY)
        self.log_gamma = math.log(self.mapping.gamma)
        self.zero_count = 0  # values at or below the mapping's smallest (the sketch's zero bucket)
        self.k0 = 0  # the key of counts[0]
        self.counts = np.zeros(0, dtype=np.int64)
        self._sketch: DDSketch | None = None

    def add(self, values: np.ndarray) -> None:
        """Add every value (non-negative) of ``values``."""
        if not len(values):
            return
        self._sketch = None
        tiny = values <= self.mapping.min_possible
        n_zero = int(np.count_nonzero(tiny))
        if n_zero:
            self.zero_count += n_zero
            values = values[~tiny]
        if not len(values):
            return
        k = np.ceil(np.log(values) / self.log_gamma).astype(np.int64)
        lo, hi = int(k.min()), int(k.max())
        if not len(self.counts):
            self.k0, self.counts = lo, np.zeros(hi - lo + 1, dtype=np.int64)
        elif lo < self.k0 or hi >= self.k0 + len(self.counts):  # widen the range to cover the block's keys
            new_k0 = min(lo, self.k0)
            wider = np.zeros(max(hi, self.k0 + len(self.counts) - 1) - new_k0 + 1, dtype=np.int64)
            wider[self.k0 - new_k0 : self.k0 - new_k0 + len(self.counts)] = self.counts
            self.k0, self.counts = new_k0, wider
        self.counts[lo - self.k0 : hi - self.k0 + 1] += np.bincount(k - lo)  # counted, not sorted

    @property
    def count(self) -> int:
        """How many values were added."""
        return self.zero_count + int(self.counts.sum())

    @property
    def sketch(self) -> DDSketch:
        """The ``DDSketch`` of every value added so far (filled from the bucket counts, kept until the next add)."""
        if self._sketch is None:
            sk = DDSketch(RELATIVE_ACCURACY)
            if self.zero_count:
                sk.add(0.0, float(self.zero_count))
            keys = np.flatnonzero(self.counts)
            ks, cs = (keys + self.k0).tolist(), self.counts[keys].tolist()
            value, add = self.mapping.value, sk.add
            # the largest bucket first, then the rest ascending: the store widens its range once, not at each key
            for i in (len(ks) - 1, *range(len(ks) - 1)) if ks else ():
                add(value(ks[i]), float(cs[i]))  # the bucket's representative value lands in bucket k
            self._sketch = sk
        return self._sketch

    def representative(self, values: np.ndarray) -> np.ndarray:
        """The value the sketch answers for each of ``values`` (its bucket's; 0 for the zero bucket)."""
        out = np.zeros(len(values))
        pos = values > self.mapping.min_possible
        keys = np.ceil(np.log(values[pos]) / self.log_gamma).astype(np.int64)
        out[pos] = [self.mapping.value(k) for k in keys.tolist()]
        return out

    def quantile(self, q: float) -> float | None:
        v = self.sketch.get_quantile_value(q)
        return None if v is None else float(v)


@dataclass
class MinuteSeries:
    """Per-minute aggregates over [0, horizon): counts, mean queue length, latency by arrival minute."""

    horizon_s: float
    n: int = field(init=False)
    arrivals: np.ndarray = field(init=False)
    completed: np.ndarray = field(init=False)
    queue_area: np.ndarray = field(init=False)  # job-seconds waiting in each minute
    lat_count: np.ndarray = field(init=False)
    lat_sum: np.ndarray = field(init=False)
    lat_p50: np.ndarray = field(init=False)
    lat_p95: np.ndarray = field(init=False)
    lat_p99: np.ndarray = field(init=False)
    _carry_minute: int = -1
    _carry: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.n = max(1, math.ceil(self.horizon_s / MINUTE_S))
        self.arrivals = np.zeros(self.n)
        self.completed = np.zeros(self.n)
        self.queue_area = np.zeros(self.n)
        self.lat_count = np.zeros(self.n)
        self.lat_sum = np.zeros(self.n)
        self.lat_p50 = np.full(self.n, np.nan)
        self.lat_p95 = np.full(self.n, np.nan)
        self.lat_p99 = np.full(self.n, np.nan)

    def _minute(self, t: np.ndarray) -> np.ndarray:
        return np.clip(floor_div(t, MINUTE_S).astype(np.int64), 0, self.n - 1)

    def add_area(self, start: np.ndarray, end: np.ndarray) -> None:
        """Add the time each interval [start, end) spends in each minute to ``queue_area``."""
        keep = end > start
        Buckets(start[keep], end[keep], self.n, MINUTE_S).add_area(self.queue_area)

    def add(self, arrival: np.ndarray, end: np.ndarray, completed: np.ndarray, latency: np.ndarray) -> None:
        """A block of jobs (arrival order): ``latency`` of those ``completed`` (a mask over the block)."""
        self.arrivals += np.bincount(self._minute(arrival), minlength=self.n)
        self.completed += np.bincount(self._minute(end[completed]), minlength=self.n)
        am = self._minute(arrival[completed])
        self.lat_count += np.bincount(am, minlength=self.n)
        self.lat_sum += np.bincount(am, weights=latency, minlength=self.n)
        # exact percentiles per arrival minute (minutes never decrease along job ids); the block's last
        # minute may go on in the next block, so its values carry over until a later minute shows up
        if not len(am):
            return
        if self._carry:
            if am[0] == self._carry_minute:
                carried = np.concatenate(self._carry)
                latency = np.concatenate([carried, latency])
                am = np.concatenate([np.full(len(carried), self._carry_minute, dtype=am.dtype), am])
            else:
                self._close_groups(np.concatenate(self._carry), np.array([0]), np.array([self._carry_minute]))
            self._carry = []
        starts = np.r_[0, np.flatnonzero(np.diff(am)) + 1]
        last = int(starts[-1])
        if len(starts) > 1:
            self._close_groups(latency[:last], starts[:-1], am[starts[:-1]])
        self._carry, self._carry_minute = [latency[last:]], int(am[last])

    def _close_groups(self, values: np.ndarray, starts: np.ndarray, minutes: np.ndarray) -> None:
        """The p50, p95 and p99 of each group of ``values`` (group ``i`` from ``starts[i]`` to the next start) in
        its ``minutes[i]``: ``group_percentiles``, equal to ``np.percentile`` on each group."""
        counts = np.diff(np.r_[starts, len(values)])
        big = counts > BIG_GROUP
        for i in np.flatnonzero(big).tolist():  # one partition each beats sorting them with the rest
            s = int(starts[i])
            m = int(minutes[i])
            self.lat_p50[m], self.lat_p95[m], self.lat_p99[m] = np.percentile(values[s : s + counts[i]], PERCENTILES)
        if big.all():
            return
        small = ~big
        keep = np.repeat(small, counts)
        p = group_percentiles(values[keep], np.r_[0, np.cumsum(counts[small])[:-1]], PERCENTILES)
        m_small = minutes[small]
        self.lat_p50[m_small], self.lat_p95[m_small], self.lat_p99[m_small] = p

    def finish(self) -> None:
        if self._carry:
            self._close_groups(np.concatenate(self._carry), np.array([0]), np.array([self._carry_minute]))
            self._carry = []

    def frame(self) -> Any:
        """The series as a DataFrame, one row per minute (``minute_start_s``)."""
        import pandas as pd

        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.lat_sum / self.lat_count
        return pd.DataFrame(
            {
                "minute_start_s": np.arange(self.n) * MINUTE_S,
                "arrivals": self.arrivals.astype(np.int64),
                "completed": self.completed.astype(np.int64),
                "queue_mean": self.queue_area / MINUTE_S,
                "latency_count": self.lat_count.astype(np.int64),
                "latency_mean_s": mean,
                "latency_p50_s": self.lat_p50,
                "latency_p95_s": self.lat_p95,
                "latency_p99_s": self.lat_p99,
            }
        )


def floor_div(t: np.ndarray, width: float) -> np.ndarray:
    """``t // width`` (as floats), bit for bit, at a fifth of its cost (numpy's float ``//`` computes a
    remainder too), for a whole-number ``width``. ``floor(t / width)`` is never less than the true floor
    (rounding is monotone and whole numbers are exact); it could be one more where ``t / width`` rounds
    up to a whole number ``m`` that ``t`` is short of, which ``m · width > t`` (exact below 2^53) catches:
    a tiny negative ``t`` whose quotient underflows to -0 (``-5e-324 // 60`` is -1). No positive time was
    found with a width of 60 (every minute up to 2·10^7, three floats below each).

    >>> t = np.array([-0.5, 0.0, 59.999999999999993, 60.0, 119.99999999999999])
    >>> floor_div(t, 60.0).tolist() == (t // 60.0).tolist()
    True
    """
    m = np.floor(t / width)
    m -= m * width > t
    return m


#: the per-minute latency percentiles
PERCENTILES = (50, 95, 99)
#: a minute with more latencies than this gets its own ``np.percentile`` (the rest are sorted together)
BIG_GROUP = 4096


def group_percentiles(values: np.ndarray, starts: np.ndarray, percentiles: tuple[float, ...]) -> np.ndarray:
    """``np.percentile(group, percentiles)`` (its default ``linear`` method, bit for bit) of every group of
    ``values``, group ``i`` running from ``starts[i]`` to ``starts[i + 1]`` (the last to the end), as one
    array of shape (len(percentiles), groups), without a call per group: each group is sorted (one
    sort of (group, value) pairs) and its order statistics interpolated as numpy does (``_get_indexes`` and ``_lerp``).

    >>> v = np.array([3.0, 1.0, 2.0, 10.0, 0.5])
    >>> group_percentiles(v, np.array([0, 3]), (50, 95)).tolist()
    [[2.0, 5.25], [2.9, 9.525]]
    """
    n_groups = len(starts)
    counts = np.diff(np.r_[starts, len(values)])
    gid = np.repeat(np.arange(n_groups), counts)
    # sorted by (group, value) in one sort: numpy orders complex numbers by real part, then imaginary part
    # (NaN last, as an argsort puts it); half the time of an argsort of the values and a radix sort by group
    key = np.empty(len(values), dtype=complex)  # set part by part: ``1j * inf`` would be nan + inf·j
    key.real, key.imag = gid, values
    key.sort()
    v = key.imag
    q = np.true_divide(np.asarray(percentiles, dtype=float), 100)
    virtual = (counts - 1)[None, :] * q[:, None]  # numpy's "linear": (n - 1) * q
    prev = np.floor(virtual)
    nxt = prev + 1
    top = virtual >= (counts - 1)[None, :]  # at or past the last value: both neighbours are the last
    prev[top] = counts[None, :].repeat(len(q), 0)[top] - 1
    nxt[top] = prev[top]
    gamma = virtual - np.where(top, -1.0, np.floor(virtual))  # numpy's gamma is taken from its index -1 there
    a = v[starts[None, :] + prev.astype(np.intp)]
    b = v[starts[None, :] + nxt.astype(np.intp)]
    diff = b - a
    out = a + diff * gamma
    np.subtract(b, diff * (1 - gamma), out=out, where=gamma >= 0.5)
    return out


def _first_boundary_after(t: np.ndarray, n: int, width: float) -> np.ndarray:
    """The index of the first bucket boundary ``B = i · width`` after each ``t``, clipped to 0..n+1."""
    q = t / width
    np.floor(q, out=q)
    b = q.astype(np.int64)
    b += 1
    return np.clip(b, 0, n + 1, out=b)


class Buckets:
    """Intervals [start, end) placed among the buckets [i·width, (i+1)·width), i < n: where each start and
    each end falls is found once, for every weighting of the same intervals (``add_area``).

    ``add_area`` adds Σ weight × |[start, end) ∩ bucket i| to ``out[i]``, vectorised: the integral up to each
    boundary B is Σ w·(clip(B − start) − clip(B − end)), from counts and sums of starts and ends binned by
    bucket. Only the buckets from the one holding the earliest start to the one holding the latest end are
    touched (elsewhere the area is zero), so a chunk of a long run costs what its own span costs, not the
    horizon's: every value there is bit for bit the one of the same sums taken from time 0 (past the latest
    end, those sums leave rounding, which is not added).
    """

    __slots__ = ("start", "end", "n", "width", "b_start", "b_end", "lo", "hi")

    def __init__(self, start: np.ndarray, end: np.ndarray, n: int, width: float) -> None:
        self.start, self.end, self.n, self.width = start, end, n, width
        self.b_start = _first_boundary_after(start, n, width)
        self.b_end = _first_boundary_after(end, n, width)
        if len(start):  # the boundaries where the integral can change: from the last one before any start
            self.lo = max(min(int(self.b_start.min()), int(self.b_end.min())) - 1, 0)
            self.hi = max(int(self.b_start.max()), int(self.b_end.max()))
        else:
            self.lo = self.hi = 0

    def add_area(self, out: np.ndarray, weight: np.ndarray | None = None, key: np.ndarray | None = None) -> None:
        """Add each bucket's Σ weight × overlap to ``out`` (length n), or with ``key`` (ints below
        ``len(out)``) each key's intervals to its row ``out[k]`` of a 2-d ``out``, in one pass; each row is
        what the call on that key's intervals alone adds (the same sums in the same order)."""
        lo, hi, n = self.lo, self.hi, self.n
        m = min(hi, n) - lo  # buckets lo .. lo + m - 1
        if m <= 0:
            return
        n_keys = 1 if key is None else out.shape[0]
        row = hi - lo + 1  # boundaries lo .. hi
        edges = np.arange(lo, hi + 1) * self.width
        offset = -lo if key is None else key * row - lo

        def ramp(t: np.ndarray, b: np.ndarray) -> np.ndarray:  # Σ w · max(0, B − t) at every boundary B
            k = b + offset  # in its key's row
            if weight is None:
                cnt = np.bincount(k, minlength=n_keys * row).astype(float)
                tot = np.bincount(k, weights=t, minlength=n_keys * row)
            else:
                cnt = np.bincount(k, weights=weight, minlength=n_keys * row)
                tot = np.bincount(k, weights=weight * t, minlength=n_keys * row)
            return edges * np.cumsum(cnt.reshape(n_keys, row), axis=1) - np.cumsum(tot.reshape(n_keys, row), axis=1)

        area = np.diff(ramp(self.start, self.b_start) - ramp(self.end, self.b_end), axis=1)[:, :m]
        if key is None:
            out[lo : lo + m] += area[0]
            return
        # a key's row is exactly zero outside its own intervals' span (the sums past its last end differ from
        # zero by rounding), so each row is what the call on that key's intervals alone adds
        first, last = np.full(n_keys, n + 2), np.full(n_keys, -1)
        np.minimum.at(first, key, self.b_start)
        np.maximum.at(last, key, self.b_end)
        bucket = np.arange(lo, lo + m)
        area[(bucket < first[:, None] - 1) | (bucket >= last[:, None])] = 0.0
        out[:, lo : lo + m] += area


def interval_area(
    start: np.ndarray,
    end: np.ndarray,
    n: int,
    width: float,
    weight: np.ndarray | None = None,
    key: np.ndarray | None = None,
    n_keys: int = 1,
) -> np.ndarray:
    """``out[i]`` = Σ weight × |[start, end) ∩ [i·width, (i+1)·width)| for i < n (``Buckets.add_area``); with
    ``key`` (ints below ``n_keys``), one such row per key, ``out[k, i]``."""
    out = np.zeros(n) if key is None else np.zeros((n_keys, n))
    Buckets(start, end, n, width).add_area(out, weight, key)
    return out


#: the latency percentiles a streamed run keeps without the jobs that waited for the first cold start (the
#: summary's tail percentiles, which ``simserve.cli.startup`` judges)
STARTUP_PERCENTILES = (95.0, 99.0)


@dataclass(frozen=True, slots=True)
class StartupFigures:
    """What a streamed run keeps of its first cold start: when the first job started, how many completed
    jobs of the statistics window arrived before it, and the latency percentiles without them."""

    first_start_s: float
    waited: int
    rest_percentiles_s: dict[float, float | None]


class StartupWait:
    """The completed jobs (in the statistics window) that arrived before the first job started, found as blocks
    come; their latencies exactly, the rest's percentiles from the run's latency sketch (``rest_quantile``).

    The first start is the earliest start seen so far; a block with an earlier one drops the kept jobs that
    arrived from then on. Only jobs that arrived before the first start are kept, so memory is bounded by the
    jobs that arrive during the first cold start, and nothing is sketched twice.
    """

    def __init__(self) -> None:
        self.first_start_s = math.inf
        self.arrival = np.empty(0)
        self.latency = np.empty(0)

    def see_starts(self, start: np.ndarray) -> None:
        """A block's start times (NaN: never started), warmup included: the first start may move earlier."""
        started = start[~np.isnan(start)]
        if not len(started) or float(started.min()) >= self.first_start_s:
            return
        self.first_start_s = float(started.min())
        kept = self.arrival < self.first_start_s
        self.arrival, self.latency = self.arrival[kept], self.latency[kept]

    def add(self, arrival: np.ndarray, latency: np.ndarray) -> None:
        """Completed jobs of the statistics window: their arrival and latency."""
        early = arrival < self.first_start_s
        if early.any():
            self.arrival = np.concatenate([self.arrival, arrival[early]])
            self.latency = np.concatenate([self.latency, latency[early]])

    @property
    def waited(self) -> int:
        return len(self.latency)

    def rest_quantile(self, latency: Sketch, q: float) -> float | None:
        """The ``q`` quantile (0..1) of the latencies of ``latency`` (every completed job's) without the kept
        ones: the sketch's value at the rest's rank shifted by the kept values at or below it (a fixed point,
        found in at most one step per kept job)."""
        n = latency.count
        waited = np.sort(latency.representative(self.latency))  # compared with the sketch's answers
        n_rest = n - len(waited)
        if n_rest <= 0:
            return None
        rank = q * (n_rest - 1)
        shift = 0
        value: float | None = None
        for _ in range(len(waited) + 1):
            value = latency.quantile(min((rank + shift) / max(n - 1, 1), 1.0))
            moved = int(np.searchsorted(waited, value if value is not None else 0.0, side="right"))
            if moved == shift:
                break
            shift = moved
        return value

    def figures(self, latency: Sketch) -> StartupFigures | None:
        """The run's ``StartupFigures`` (None when no job started), the percentiles from ``latency``."""
        if not math.isfinite(self.first_start_s):
            return None
        rest = {p: self.rest_quantile(latency, p / 100) for p in STARTUP_PERCENTILES}
        return StartupFigures(self.first_start_s, self.waited, rest)


@dataclass
class JobStats:
    """Counts, means and sketched percentiles of a run's jobs, fed block by block (see the module doc)."""

    warmup_s: float
    horizon_s: float
    counts: np.ndarray = field(default_factory=lambda: np.zeros(7, dtype=np.int64))
    served: int = 0
    cold: int = 0
    sums: dict[str, float] = field(default_factory=lambda: {"latency": 0.0, "wait": 0.0, "exec": 0.0})
    n: dict[str, int] = field(default_factory=lambda: {"latency": 0, "wait": 0, "exec": 0})
    max_latency_s: float | None = None
    sketched: bool = True
    sketches: dict[str, Sketch] = field(
        default_factory=lambda: {k: Sketch() for k in ("latency", "wait", "exec", "ttft", "tpot")}
    )
    minutes: MinuteSeries = field(init=False)
    #: an LLM run's token totals over completed jobs (None: not an LLM run)
    tokens: dict[str, int] | None = None
    #: the jobs that waited for the first cold start (a sketched run's; None otherwise)
    startup: StartupWait | None = field(init=False)

    def __post_init__(self) -> None:
        self.minutes = MinuteSeries(self.horizon_s)
        self.startup = StartupWait() if self.sketched else None
        for key in ("ttft", "tpot"):
            self.sums.setdefault(key, 0.0)
            self.n.setdefault(key, 0)

    def add_block(
        self,
        arrival: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
        status: np.ndarray,
        cold: np.ndarray,
        llm: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """One block of jobs with their final outcomes (``status`` codes; ``start``/``end`` NaN when none);
        ``llm``: an LLM run's (input tokens, output tokens, first-token time) of the same jobs."""
        completed = status == COMPLETED
        latency_all = end - arrival
        # minutes: all jobs, warmup included (the series covers the whole run)
        waiting_until = np.where(np.isnan(start), np.where(np.isnan(end), self.horizon_s, end), start)
        self.minutes.add_area(arrival, np.minimum(waiting_until, self.horizon_s))
        self.minutes.add(arrival, end, completed, latency_all[completed])
        if self.startup is not None:
            self.startup.see_starts(start)
        # the statistics window
        w = arrival >= self.warmup_s
        if not w.all():
            arrival, start, end, status, cold = arrival[w], start[w], end[w], status[w], cold[w]
            completed, latency_all = completed[w], latency_all[w]
            if llm is not None:
                llm = (llm[0][w], llm[1][w], llm[2][w])
        if llm is not None:
            self._add_tokens(arrival, end, status, completed, *llm)
        self.counts += np.bincount(status, minlength=7)[:7].astype(np.int64)
        started = ~np.isnan(start)
        self.served += int(np.count_nonzero(started))
        self.cold += int(np.count_nonzero(cold[started]))
        lat = latency_all[completed]
        if self.startup is not None:
            self.startup.add(arrival[completed], lat)
        wait = (start - arrival)[started]
        exe = (end - start)[completed]
        for key, v in (("latency", lat), ("wait", wait), ("exec", exe)):
            if len(v):
                self.sums[key] += float(np.sum(v))
                self.n[key] += len(v)
                if self.sketched:
                    self.sketches[key].add(v)
        if len(lat):
            m = float(np.max(lat))
            self.max_latency_s = m if self.max_latency_s is None else max(self.max_latency_s, m)

    def _add_tokens(
        self,
        arrival: np.ndarray,
        end: np.ndarray,
        status: np.ndarray,
        completed: np.ndarray,
        input_tokens: np.ndarray,
        output_tokens: np.ndarray,
        first: np.ndarray,
    ) -> None:
        """TTFT of every job with a first token, TPOT of completed ones with two tokens or more, and the token
        totals of completed jobs."""
        if self.tokens is None:
            self.tokens = {"input": 0, "output": 0}
        self.tokens["input"] += int(np.sum(input_tokens[completed]))
        self.tokens["output"] += int(np.sum(output_tokens[completed]))
        ttft, tpot = token_times(arrival, end, status, output_tokens, first)
        for key, v in (("ttft", ttft[~np.isnan(ttft)]), ("tpot", tpot[~np.isnan(tpot)])):
            if len(v):
                self.sums[key] += float(np.sum(v))
                self.n[key] += len(v)
                if self.sketched:
                    self.sketches[key].add(v)

    def finish(self) -> None:
        self.minutes.finish()

    def mean(self, key: str) -> float | None:
        return self.sums[key] / self.n[key] if self.n[key] else None

    def count(self, status: str) -> int:
        return int(self.counts[STATUS_NAMES.index(status)])
