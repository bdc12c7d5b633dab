"""The planner's search: rounds of candidate runs until the cheapest feasible one is known.

Owns ``plan(scenario, spec)``. Every candidate uses the same replication seeds (common random
numbers). Each round proposes runs, the executor runs them, results are recorded by index:
1. sequential sampling: candidates too close to call get more replications (up to the max);
2. bisection: per slice, along the first monotone key with the others at their largest value;
3. best-first fill: unresolved candidates by cost floor, largest first, skipping any below one
   already chosen. A violated SLO rules out every candidate below (monotonicity); a candidate
   whose cost floor reaches the best feasible mean cost is pruned. Before the first round, a
   candidate whose warm-pool bound violates an SLO in every replication is screened out
   (``simserve.plan.screen``): it gets no run at all. Decisions depend only on
   results, never on timing, so local and cluster plans are identical. ``search="grid"`` runs
   every point (same sampling, no inference) for comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simserve.plan.executors import Executor, LocalExecutor, Task
from simserve.plan.screen import SCREENED, screen
from simserve.plan.space import Candidate, Dim, build_dims, build_space
from simserve.plan.verdict import FEASIBLE, INFEASIBLE, UNDECIDED, Verdict, judge, propagates
from simserve.planspec import PlanError, PlanSpec, Slo, parse_slo, parse_values, parse_vary
from simserve.results.replicate import replication_seed
from simserve.scenario import Scenario, load_scenario
from simserve.units import HOURS_PER_MONTH


@dataclass
class PlanResult:
    """Everything a plan found: candidates, verdicts, how each unrun one was ruled out, runs used."""

    spec: PlanSpec
    slos: list[Slo]
    dims: list[Dim]
    candidates: list[Candidate]
    verdicts: dict[int, Verdict]
    notes: dict[int, str]
    recommended: int | None
    runs_used: int
    rounds: int
    seeds: list[int]
    base: dict[str, Any]
    summaries: dict[int, list[dict[str, Any]]] = field(repr=False, default_factory=dict)

    @property
    def full_grid_runs(self) -> int:
        """Runs a full grid needs at the initial replication count (valid candidates x R)."""
        return sum(1 for c in self.candidates if c.error is None) * self.spec.replications

    @property
    def screened(self) -> list[int]:
        """Candidates ruled out by the warm-pool bound, never run."""
        return sorted(i for i, note in self.notes.items() if note.startswith(SCREENED))

    @property
    def recommended_overrides(self) -> dict[str, Any] | None:
        return None if self.recommended is None else dict(self.candidates[self.recommended].overrides)


@dataclass(frozen=True)
class _Open:
    status: str = "open"


_OPEN = _Open()


class _Book:
    """What is known so far: summaries by candidate, verdicts, inferred and pruned candidates."""

    def __init__(self, cands: list[Candidate], slos: list[Slo], spec: PlanSpec, mono_keys: list[str]) -> None:
        self.cands, self.slos, self.spec, self.mono_keys = cands, slos, spec, mono_keys
        self.summaries: dict[int, list[dict[str, Any]]] = {}
        self.verdicts: dict[int, Verdict] = {}
        self.ruled_out: dict[int, str] = {}  # unrun candidates: why they need no run
        self.sampling: list[Candidate] = []  # too close to call and still worth more runs

    def record(self, index: int, summaries: list[dict[str, Any]]) -> None:
        got = self.summaries.setdefault(index, [])
        got.extend(summaries)
        final = len(got) >= self.spec.max_replications
        self.verdicts[index] = judge(
            got, self.slos, self.spec.confidence, final=final, max_replications=self.spec.max_replications
        )

    def best(self) -> tuple[float, int] | None:
        feas = [(v.cost.mean, i) for i, v in self.verdicts.items() if v.status == FEASIBLE]
        return min(feas) if feas else None

    def infer(self) -> None:
        """Rule out candidates below (above) one that fails a decreasing SLO, run or not."""
        for i, v in sorted(self.verdicts.items()):
            if v.status != INFEASIBLE:
                continue
            for slo in v.clearly_failed(self.slos):
                how = propagates(slo)
                if how is None:
                    continue
                direction, keys = how
                free = None if keys is None else tuple(k in keys for k in self.mono_keys)
                src = self.cands[i]
                for c in self.cands:
                    if c.error or c.index in self.ruled_out or c.index == i:
                        continue
                    if self.verdicts.get(c.index, _OPEN).status not in (UNDECIDED, "open"):
                        continue
                    if c.below(src, free) if direction == "down" else src.below(c, free):
                        side = "below" if direction == "down" else "above"
                        self.ruled_out[c.index] = f"inferred infeasible: {side} #{i}, which fails {slo.text}"

    def prune(self) -> None:
        best = self.best()
        if best is None:
            return
        for c in self.cands:
            if (
                c.error is None
                and c.index not in self.verdicts
                and c.index not in self.ruled_out
                and c.floor_usd_per_hour * HOURS_PER_MONTH >= best[0]
            ):
                floor = c.floor_usd_per_hour * HOURS_PER_MONTH
                self.ruled_out[c.index] = (
                    f"pruned: cost floor ${floor:,.0f}/month is above the "
                    f"best feasible ${best[0]:,.0f}/month (#{best[1]})"
                )

    def _settles(self, index: int, best_usd: float) -> bool:
        """Whether a verdict on ``index`` could rule out an unrun candidate that may still win."""
        src = self.cands[index]
        return any(c.below(src) and c.floor_usd_per_hour * HOURS_PER_MONTH < best_usd for c in self.open())

    def open(self) -> list[Candidate]:
        return [
            c for c in self.cands if c.error is None and c.index not in self.verdicts and c.index not in self.ruled_out
        ]

    def extensions(self, smart: bool) -> list[tuple[int, int]]:
        """(candidate, replications to add) for candidates too close to call.

        The smart search skips one costlier than the best feasible with confidence, and one
        below another candidate being extended (that one's verdict may settle it).
        """
        best = self.best()
        todo = []
        for i, v in sorted(self.verdicts.items()):
            if v.status != UNDECIDED or i in self.ruled_out:
                continue
            if smart and best is not None and v.cost.lo > best[0] and not self._settles(i, best[0]):
                continue  # costlier than the best feasible with confidence and settles nothing else
            todo.append(i)
        self.sampling = [self.cands[i] for i in todo]
        if smart:
            todo = [i for i in todo if not any(j != i and self.cands[i].below(self.cands[j]) for j in todo)]
        out = []
        for i in todo:
            n = len(self.summaries[i])
            out.append((i, self.spec.next_count(n) - n))
        return out


def _bisection_probes(book: _Book, dims: list[Dim]) -> list[Candidate]:
    """One probe per slice: the middle of the unresolved part of its top-corner chain."""
    mono = [d for d in dims if d.monotone]
    if not mono:
        return []
    tops = tuple(len(d.values) - 1 for d in mono)
    by_slice: dict[tuple[int, ...], list[Candidate]] = {}
    for c in book.cands:
        if c.error is None and c.rank[1:] == tops[1:]:
            by_slice.setdefault(c.slice_key, []).append(c)
    probes = []
    for key in sorted(by_slice):
        chain = sorted(by_slice[key], key=lambda c: c.rank[0])
        lo, hi = 0, len(mono[0].values)
        waiting = False
        for c in chain:
            v = book.verdicts.get(c.index)
            if (v is not None and v.status == INFEASIBLE) or book.ruled_out.get(c.index, "").startswith(
                ("inferred", SCREENED)
            ):
                lo = max(lo, c.rank[0] + 1)
            elif (v is not None and v.status == FEASIBLE) or c.index in book.ruled_out:
                hi = min(hi, c.rank[0])
            elif v is not None and v.status == UNDECIDED and c.index not in book.ruled_out:
                waiting = True
        unknown = [
            c for c in chain if lo <= c.rank[0] < hi and c.index not in book.verdicts and c.index not in book.ruled_out
        ]
        if unknown and not waiting:
            probes.append(unknown[(len(unknown) - 1) // 2])
    return probes


def _fill(book: _Book, limit: int, busy: list[Candidate]) -> list[Candidate]:
    """Best-first: lowest cost floor, then the largest configuration; skip any candidate below
    a pick or below one sampled further this round (their verdicts may settle it)."""
    picks: list[Candidate] = []
    for c in sorted(book.open(), key=lambda c: (c.floor_usd_per_hour, -sum(c.rank), c.index)):
        if len(picks) >= limit:
            break
        if any(c.below(p) for p in picks) or any(c.below(b) for b in busy):
            continue
        picks.append(c)
    return picks


def _propose(book: _Book, dims: list[Dim], smart: bool) -> list[tuple[int, int, int]]:
    """Runs of the next round as (candidate, first replication, count)."""
    if smart:
        book.infer()
        book.prune()
    runs = [(i, len(book.summaries[i]), k) for i, k in book.extensions(smart)]
    R = book.spec.replications
    if not smart:
        return runs + [(c.index, 0, R) for c in book.open()]
    probes = _bisection_probes(book, dims)
    if not probes:
        probes = _fill(book, max(0, book.spec.batch - len(runs)), book.sampling)
    return runs + [(c.index, 0, R) for c in probes]


def resolve_spec(
    scenario: Scenario,
    spec: PlanSpec | None = None,
    *,
    slo: list[str] | None = None,
    vary: list[str] | dict[str, Any] | None = None,
    **settings: Any,
) -> PlanSpec:
    """The plan to run: the scenario's ``plan:`` section, with SLOs/vary replaced when given."""
    base = spec or scenario.plan or PlanSpec()
    data = base.model_dump()
    if slo:
        data["slo"] = [parse_slo(s).text for s in slo]
    if vary:
        data["vary"] = dict(vary) if isinstance(vary, dict) else dict(parse_vary(v) for v in vary)
    data.update({k: v for k, v in settings.items() if v is not None})
    if settings.get("replications") and not settings.get("max_replications"):
        data["max_replications"] = max(data["max_replications"], data["replications"])
    try:
        return PlanSpec.model_validate(data)
    except ValueError as exc:
        raise PlanError(f"plan settings: {str(exc).splitlines()[-1].strip()}") from None


def plan(
    scenario: Scenario | str | dict[str, Any],
    spec: PlanSpec | None = None,
    *,
    executor: Executor | None = None,
    seed: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> PlanResult:
    """Find the cheapest configuration of ``scenario`` meeting every SLO of ``spec``.

    ``on_progress(done_runs, known_runs)`` is called after every run. The executor defaults
    to a local process pool on all cores. Raises ``PlanError`` on a bad plan.
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    spec = spec or sc.plan
    if spec is None or not spec.vary:
        raise PlanError("nothing to search: give --vary KEY=VALUES (or a plan: vary: section in the scenario)")
    slos = [parse_slo(s) for s in spec.slo]
    data = sc.model_dump(mode="json")
    base_seed = sc.seed if seed is None else int(seed)
    dims = build_dims({k: parse_values(k, v) for k, v in spec.vary.items()}, spec.monotone)
    cands = build_space(data, dims, base_seed, spec.replications)
    book = _Book(cands, slos, spec, [d.key for d in dims if d.monotone])
    if spec.search == "smart" and spec.screen:
        book.ruled_out.update(screen(data, cands, slos, spec, base_seed))
    own = executor is None
    ex = executor or LocalExecutor()
    runs_used, rounds, done, known = 0, 0, 0, 0
    seeds: dict[int, int] = {}

    def tick() -> None:
        nonlocal done
        done += 1
        if on_progress:
            on_progress(done, known)

    try:
        while True:
            proposal = _propose(book, dims, spec.search == "smart")
            if not proposal:
                break
            tasks: list[Task] = []
            for i, first, count in proposal:
                for r in range(first, first + count):
                    seeds.setdefault(r, replication_seed(base_seed, r))
                    tasks.append((data, cands[i].overrides, seeds[r]))
            known += len(tasks)
            results = ex.map(tasks, tick)
            pos = 0
            for i, _first, count in proposal:
                book.record(i, results[pos : pos + count])
                pos += count
            runs_used += len(tasks)
            rounds += 1
    finally:
        if own:
            ex.close()
    best = book.best()
    return PlanResult(
        spec,
        slos,
        dims,
        cands,
        book.verdicts,
        book.ruled_out,
        best[1] if best else None,
        runs_used,
        rounds,
        [seeds[r] for r in sorted(seeds)],
        data,
        book.summaries,
    )
