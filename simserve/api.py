"""The public Python API: ``simulate`` one run of a scenario, or ``run_replications`` of it on a
local process pool.

Thin composition of workload -> engine -> result; no files and no printing, so notebooks,
the CLI and the planner all call the same function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from simserve.billing import billing_table
from simserve.memhint import small_pages
from simserve.parallel import ordered_map
from simserve.results.jobstats import JobStats
from simserve.results.offload import Offload
from simserve.results.replicate import replication_seed
from simserve.results.result import RunResult, statistics_warmup
from simserve.results.workerstats import IntervalBiller, WorkerStats
from simserve.scenario import Scenario, load_scenario
from simserve.sim.driver import BlockSink, SimDriver, simulate_tables
from simserve.workload import Jobs


@small_pages()
def simulate(
    scenario: Scenario | str | dict[str, Any],
    seed: int | None = None,
    *,
    overrides: dict[str, Any] | list[str] | None = None,
    jobs: Jobs | None = None,
    tables: bool = True,
    job_writer: BlockSink | None = None,
    worker_writer: Callable[..., None] | None = None,
    on_block: Callable[[int, float], None] | None = None,
) -> RunResult:
    """Simulate one replication of ``scenario`` and return its ``RunResult``.

    ``scenario`` may be a ``Scenario``, a YAML path or a dict. ``seed`` defaults to the
    scenario's. ``jobs`` replays given arrival and service times instead of drawing them.
    ``tables=False`` streams the run: memory does not grow with the number of jobs, the summary's
    percentiles come from sketches, the result has no jobs table (``job_writer`` gets each block of
    job records, e.g. a parquet writer; ``on_block(jobs drawn, simulated time)`` reports progress).
    The run goes without numpy's huge-page hint (``memhint.small_pages``).
    """
    sc = (
        scenario
        if isinstance(scenario, Scenario) and not overrides
        else load_scenario(scenario.model_dump() if isinstance(scenario, Scenario) else scenario, overrides)
    )
    run_seed = sc.seed if seed is None else int(seed)
    from simserve.results.result import build_result

    if tables or jobs is not None:
        return build_result(sc, run_seed, simulate_tables(sc, run_seed, jobs=jobs), engine="sim")
    horizon = sc.horizon
    warmup = statistics_warmup(sc, horizon)
    stats = JobStats(warmup, horizon)
    wstats = WorkerStats(warmup, horizon, sc.endpoint.gpus_per_worker)

    def sink(first: int, *cols: np.ndarray) -> None:
        stats.add_block(
            cols[0], cols[1], cols[2], cols[3], cols[5], (cols[6], cols[7], cols[8]) if len(cols) > 6 else None
        )
        if job_writer is not None:
            job_writer(first, *cols)

    def billed(*cols: np.ndarray) -> None:  # worker, kind, host, gpu, state, phase, start, end, billed, cost
        wstats.add(cols[0], cols[4], cols[5], cols[6], cols[7], cols[8], cols[9])
        if worker_writer is not None:
            worker_writer(*cols)

    # the blocks are folded on a second thread while the engine runs on (``Offload``: in order, so the
    # figures are those of folding them here)
    behind = Offload()
    try:
        driver = SimDriver(sc, run_seed, sink=lambda first, *cols: behind.call(sink, first, *cols))
        rec = driver.rec
        biller = IntervalBiller(
            billing_table(sc.billing.preset, sc.billing.states),
            sc.endpoint.gpus_per_worker,
            sc.pricing,
            rec.host_gpu,
            billed,
        )

        def intervals(rows: np.ndarray, final: bool) -> None:
            kinds = np.fromiter((m.kind == "active" for m in rec.workers), dtype=np.int64, count=len(rec.workers))
            behind.call(biller.add, rows, kinds, final)

        assert driver.ring is not None
        driver.ring.iv_sink = intervals
        driver.on_block = on_block
        rec = driver.run()
        behind.join()
        driver.release()
    except BaseException:
        behind.close()  # the call under way ends before the caller aborts its writers
        raise
    stats.finish()
    return build_result(sc, run_seed, rec, engine="sim", stats=stats, wstats=wstats)


def _one(args: tuple[dict[str, Any], int, bool]) -> RunResult:
    data, seed, tables = args
    return simulate(Scenario.model_validate(data), seed=seed, tables=tables)


def run_replications(
    scenario: Scenario,
    replications: int,
    seed: int | None = None,
    *,
    processes: int | None = None,
    on_done: Callable[[int], None] | None = None,
    tables: bool = True,
) -> list[RunResult]:
    """Run ``replications`` replications on a local process pool (``processes``: default all cores).

    Returns the ``RunResult`` list sorted by replication index; ``on_done(index)`` is called
    as each one finishes. Replications after the first are streamed (summary only, no jobs table:
    memory bounded); the first keeps its tables unless ``tables`` is False.
    """
    base = scenario.seed if seed is None else seed
    data = scenario.model_dump()
    tasks = [(data, replication_seed(base, i), tables and i == 0) for i in range(replications)]
    return ordered_map(_one, tasks, processes=processes, on_done=on_done)
