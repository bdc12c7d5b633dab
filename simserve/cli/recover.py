"""``simserve recover`` and ``simserve cleanup``: what a crashed ``live`` or ``serve`` left, made whole.

Owns the two commands and ``sweep_at_start`` (called by ``live`` and ``serve`` before they start).
``recover RUN`` turns the private directory of a run whose executor died (``.NAME.XXXX.partial`` beside
the output directory, with its journal, ``simserve.live.journal``) into a run directory marked
incomplete: the same tables ``live`` / ``serve`` write (jobs that ended, workers' intervals billed up to
the last journal line, jobs then queued or running in flight), ``summary.json`` with ``incomplete``
(why, until when), the worker logs; the private directory goes. ``cleanup`` ends what a dead executor
left running: marked processes (``simserve.live.procs.kill_orphans``) and containers
(``simserve.live.reaper.remove_orphan_containers``); a run's reaper normally does so within a second.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console

from simserve.cli import UsageError, app

console = Console(stderr=False)
errors = Console(stderr=True)

#: entries of a crashed run's private directory carried into the recovered run directory
CARRIED = ("logs", "store")


def crashed_runs(out: Path) -> list[Path]:
    """Private directories beside ``out`` of runs whose executor is gone and left a journal, newest first."""
    from simserve.live.journal import JournalError, read_header
    from simserve.live.procs import owner_alive

    found: list[tuple[float, Path]] = []
    parent = out.absolute().parent
    try:
        candidates = list(parent.glob(f".{out.name}.*.partial"))
    except OSError:
        return []
    for d in candidates:
        try:
            header = read_header(d)
        except JournalError:
            continue
        if not owner_alive(str(header.get("run_mark", ""))):
            found.append((d.stat().st_mtime, d))
    return [d for _, d in sorted(found, reverse=True)]


def _find(path: Path) -> Path:
    """The crashed run's private directory that ``path`` names (itself, or the output directory it was for)."""
    from simserve.live.journal import JOURNAL_DIR

    if (path / JOURNAL_DIR).is_dir():
        return path
    found = crashed_runs(path)
    if not found:
        raise UsageError(
            f"{path}: no crashed run found (expected a directory with {JOURNAL_DIR}/, or an output directory "
            f"with one beside it: {path.parent}/.{path.name}.*.partial)"
        )
    return found[0]


def recover_dir(partial: Path, out: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """Write the run that ``partial`` journaled into ``out`` (default: the directory it was for); returns the
    run directory and its summary. The private directory is removed once the run directory is in place."""
    from simserve.live.executor import LiveRun
    from simserve.live.journal import JournalError, read_journal, rebuild_recorder
    from simserve.live.procs import kill_marked, owner_alive
    from simserve.live.report import save_live_run
    from simserve.results.outputs import check_out_dir, staged_out_dir
    from simserve.scenario import Scenario
    from simserve.serve.trace import recorded_jobs, save_serve_run
    from simserve.workload import Jobs

    try:
        state = read_journal(partial)
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    header = state.header
    mark = str(header.get("run_mark", ""))
    if owner_alive(mark):
        pid = header.get("pid")
        raise UsageError(f"{partial}: its run is still going (simserve pid {pid}); recover it after it ends")
    kill_marked(mark, prefix=True)  # whatever the run left running, if its reaper did not get to it
    target = check_out_dir(out if out is not None else Path(str(header["out_dir"])), "--out")
    sc = Scenario.model_validate(header["scenario"])
    rec = rebuild_recorder(state)
    rec.seal()
    n = len(rec.arrival_s)
    status = np.frombuffer(bytes(rec.status), dtype=np.uint8)
    in_flight = int(np.count_nonzero(status <= 1))
    incomplete: dict[str, Any] = {
        "reason": "the executor died (SIGKILL, out of memory or a crash): recovered from its journal",
        "until_s": state.until_s,
        "jobs_in_flight": in_flight,
        "journal_lines": state.lines,
        "torn_line_dropped": state.torn,
        "recovered_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "recovered_from": str(partial),
    }
    notes: dict[str, Any] = {**header.get("notes", {}), "retries": state.retries, "faults": state.faults}
    errors_ = [dict(e) for e in state.errors]
    tokens = [(int(j), tuple(float(t) for t in ts)) for j, ts in state.tokens]
    serve = header.get("kind") == "serve"
    if serve:
        jobs = recorded_jobs(rec)
    else:
        svc = np.asarray(state.service_s[:n], dtype=float)
        jobs = Jobs(np.asarray(rec.arrival_s, dtype=float), svc)
    run = LiveRun(rec, state.until_s, jobs, notes, errors_, tokens)  # type: ignore[arg-type]
    seed = int(header.get("seed", sc.seed))
    with staged_out_dir(target, "--out") as work:
        for name in CARRIED:
            if (partial / name).exists():
                os.rename(partial / name, work / name)
        if serve:
            result = save_serve_run(sc, seed, run, work, incomplete)
        else:
            result = save_live_run(sc, seed, run, work, incomplete)
    shutil.rmtree(partial, ignore_errors=True)
    return target, result.summary


@app.command()
def recover(
    run: Path = typer.Argument(
        ..., help="the output directory of a live or serve run whose simserve died, or its .NAME.*.partial"
    ),
    out: Path | None = typer.Option(None, "--out", help="where to write the run (default: the run's own --out)"),
) -> None:
    """Turn what a crashed live or serve run left into a run directory marked incomplete."""
    partial = _find(run)
    target, summary = recover_dir(partial, out)
    req = summary["requests"]
    until = summary["incomplete"]["until_s"]
    console.print(
        f"recovered {target}: {req['arrived']} jobs up to t={until:.1f}s ({req['completed']} completed, "
        f"{summary['incomplete']['jobs_in_flight']} in flight then); summary.json says incomplete"
    )
    console.print(f"[dim]next: simserve report {target}[/dim]")


@app.command()
def cleanup(
    engine: str = typer.Option(
        "auto", "--engine", help="container engine to look for leftover containers on: auto, docker, podman or none"
    ),
) -> None:
    """End the processes and remove the containers that live or serve runs whose simserve died left behind."""
    from simserve.live.procs import kill_orphans
    from simserve.live.reaper import remove_orphan_containers

    if engine not in ("auto", "docker", "podman", "none"):
        raise UsageError(f"--engine: expected auto, docker, podman or none; got {engine!r}")
    killed = kill_orphans()
    removed = remove_orphan_containers(engine) if engine != "none" else []
    n = sum(len(p) for p in killed.values())
    console.print(f"killed {n} process(es) of {len(killed)} dead run(s); removed {len(removed)} container(s)")
    for name in removed:
        console.print(f"[dim]  {name}[/dim]")


def sweep_at_start(out_dir: Path, engine: str | None) -> None:
    """Before a live or serve run: end what runs whose executor died left (processes; containers when this run
    uses a container engine), and say where a crashed run of this output directory waits to be recovered."""
    from simserve.live.procs import kill_orphans
    from simserve.live.reaper import remove_orphan_containers

    killed = kill_orphans()
    removed = remove_orphan_containers(engine) if engine else []
    if killed or removed:
        n = sum(len(p) for p in killed.values())
        errors.print(
            f"[yellow]warning: ended {n} process(es) and {len(removed)} container(s) left by live runs whose "
            "simserve died[/yellow]",
            soft_wrap=True,
        )
    for d in crashed_runs(out_dir)[:1]:
        errors.print(
            f"[yellow]warning: a crashed run of {out_dir} waits in {d}: `simserve recover {d} --out DIR` writes "
            "it as a run directory[/yellow]",
            soft_wrap=True,
        )
