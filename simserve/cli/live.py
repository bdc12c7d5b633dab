"""``simserve live``: run a scenario's workload against real workers with the simulator's policy.

Owns option parsing (GPUs, slots, duration, speed, protocol), the rich live view (workers by
state, queue, latency and cost so far), Ctrl-C handling (the run stops cleanly and still writes
its tables), and writing the run directory with the same files as ``simserve run`` plus
``logs/<worker_id>.log``, ``trace.csv`` and ``job_errors.csv``. The work itself is
``simserve.live.executor``.

Exit codes: 0 the run ended (its duration, the horizon, or a Ctrl-C); 2 bad input, found
before any worker starts — including an optional package the run needs and cannot import
(``simserve.live.preflight``: ``runpod`` for a Runpod-SDK handler, the ``docker`` SDK for
``--runtime docker|podman``); 1 the handler could not start: ``--max-init-failures`` real failed
starts in a row stop the run, its tables are written as usual, and stderr gets one ``error:``
line and the last lines of the failing worker's log.
"""

from __future__ import annotations

import asyncio
import math
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from simserve.cli import UsageError, app
from simserve.interrupts import StopSignals
from simserve.live.executor import MAX_INIT_FAILURES, WORKER_MEMORY_SHARE, LiveExecutor, LiveRun
from simserve.numfmt import num, usd
from simserve.results.outputs import check_out_dir, default_out_dir, staged_out_dir
from simserve.scenario import Scenario, load_scenario
from simserve.workload import check_files

console = Console()
errors = Console(stderr=True)


def _view(st: dict[str, Any], ended: bool = False) -> Table:
    """The live view: workers by state, queue, latency and cost so far (``ended``: the last frame, so titled)."""
    when = f"ended at t={st['now_s']:,.1f}s" if ended else f"t={st['now_s']:,.1f}s of {st['end_s']:,.1f}s"
    t = Table(title=f"simserve live · {when}", show_header=False, box=None)
    t.add_column(style="bold cyan")
    t.add_column()
    t.add_row("workers", ", ".join(f"{k} {v}" for k, v in st["workers"].items() if v) or "-")
    t.add_row(
        "queue",
        f"{num(st['in_queue'])} waiting, {num(st['in_progress'])} running, {num(st['arrived'])} arrived, "
        f"{num(st['completed'])} completed",
    )
    p50, p95 = st["latency_p50_s"], st["latency_p95_s"]
    t.add_row("latency", "-" if math.isnan(p50) else f"p50 {num(p50)} s, p95 {num(p95)} s")
    t.add_row("cost so far", usd(st["cost_usd"]))
    if st["faults"]:
        t.add_row("faults", f"[red]{st['faults']}[/red] ({st['retries']} jobs retried)")
    return t


def _gpus(text: str | None) -> list[int] | None:
    if not text:
        return None
    if text == "auto":
        from simserve.live.gpus import discover_gpus

        return discover_gpus() or None
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--gpus: expected indices like 0,1 or 'auto', got {text!r}") from None


async def _drive(ex: LiveExecutor, quiet: bool) -> tuple[LiveRun, int]:
    """Run the executor; Ctrl-C or SIGTERM ends the run like ``--duration`` does. Returns the run and the
    exit code it owes (0, or 130/143 when a signal ended it)."""
    signals = StopSignals(ex.request_stop)
    task = asyncio.create_task(ex.run())
    if quiet:
        run = await task
    else:
        with Live(_view(ex.status()), console=console, auto_refresh=False, transient=False) as live:
            while not task.done():
                await asyncio.wait({task}, timeout=0.25)
                live.update(_view(ex.status(), ended=task.done()), refresh=True)  # one render, no refresh thread
        # the last frame stays, a blank line apart from the summary: rich ends it with a newline in a terminal,
        # not in a pipe or a file
        console.print("" if console.is_terminal else "\n", end="\n")
        run = task.result()
    return run, signals.exit_code


@app.command()
def live(
    scenario: Path = typer.Argument(..., help="scenario YAML file"),
    handler: Path | None = typer.Option(
        None, "--handler", help="handler file: handler(job), or a Runpod SDK worker (not with --runtime simulated)"
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="output directory (default runs/live-<name>)"),
    runtime: str = typer.Option(
        "process",
        "--runtime",
        help="process (default), docker, podman, or simulated "
        "(a dry run on a virtual clock with the scenario's drawn times)",
    ),
    gpus: str | None = typer.Option(None, "--gpus", help="GPU indices, e.g. 0,1, or 'auto' (NVML / nvidia-smi)"),
    slots: int | None = typer.Option(None, "--slots", min=1, help="CPU worker slots when no GPU is used"),
    duration: str | None = typer.Option(
        None, "--duration", help="wall-clock limit, e.g. 2min (default: horizon/speed)"
    ),
    speed: float = typer.Option(1.0, "--speed", min=0.001, help="time compression: scenario seconds per wall second"),
    protocol: str = typer.Option("auto", "--protocol", help="auto, native or runpod"),
    seed: int | None = typer.Option(None, "--seed", min=0, help="override the scenario's seed (an integer >= 0)"),
    set_: list[str] = typer.Option([], "--set", help="override a field: dotted.key=value (repeatable)"),
    store: Path | None = typer.Option(None, "--store", help="image store / model files dir (default OUT/store)"),
    image: str | None = typer.Option(
        None, "--image", help="container image for --runtime docker|podman (default: a small image built on first use)"
    ),
    evict_images: bool = typer.Option(
        False, "--evict-images", help="containers: remove the image on scale-down (a host without an image cache)"
    ),
    max_init_failures: int = typer.Option(
        MAX_INIT_FAILURES,
        "--max-init-failures",
        min=0,
        help="stop the run (exit 1) after this many failed worker starts in a row; 0: never",
    ),
    worker_memory: str | None = typer.Option(
        None,
        "--worker-memory",
        help="memory bound per worker, e.g. 4GB, or 'none' "
        f"(default on CPU slots: {WORKER_MEMORY_SHARE:.0%} of this machine's memory split over the slots; "
        "GPU slots: none)",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no live view, no summary"),
) -> None:
    """Replay a scenario's policy on real worker processes; write the simulator's tables."""
    from simserve.live.executor import LiveOptions
    from simserve.live.report import save_live_run
    from simserve.units import parse_duration

    sc = load_scenario(scenario, set_)
    check_files(sc)  # trace and tenants CSVs: bad rows are one line and exit 2, before any work
    # a default made from the scenario's name stays under runs/ (simserve.results.outputs.default_out_dir)
    out_dir = check_out_dir(out or default_out_dir("runs", sc.name, "live-"), "--out" if out else "output directory")
    out_dir = out_dir.absolute()
    if runtime == "simulated":
        _simulated(sc, scenario, handler, out_dir, duration, speed, seed, quiet, set_)
        return
    if handler is None:
        raise UsageError("--handler: expected a handler file (or --runtime simulated for a dry run)")
    handler = check_worker_input(scenario, sc, handler, protocol, runtime, "process, docker, podman or simulated")
    try:
        duration_s = parse_duration(duration) if duration else None
    except ValueError as exc:
        raise UsageError(f"--duration: {exc}") from None
    # every path resolved once, absolute, before any worker starts (workers run in the handler's directory)
    store = store.absolute() if store is not None else None
    memory_bytes = _memory(worker_memory)
    opts = LiveOptions(
        handler=handler,
        out_dir=out_dir,  # the staged directory in its place once the run starts (below)
        protocol=protocol,
        runtime=runtime,
        gpus=_gpus(gpus),
        slots=slots,
        duration_s=duration_s,
        speed=speed,
        seed=seed,
        store=store,
        max_init_failures=max_init_failures,
        worker_memory_bytes=memory_bytes,
    )
    rt = None
    if runtime != "process":
        from simserve.live.runtimes import build_runtime

        rt = build_runtime(runtime, image=image, evict_images=evict_images or None)
    elif image or evict_images:
        raise UsageError("--image and --evict-images need --runtime docker or podman")
    from simserve.cli.recover import sweep_at_start

    sweep_at_start(out_dir, rt.engine if rt is not None else None)
    try:
        ex = LiveExecutor(sc, opts, runtime=rt)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for note in live_substitutions(sc):
        errors.print(f"[yellow]warning: {scenario}: {note}[/yellow]", soft_wrap=True)

    # the run (logs, host caches, tables) is written into a private directory beside out_dir and renamed
    # into place at its end: a directory holds one whole run or none; the image store (a cache) is carried
    with staged_out_dir(out_dir, carry=() if store is not None else ("store",)) as work:
        ex.use_out_dir(work)
        run, exit_code = asyncio.run(_drive(ex, quiet))
        result = save_live_run(sc, ex.seed, run, work)
    stopped = run.notes.get("stopped")
    if not quiet:  # what went wrong first: the run ends with its answers
        for f in result.summary["live"]["faults"]:
            console.print(f"[red]worker {f['worker_id']} {f['kind']} at t={f['time_s']:.2f}s: {f['message']}[/red]")
            last = stopped is not None and (f["worker_id"], f["time_s"]) == (stopped["worker_id"], stopped["time_s"])
            if f["log_tail"] and not last:  # the last failure's tail goes to stderr below
                console.print(f"[dim]{f['log_tail']}[/dim]", markup=False, highlight=False)
        console.print(f"[dim]worker logs in {out_dir}/logs/[/dim]")
    _render_run(scenario, sc, result, out_dir, set_, quiet)
    if stopped:
        _report_stopped(stopped, out_dir)
        raise typer.Exit(1)
    if exit_code:
        if exit_code != 130:  # main() says "interrupted" for 130 itself
            print(f"stopped by signal; tables written to {out_dir}", file=sys.stderr)
        raise typer.Exit(exit_code)


def _report_stopped(stopped: dict[str, Any], out_dir: Path) -> None:
    """The handler could not start: one ``error:`` line, then the failing worker's log tail (stderr)."""
    wid = stopped.get("worker_id")
    print(
        f"error: the handler failed to start {stopped.get('failures_in_row')} times in a row "
        f"(worker {wid}: {' '.join(str(stopped.get('message', '')).split())}); "
        f"run stopped at t={float(stopped.get('time_s', 0.0)):.2f}s, tables written to {out_dir}",
        file=sys.stderr,
    )
    tail = str(stopped.get("log_tail") or "")
    if tail:
        print(f"last lines of {out_dir / 'logs' / f'{wid}.log'}:", file=sys.stderr)
        print(tail, file=sys.stderr)


def _memory(text: str | None) -> int | None:
    """``--worker-memory``: bytes (None: the default share; 0: no bound)."""
    if text is None:
        return None
    if text.strip().lower() in ("none", "0", "off", "unlimited"):
        return 0
    from simserve.units import parse_size

    try:
        value = parse_size(text)
    except ValueError as exc:
        raise UsageError(f"--worker-memory: {exc}") from None
    if not value >= 64 << 20:
        raise UsageError(f"--worker-memory: expected at least 64MB (or 'none'), got {text!r}")
    return int(value)


def check_worker_input(scenario: Path, sc: Scenario, handler: Path, protocol: str, runtime: str, runtimes: str) -> Path:
    """What ``live`` and ``serve`` check before any worker starts, each a one-line exit 2: the handler
    file, a scenario a real run can carry out, the protocol and runtime (``runtimes``: the accepted ones,
    as the error says them) and the extras they need. Returns the handler file, resolved."""
    from simserve.live.executor import detect_protocol
    from simserve.live.preflight import missing_extra
    from simserve.live.runtimes import RUNTIMES

    if not handler.is_file():
        raise UsageError(f"--handler: file not found: {handler}")
    problem = unsupported_live(sc)
    if problem:
        raise UsageError(f"{scenario}: {problem}")
    if protocol not in ("auto", "native", "runpod"):
        raise UsageError(f"--protocol: expected auto, native or runpod, got {protocol!r}")
    if runtime not in RUNTIMES:
        raise UsageError(f"--runtime: expected {runtimes}, got {runtime!r}")
    handler = handler.resolve()
    missing = missing_extra(handler, detect_protocol(handler) if protocol == "auto" else protocol, runtime)
    if missing:
        raise UsageError(missing)
    return handler


def unsupported_live(sc: Scenario) -> str:
    """The first scenario section a real live run cannot carry out ('' when all can), as 'field: why'."""
    for i, ev in enumerate(sc.events):
        d = ev.deploy
        if d is not None:
            for name in ("container_start", "handler_init"):
                if getattr(d, name) is not None:
                    return (
                        f"events[{i}].deploy.{name}: a live run measures the real {name.replace('_', ' ')}; "
                        "expected it left out (or --runtime simulated)"
                    )
    return ""


def live_substitutions(sc: Scenario) -> list[str]:
    """What a real live run puts in place of a scenario setting (said as a warning, never silently)."""
    notes = []
    ep = sc.endpoint
    if len(ep.gpu) > 1:
        notes.append(
            f"endpoint.gpu: the local slots stand in for the first type ({ep.gpu[0]}); {', '.join(ep.gpu[1:])} not used"
        )
    if sc.hosts:
        notes.append(
            "hosts: workers run on the local slots (--gpus / --slots); the pools' count, gpus_per_host "
            "and disk are not used, their other_tenants are (for the first GPU type)"
        )
    return notes


def _simulated(
    sc: Scenario,
    path: Path,
    handler: Path | None,
    out_dir: Path,
    duration: str | None,
    speed: float,
    seed: int | None,
    quiet: bool,
    overrides: list[str],
) -> None:
    """``--runtime simulated``: the live driver on a virtual clock; the same tables as ``simserve run``."""
    from simserve.live.report import save_live_run
    from simserve.live.simulated import run_simulated
    from simserve.units import parse_duration

    if handler is not None:
        console.print("[yellow]warning: --handler is not used with --runtime simulated[/yellow]")
    try:
        until = parse_duration(duration) * speed if duration else None
    except ValueError as exc:
        raise UsageError(f"--duration: {exc}") from None
    run_seed = sc.seed if seed is None else seed
    rec, jobs, horizon = run_simulated(sc, run_seed, until)
    run = LiveRun(rec, horizon, jobs, {"runtime": "simulated", "speed": speed, "faults": [], "retries": rec.retries})
    with staged_out_dir(out_dir) as work:
        result = save_live_run(sc, run_seed, run, work)
    _render_run(path, sc, result, out_dir, overrides, quiet)


def _render_run(path: Path, sc: Scenario, result: Any, out_dir: Path, overrides: list[str], quiet: bool) -> None:
    """The summary of a finished live run, ending as ``simserve run`` does (bill, latency, next commands),
    and its warnings, the first cold start's included (those alone with ``quiet``)."""
    from simserve.cli.answers import next_commands
    from simserve.cli.run import render_summary, render_warnings
    from simserve.cli.startup import startup_tail
    from simserve.results.result import statistics_warmup

    summary = result.summary
    horizon = float(summary.get("horizon_s") or sc.horizon)
    warmup = statistics_warmup(sc, horizon)
    tail = startup_tail(result.jobs, summary, warmup)
    if quiet:
        render_warnings(summary, (tail,))
        return
    steps = next_commands(path, sc, out_dir, summary["latency_s"].get("p95"), overrides)
    render_summary(summary, out_dir, window_s=horizon - warmup, steps=steps, tail_warning=tail)
