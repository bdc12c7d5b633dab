"""Fit a batching LLM engine's step-time rule to a run: ``decode_step`` and ``prefill_tokens_per_s``.

Owns ``fit_engine``: the figures of the rule ``step = base + per_sequence x sequences + input tokens
joining / prefill_tokens_per_s`` (``simserve.endpoint.engine``) that best explain what a run saw, and,
when the scenario's engine pays for the context its decodes attend to (``step_cost.per_kv_token``, as
the catalog's physics do), ``+ per_kv_token x context tokens`` of the step's decodes (issue #24).

- From chunk times (``token_times.csv``, which ``simserve live`` writes for a streaming handler):
  every sequence in a step gets its token at the step's end, so on each worker the tokens fall
  into clusters, one per step (a new cluster when the time moves on by more than half the
  shortest gap between a job's own tokens, or when a job already has a token in it). A step's
  sequences are its cluster's size, its prefill the input tokens of the jobs whose first token is
  in it, and its duration the time since the previous step's end when the engine ran on without
  a pause (some sequence of it was in the previous step, or a job joining it was there before
  that step ended). Steps that a job without complete chunk times may have been in are left out.
  A step's context is, over the decoding sequences in it, their input tokens plus the tokens they
  had made before it. Whole prompts are assumed (a run without a token budget, or prompts inside it).
- From the jobs table alone (no chunk times): each job's decode time ``end - first token`` spans
  ``output_tokens - 1`` steps: ``base x steps + per_sequence x (its tokens and those of the other
  jobs on its worker in that interval, each job's spread evenly over its own) + input tokens of
  the jobs whose first token falls in it / prefill_tokens_per_s``. Coarser, but it needs nothing
  the simulator's own tables lack.

Both solve non-negative least squares, drop outliers (beyond 5 MADs) once and refit. A
coefficient the data cannot identify (the batch never changed size, no request joined a running
batch) keeps the value given as ``prior``. Imports numpy, pandas and scipy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import nnls

#: fewest steps (or jobs) a fit is made from
MIN_SAMPLES = 10
#: residuals past this many (scaled) MADs are outliers (a pause of the host, not the engine)
OUTLIER_MADS = 5.0
FIGURES = ("base_s", "per_sequence_s", "prefill_s_per_token", "per_kv_token_s")


@dataclass(frozen=True)
class EngineFit:
    """Fitted engine figures and how they were obtained."""

    base_s: float
    per_sequence_s: float
    prefill_tokens_per_s: float | None  # None: prefill took no measurable time (or was not identified)
    n: int  # steps (method "steps") or jobs (method "jobs") fitted
    method: str  # "steps" | "jobs"
    rms_s: float  # residual RMS of one step (per token for method "jobs")
    outliers: int = 0
    kept: tuple[str, ...] = ()  # figures the run could not identify, kept from the prior
    per_kv_token_s: float = 0.0  # seconds per context token of the decodes (fitted when the prior has one)

    def describe(self) -> str:
        """One line, e.g. ``base 20.1 ms, per sequence 1.98 ms, prefill 19,800 tokens/s``."""
        prefill = "negligible" if self.prefill_tokens_per_s is None else f"{self.prefill_tokens_per_s:,.0f} tokens/s"
        kv = f", per context token {self.per_kv_token_s * 1e9:.4g} ns" if self.per_kv_token_s else ""
        return (
            f"base {self.base_s * 1e3:.4g} ms, per sequence {self.per_sequence_s * 1e3:.4g} ms, prefill {prefill}{kv}"
        )

    def source(self) -> str:
        what = "engine steps from token_times.csv" if self.method == "steps" else "jobs (first token and end)"
        kept = f"; kept from the scenario: {', '.join(self.kept)}" if self.kept else ""
        return f"{self.n} {what}, rms {self.rms_s * 1e3:.3g} ms, {self.outliers} outliers dropped{kept}"


Prior = tuple[float, ...]  # (base_s, per_sequence_s, prefill s/token[, per_kv_token_s])


def _solve(x: np.ndarray, y: np.ndarray, prior: Prior | None) -> tuple[np.ndarray, float, int, tuple[str, ...]]:
    """Non-negative least squares of ``y`` on the columns of ``x`` (base, per sequence, prefill s/token[,
    per context token]); a column without variation beyond the intercept is held at ``prior`` (0 without)."""
    cols = range(1, x.shape[1])
    free = [0] + [c for c in cols if np.ptp(x[:, c]) > 0]
    kept = tuple(FIGURES[c] for c in cols if c not in free and np.any(x[:, c]))
    held = np.zeros(x.shape[1])
    if prior is not None:
        for c in cols:
            if c not in free and c < len(prior):
                held[c] = prior[c]
    target = y - x @ held
    keep = np.ones(len(y), dtype=bool)
    coef = np.zeros(len(free))
    for _ in range(2):
        coef, _ = nnls(x[keep][:, free], target[keep])
        r = target - x[:, free] @ coef
        mad = float(np.median(np.abs(r[keep] - np.median(r[keep]))))
        if mad <= 0:
            break
        new = np.abs(r - np.median(r[keep])) <= OUTLIER_MADS * 1.4826 * mad
        if new.sum() < MIN_SAMPLES or np.array_equal(new, keep):
            break
        keep = new
    out = held.copy()
    out[free] = coef
    r = (target - x[:, free] @ coef)[keep]
    return out, float(np.sqrt(np.mean(r**2))), int((~keep).sum()), kept


def _fit(x: np.ndarray, y: np.ndarray, n: int, method: str, prior: Prior | None) -> EngineFit:
    coef, rms, outliers, kept = _solve(x, y, prior)
    c = float(coef[2])
    kv = float(coef[3]) if len(coef) > 3 else (float(prior[3]) if prior is not None and len(prior) > 3 else 0.0)
    return EngineFit(
        base_s=float(coef[0]),
        per_sequence_s=float(coef[1]),
        prefill_tokens_per_s=(1.0 / c) if c > 1e-12 else None,
        n=n,
        method=method,
        rms_s=rms,
        outliers=outliers,
        kept=kept,
        per_kv_token_s=kv,
    )


# ---------------------------------------------------------------------- from chunk times
def _clusters(t: np.ndarray, job: np.ndarray, gap_s: float) -> np.ndarray:
    """Cluster number of each token (sorted by time): one cluster per engine step."""
    out = np.empty(len(t), dtype=np.int64)
    k, t0 = 0, t[0] if len(t) else 0.0
    seen: set[int] = set()
    for i in range(len(t)):
        if t[i] - t0 > gap_s or int(job[i]) in seen:
            k += 1
            t0 = t[i]
            seen.clear()
        seen.add(int(job[i]))
        out[i] = k
    return out


def _worker_steps(
    tt: pd.DataFrame, jobs: pd.DataFrame, uncovered: list[tuple[float, float]], gap_s: float, lead_s: float
) -> list[tuple[float, int, int, int]]:
    """(duration, sequences, prefill tokens, context tokens) of each step of one worker whose duration is known."""
    tt = tt.sort_values("t_s", kind="mergesort")
    t = tt["t_s"].to_numpy(float)
    job = tt["job_id"].to_numpy(np.int64)
    k = _clusters(t, job, gap_s)
    n_steps = int(k[-1]) + 1
    nth = pd.Series(job).groupby(job).cumcount().to_numpy() + 1  # the token's number within its job
    ctx = np.zeros(n_steps)
    decode = nth >= 2  # a decode step attends to the input and the tokens made before
    in_of = jobs["input_tokens"].reindex(job).to_numpy(float)
    np.add.at(ctx, k[decode], in_of[decode] + nth[decode] - 1)
    end = np.full(n_steps, np.inf)
    np.minimum.at(end, k, t)  # a step ends when its first token comes
    size = np.bincount(k, minlength=n_steps)
    first_k = pd.Series(k).groupby(job).min()  # the step each job joined in
    last_k = pd.Series(k).groupby(job).max()
    info = jobs.loc[first_k.index]
    prefill = np.zeros(n_steps)
    np.add.at(prefill, first_k.to_numpy(), info["input_tokens"].to_numpy(float))
    # a step follows its predecessor at once when one of its sequences ran in the predecessor ...
    ran_on = np.zeros(n_steps, dtype=bool)
    spans = np.zeros(n_steps + 1, dtype=np.int64)
    np.add.at(spans, first_k.to_numpy() + 1, 1)
    np.add.at(spans, last_k.to_numpy() + 1, -1)
    ran_on[1:] = np.cumsum(spans)[1:n_steps] > 0
    # ... or a job joining it was handed over before the predecessor ended
    waited = np.zeros(n_steps, dtype=bool)
    joined_at = first_k.to_numpy()
    prev_end = np.where(joined_at > 0, end[np.maximum(joined_at - 1, 0)], -np.inf)
    waited[joined_at[info["start_s"].to_numpy(float) < prev_end - lead_s]] = True
    out = []
    for s in range(1, n_steps):
        if not (ran_on[s] or waited[s]):
            continue
        a, b = end[s - 1], end[s]
        if any(u0 < b and u1 > a for u0, u1 in uncovered):
            continue  # a job whose tokens we do not all have may have been in this step
        out.append((b - a, int(size[s]), int(prefill[s]), int(ctx[s])))
    return out


def _from_token_times(jobs: pd.DataFrame, tt: pd.DataFrame, prior: Prior | None) -> EngineFit | None:
    j = jobs.set_index("job_id")
    counts = tt.groupby("job_id").size().reindex(j.index).fillna(0).to_numpy(np.int64)
    covered = (j["status"].astype(str).to_numpy() == "completed") & (counts == j["output_tokens"].to_numpy(np.int64))
    ids = j.index.to_numpy()[covered]
    tt = tt[tt["job_id"].isin(ids)]
    if tt.empty:
        return None
    per_job = tt.sort_values(["job_id", "t_s"], kind="mergesort")
    gaps = np.diff(per_job["t_s"].to_numpy(float))[np.diff(per_job["job_id"].to_numpy()) == 0]
    gaps = gaps[gaps > 0]
    if len(gaps) < MIN_SAMPLES:
        return None
    gap_s = 0.5 * float(np.quantile(gaps, 0.01))
    lead_s = 0.1 * float(np.median(gaps))  # a hand-over this close to a step's end may have missed it
    worker = j["worker_id"].to_numpy(np.int64)
    started = j["start_s"].notna().to_numpy()
    start = j["start_s"].to_numpy(float)
    end = np.where(np.isnan(j["end_s"].to_numpy(float)), np.inf, j["end_s"].to_numpy(float))
    tt = tt.assign(worker=pd.Series(worker, index=j.index).reindex(tt["job_id"]).to_numpy())
    rows: list[tuple[float, int, int, int]] = []
    for wid, g in tt.groupby("worker", sort=True):
        other = started & ~covered & (worker == wid)
        uncovered = list(zip(start[other].tolist(), end[other].tolist(), strict=True))
        rows += _worker_steps(g, j, uncovered, gap_s, lead_s)
    if len(rows) < MIN_SAMPLES:
        return None
    a = np.asarray(rows, dtype=float)
    x = np.column_stack([np.ones(len(a)), a[:, 1], a[:, 2]])
    if prior is not None and len(prior) > 3 and prior[3] > 0:  # the engine pays for the context: fit it
        x = np.column_stack([x, a[:, 3]])
    return _fit(x, a[:, 0], len(a), "steps", prior)


# ---------------------------------------------------------------------- from the jobs table
def _from_jobs(jobs: pd.DataFrame, prior: Prior | None) -> EngineFit | None:
    j = jobs[(jobs["status"].astype(str) == "completed") & jobs["ttft_s"].notna()]
    rows = []
    for _, g in j.groupby("worker_id", sort=True):
        f = (g["arrival_s"] + g["ttft_s"]).to_numpy(float)
        e = g["end_s"].to_numpy(float)
        o = g["output_tokens"].to_numpy(float)
        nin = g["input_tokens"].to_numpy(float)
        span = np.maximum(e - f, 1e-12)
        for lo in range(0, len(f), 2048):  # jobs j (rows) against all jobs i of the worker (columns)
            fj, ej = f[lo : lo + 2048, None], e[lo : lo + 2048, None]
            first_in = (f[None, :] > fj) & (f[None, :] <= ej)
            overlap = np.clip(np.minimum(e[None, :], ej) - np.maximum(f[None, :], fj), 0.0, None)
            tokens = first_in + (o[None, :] - 1) * overlap / span[None, :]
            steps = o[lo : lo + 2048] - 1
            seqs = tokens.sum(axis=1)  # includes the job's own o - 1 tokens after its first
            prefill = (first_in * nin[None, :]).sum(axis=1)
            ok = steps >= 1
            rows.append(np.column_stack([(e - f)[lo : lo + 2048], steps, seqs, prefill])[ok])
    if not rows:
        return None
    a = np.vstack(rows)
    if len(a) < MIN_SAMPLES:
        return None
    per = a[:, 1]
    x = np.column_stack([np.ones(len(a)), a[:, 2] / per, a[:, 3] / per])
    return _fit(x, a[:, 0] / per, len(a), "jobs", prior)


def fit_engine(
    jobs: pd.DataFrame, token_times: pd.DataFrame | None = None, prior: Prior | None = None
) -> EngineFit | None:
    """Engine figures from a run's jobs table (with ``input_tokens``, ``output_tokens``, ``ttft_s``) and,
    when given, its chunk times (``job_id, t_s``); None when the run holds too little to fit.

    ``prior``: (base_s, per_sequence_s, prefill seconds per token[, per_kv_token_s]), kept for what cannot
    be identified; a positive ``per_kv_token_s`` asks the step fit to fit the context term too.
    """
    if not {"input_tokens", "output_tokens", "ttft_s"} <= set(jobs.columns):
        return None
    if token_times is not None and len(token_times):
        fit = _from_token_times(jobs, token_times, prior)
        if fit is not None:
            return fit
    return _from_jobs(jobs, prior)


def prefill_prior(prefill_tokens_per_s: float) -> float:
    """Seconds per prompt token of a prefill rate (0 for an infinite one)."""
    return 0.0 if not math.isfinite(prefill_tokens_per_s) or prefill_tokens_per_s <= 0 else 1.0 / prefill_tokens_per_s


__all__ = ["EngineFit", "Prior", "fit_engine", "prefill_prior"]
