"""Running aggregates for the live view: what ``simserve live`` shows while a run goes, at O(1) a refresh.

Owns ``LiveStats``: completed jobs and their latency in a log-binned histogram (bins 1 % wide from
``MIN_LATENCY_S`` up, so a percentile is read from a fixed number of bins with at most 1 % error),
fed one job at a time as jobs end (``job_ended``), and the bill so far: closed worker intervals
billed once each as the recorder appends them (a cursor into its interval buffer) plus the
intervals still open, at the per-second rates ``simserve.billing.apply_billing`` gives each
(kind, GPU, state, phase). The bill so far leaves out the per-second rounding of billing sessions
that the final summary applies. A refresh costs the same whatever the number of jobs so far (the
view slowed a run at 1,600 jobs/s when it re-read every job). Nothing here decides anything.
"""

from __future__ import annotations

import math

import numpy as np

from simserve.billing import apply_billing, billing_table
from simserve.records import PHASES, STATES, JobStatus, Recorder
from simserve.scenario import Scenario

#: the histogram's bins: latencies from MIN_LATENCY_S up, each bin BIN_RATIO times wider than the last
MIN_LATENCY_S = 1e-5
BIN_RATIO = 1.01
N_BINS = int(math.log(1e6 / MIN_LATENCY_S) / math.log(BIN_RATIO)) + 2
_LOG_RATIO = math.log(BIN_RATIO)


class LiveStats:
    """Completed jobs, latency percentiles and the bill so far of one live run, kept as it goes."""

    def __init__(self, scenario: Scenario, rec: Recorder) -> None:
        self.sc = scenario
        self.rec = rec
        self.completed = 0
        self.counts = np.zeros(N_BINS, dtype=np.int64)
        self.closed_usd = 0.0
        self._rows_billed = 0  # intervals of rec.iv already in closed_usd
        self._rates: dict[tuple[str, str], np.ndarray] = {}  # (kind, gpu) -> USD/s by [state, phase]

    # ------------------------------------------------------------------ jobs
    def job_ended(self, job: int) -> None:
        """Job ``job``'s run ended (the core has recorded its outcome): count it when it completed."""
        rec = self.rec
        if rec.status[job] != JobStatus.COMPLETED:
            return
        latency = rec.end_s[job] - float(rec.arrival_s[job])
        self.completed += 1
        b = 0 if latency <= MIN_LATENCY_S else int(math.log(latency / MIN_LATENCY_S) / _LOG_RATIO) + 1
        self.counts[min(b, N_BINS - 1)] += 1

    def latency_quantile_s(self, q: float) -> float:
        """The ``q`` quantile of completed jobs' latency (NaN before the first), within 1 %."""
        if self.completed == 0:
            return math.nan
        rank = q * (self.completed - 1)
        b = int(np.searchsorted(np.cumsum(self.counts), rank, side="right"))
        if b == 0:
            return MIN_LATENCY_S
        return MIN_LATENCY_S * BIN_RATIO ** (b - 0.5)  # the bin's geometric middle

    # ------------------------------------------------------------------ cost
    def _rate_table(self, kind: str, gpu: str) -> np.ndarray:
        """USD per second for a worker of ``kind`` on ``gpu`` in each (state, phase), from billing."""
        key = (kind, gpu)
        table = self._rates.get(key)
        if table is None:
            import pandas as pd

            ns, nph = len(STATES), len(PHASES)
            n = ns * nph
            frame = pd.DataFrame(
                {
                    "worker_id": np.arange(n),  # one one-second session each: no rounding, no merging
                    "kind": [kind] * n,
                    "host": np.zeros(n, dtype=np.int64),
                    "gpu": [gpu] * n,
                    "state": [STATES[i // nph] for i in range(n)],
                    "phase": [PHASES[i % nph] for i in range(n)],
                    "start_s": np.zeros(n),
                    "end_s": np.ones(n),
                }
            )
            sc = self.sc
            billed = apply_billing(
                frame,
                billing_table(sc.billing.preset, sc.billing.states),
                sc.endpoint.gpus_per_worker,
                sc.pricing,
            )
            table = billed["cost_usd"].to_numpy(dtype=float).reshape(ns, nph)
            self._rates[key] = table
        return table

    def _usd(self, wid: int, state: int, phase: int, seconds: float, host: int) -> float:
        rec = self.rec
        kind = rec.workers[wid].kind if 0 <= wid < len(rec.workers) else "flex"
        gpu = rec.host_gpu[host] if 0 <= host < len(rec.host_gpu) else ""
        if not gpu:
            return 0.0
        return float(self._rate_table(kind, gpu)[state, phase]) * seconds

    def cost_usd(self, open_rows: list[tuple[int, int, int, float, float, int]]) -> float:
        """The bill so far: every closed interval (each billed once, when first seen) and ``open_rows``
        (worker, state, phase, start, now, host) of the workers alive now."""
        self.rec.settle()  # pending busy/warm flips become rows first (none unless the simulator's fast path ran)
        iv = self.rec.iv
        end = len(iv) // 6
        for r in range(self._rows_billed, end):
            w, state, phase, start, stop, host = iv[6 * r : 6 * r + 6]
            self.closed_usd += self._usd(int(w), int(state), int(phase), stop - start, int(host))
        self._rows_billed = end
        open_usd = sum(self._usd(w, s, p, max(now - since, 0.0), h) for w, s, p, since, now, h in open_rows)
        return self.closed_usd + open_usd


__all__ = ["LiveStats"]
