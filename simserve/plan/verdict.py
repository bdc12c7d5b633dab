"""Feasibility by confidence: intervals of each SLO figure over replications and the verdict.

Owns ``judge(summaries, slos)``: a candidate meets an upper-bound SLO when the confidence
interval's upper end does (lower end for ``>=`` SLOs), violates it when the whole interval is
on the wrong side, and is *too close to call* otherwise (the search adds replications). Also
which SLO violations imply others by monotonicity (``propagates``). Pure; no simulation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from scipy import stats

from simserve.planspec import Slo, cost_per_month_usd
from simserve.results.replicate import t_interval

FEASIBLE, INFEASIBLE, UNDECIDED = "feasible", "infeasible", "undecided"
# figures that never rise when an endpoint gets more of a monotone key (more workers, longer
# warm periods); cold starts only fall with active workers and idle timeout (a larger max
# starts more workers, and more requests wait on their cold starts)
DECREASING: dict[str, frozenset[str] | None] = {
    **{f"latency_{q}": None for q in ("mean", "p50", "p90", "p95", "p99", "max")},
    **{f"queue_wait_{q}": None for q in ("mean", "p50", "p95", "p99")},
    "failed": None,
    "cold_start_fraction": frozenset({"endpoint.active_workers", "endpoint.idle_timeout"}),
}


@dataclass(frozen=True)
class Figure:
    """Mean and confidence interval of one figure over replications (NaN-free or all inf)."""

    mean: float
    lo: float
    hi: float


@dataclass(frozen=True)
class Verdict:
    """The judgement of one candidate after ``replications`` runs."""

    status: str
    reason: str
    replications: int
    cost: Figure
    figures: dict[str, Figure] = field(default_factory=dict)
    violated: tuple[str, ...] = ()
    unshown: tuple[str, ...] = ()  # too close to call after the last allowed replication

    def clearly_failed(self, slos: list[Slo]) -> list[Slo]:
        """SLOs failed firmly enough to spread by monotonicity: violated (the whole interval
        on the wrong side), or not shown after the last replication with the mean on the
        wrong side. A near-tie (mean inside, interval across) spreads nothing."""
        out = []
        for slo in slos:
            fig = self.figures.get(slo.text)
            if slo.text in self.violated or (
                slo.text in self.unshown
                and fig is not None
                and (fig.mean > slo.threshold if slo.upper else fig.mean < slo.threshold)
            ):
                out.append(slo)
        return out


def interval(values: list[float], confidence: float) -> Figure:
    """Mean and Student-t interval; an undefined value (NaN) makes the figure infinite."""
    if any(math.isnan(v) or math.isinf(v) for v in values):
        return Figure(math.inf, math.inf, math.inf)
    lo, hi = t_interval(values, confidence)
    return Figure(sum(values) / len(values), lo, hi)


def propagates(slo: Slo) -> tuple[str, frozenset[str] | None] | None:
    """How a failed SLO spreads by monotonicity: ('down' below it | 'up' above it, the keys
    along which it spreads, None meaning every monotone key); None when it does not."""
    if slo.metric not in DECREASING:
        return None
    return ("down" if slo.upper else "up"), DECREASING[slo.metric]


def _fmt(v: float) -> str:
    return "n/a" if math.isinf(v) else f"{v:.4g}"


def futile(fig: Figure, threshold: float, n: int, max_n: int, confidence: float) -> bool:
    """Whether a close call is expected to stay close even after ``max_n`` replications: the
    mean is nearer the threshold than the interval's projected half-width at ``max_n``."""
    if n < 2 or n >= max_n:
        return False
    sd = (fig.hi - fig.lo) / 2 * math.sqrt(n) / stats.t.ppf(0.5 + confidence / 2, n - 1)
    return abs(fig.mean - threshold) < stats.t.ppf(0.5 + confidence / 2, max_n - 1) * sd / math.sqrt(max_n)


def judge(
    summaries: list[dict[str, Any]],
    slos: list[Slo],
    confidence: float,
    *,
    final: bool = False,
    max_replications: int | None = None,
) -> Verdict:
    """Verdict of one candidate; ``final`` turns a too-close-to-call result into infeasible,
    and so does a close call that ``max_replications`` could not settle (futility)."""
    cost = interval([cost_per_month_usd(s) for s in summaries], confidence)
    figures: dict[str, Figure] = {}
    violated: list[str] = []
    close: list[str] = []
    for slo in slos:
        raw = [slo.value(s) for s in summaries]
        if not slo.upper:  # an undefined figure fails a >= objective too
            raw = [-math.inf if math.isnan(v) else v for v in raw]
        fig = interval(raw, confidence) if slo.upper else _lower_interval(raw, confidence)
        figures[slo.text] = fig
        ok = fig.hi <= slo.threshold if slo.upper else fig.lo >= slo.threshold
        bad = fig.lo > slo.threshold if slo.upper else fig.hi < slo.threshold
        if bad:
            violated.append(slo.text)
        elif not ok:
            close.append(slo.text)
    n = len(summaries)
    if violated:
        parts = [f"{s}: {_fmt(figures[s].mean)} [{_fmt(figures[s].lo)}, {_fmt(figures[s].hi)}]" for s in violated]
        return Verdict(INFEASIBLE, "violates " + "; ".join(parts), n, cost, figures, tuple(violated))
    if close:
        if final:
            return Verdict(
                INFEASIBLE,
                f"not shown at {confidence:.0%} after {n} replications: " + ", ".join(close),
                n,
                cost,
                figures,
                unshown=tuple(close),
            )
        slo_of = {slo.text: slo for slo in slos}
        hopeless = [
            t
            for t in close
            if max_replications and futile(figures[t], slo_of[t].threshold, n, max_replications, confidence)
        ]
        if hopeless:
            return Verdict(
                INFEASIBLE,
                f"not shown at {confidence:.0%}, and {max_replications} replications would "
                f"not settle it: " + ", ".join(hopeless),
                n,
                cost,
                figures,
                unshown=tuple(hopeless),
            )
        return Verdict(UNDECIDED, "too close to call: " + ", ".join(close), n, cost, figures)
    return Verdict(FEASIBLE, "meets every SLO" if slos else "no SLO given", n, cost, figures)


def _lower_interval(values: list[float], confidence: float) -> Figure:
    if any(math.isinf(v) for v in values):
        return Figure(-math.inf, -math.inf, -math.inf)
    lo, hi = t_interval(values, confidence)
    return Figure(sum(values) / len(values), lo, hi)
