"""``simserve serve``: a local endpoint with the platform's REST API that real clients call.

Owns the command's options (host, port, API key, duration, the platform's limits — result
retention, rate limits, policy bounds — and the live options that apply: runtime, GPUs, slots,
protocol, seed, store, init failures, worker memory), the start-up lines
(``endpoint``, ``api key``, ``dashboard``; a warning when ``--host`` is not a loopback address),
Ctrl-C and SIGTERM (the run stops, the tables are written, exit 130 / 143), and the run directory:
that of ``simserve live`` (summary.json, jobs.csv, workers.csv, logs, ...) with ``trace.csv`` of the
real arrivals and ``scenario.trace.yaml`` to plan from. An LLM scenario also gets the OpenAI-compatible
route (an ``openai`` start-up line: its base URL and model), and without ``--handler`` the built-in LLM
worker (``simserve.serve.llm_worker``). The work is ``simserve.serve.server``.
Exit codes: 0 stopped by ``--duration``; 2 bad input (before any worker starts; a port in use);
1 the handler could not start; 130/143 a signal.
"""

from __future__ import annotations

import asyncio
import errno
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from simserve.cli import UsageError, app
from simserve.interrupts import StopSignals
from simserve.live.executor import MAX_INIT_FAILURES

console = Console()
errors = Console(stderr=True)


async def _drive(session: Any, quiet: bool) -> tuple[Any, int]:
    """Run the session until ``--duration`` or a signal; the run and the exit code it owes."""
    signals = StopSignals(session.stop)
    task = asyncio.create_task(session.run())
    ready = asyncio.create_task(session.ready.wait())
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if session.ready.is_set():
        base = f"{session.url}/v2"
        print(f"endpoint {base}/local", flush=True)
        if session.llm is not None:  # the model the built-in worker answers with (a handler names its own)
            model = f" model {session.llm.model}" if session.llm.worker is not None else ""
            print(f"openai {base}/local/openai/v1{model}", flush=True)
        print(f"api key {session.api_key}", flush=True)
        print(f"dashboard {session.url}/#key={session.api_key}", flush=True)
        if not quiet:
            print(
                f"clients: RUNPOD_ENDPOINT_BASE_URL={base} RUNPOD_API_KEY={session.api_key} python my_app.py; "
                "Ctrl-C stops and writes the run",
                flush=True,
            )
    else:
        ready.cancel()
    run = await task
    return run, signals.exit_code


@app.command()
def serve(
    scenario: Path = typer.Argument(..., help="scenario YAML file (the endpoint's settings; its workload is not used)"),
    handler: Path | None = typer.Option(
        None,
        "--handler",
        help="handler file: handler(job), or a Runpod SDK worker (an LLM scenario without one: the built-in "
        "LLM worker, timed by the scenario's engine model)",
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="output directory (default runs/serve-<name>)"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (loopback unless you say otherwise)"),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="port to listen on (0: any free port)"),
    api_key: str | None = typer.Option(
        None, "--api-key", help="the key clients send (Authorization: Bearer KEY); default: a new one, printed"
    ),
    duration: str | None = typer.Option(None, "--duration", help="stop after this long, e.g. 10min (default: Ctrl-C)"),
    runtime: str = typer.Option("process", "--runtime", help="process (default), docker or podman"),
    gpus: str | None = typer.Option(None, "--gpus", help="GPU indices, e.g. 0,1, or 'auto' (NVML / nvidia-smi)"),
    slots: int | None = typer.Option(None, "--slots", min=1, help="CPU worker slots when no GPU is used"),
    protocol: str = typer.Option("auto", "--protocol", help="auto, native or runpod"),
    seed: int | None = typer.Option(None, "--seed", min=0, help="override the scenario's seed (an integer >= 0)"),
    set_: list[str] = typer.Option([], "--set", help="override a field: dotted.key=value (repeatable)"),
    store: Path | None = typer.Option(None, "--store", help="image store / model files dir (default OUT/store)"),
    max_init_failures: int = typer.Option(
        MAX_INIT_FAILURES, "--max-init-failures", min=0, help="stop (exit 1) after this many failed starts in a row"
    ),
    worker_memory: str | None = typer.Option(None, "--worker-memory", help="memory bound per worker, or 'none'"),
    webhook_retries: int = typer.Option(2, "--webhook-retries", min=0, max=10, help="tries after a failed webhook"),
    webhook_delay: float = typer.Option(10.0, "--webhook-delay", min=0.0, help="seconds between webhook tries"),
    result_ttl_run: str = typer.Option(
        "30min", "--result-ttl-run", help="how long a /run job's result is kept after it ends (the platform: 30min)"
    ),
    result_ttl_sync: str = typer.Option(
        "1min", "--result-ttl-sync", help="how long a /runsync job's result is kept after it ends (the platform: 1min)"
    ),
    rate_limits: str = typer.Option(
        "on", "--rate-limits", help="the platform's rate limits (429): on, off, or a factor that scales them"
    ),
    policy_bounds: str = typer.Option(
        "on", "--policy-bounds", help="refuse policy values outside the platform's range (400): on or off"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="only the start-up lines; no summary"),
) -> None:
    """Serve the platform's endpoint API on this machine: real clients, the scenario's policy, real workers."""
    from simserve.cli.live import _gpus, _memory, check_worker_input
    from simserve.live.executor import LiveOptions
    from simserve.results.outputs import check_out_dir, default_out_dir, staged_out_dir
    from simserve.scenario import load_scenario
    from simserve.serve.server import ServeOptions, ServeSession, is_loopback
    from simserve.serve.trace import save_serve_run
    from simserve.units import parse_duration

    # every request a client sends counts: the scenario's warmup is for its drawn workload (unless set here)
    sc = load_scenario(scenario, set_ if any(s.startswith("warmup=") for s in set_) else ["warmup=0", *set_])
    out_dir = check_out_dir(out or default_out_dir("runs", sc.name, "serve-"), "--out" if out else "output directory")
    out_dir = out_dir.absolute()
    builtin = handler is None
    if handler is None:
        if sc.workload.llm is None:
            raise UsageError("--handler: expected a handler file (only an LLM scenario has a built-in worker)")
        from simserve.serve.builtin_handler import __file__ as builtin_file

        handler = Path(builtin_file)
    handler = check_worker_input(scenario, sc, handler, protocol, runtime, "process, docker or podman")
    if api_key is not None and (not api_key.strip() or any(c.isspace() for c in api_key)):
        raise UsageError("--api-key: expected a key without spaces")
    try:
        duration_s = parse_duration(duration) if duration else None
    except ValueError as exc:
        raise UsageError(f"--duration: {exc}") from None
    limits = _limits(result_ttl_run, result_ttl_sync, rate_limits, policy_bounds)
    rt = None
    if runtime != "process":
        from simserve.live.runtimes import build_runtime

        rt = build_runtime(runtime)
    workers = LiveOptions(
        handler=handler,
        out_dir=out_dir,
        protocol=protocol,
        runtime=runtime,
        gpus=_gpus(gpus),
        slots=slots,
        duration_s=duration_s,
        seed=seed,
        store=store.absolute() if store is not None else None,
        max_init_failures=max_init_failures,
        worker_memory_bytes=_memory(worker_memory),
        engine_in_core=builtin,
    )
    opts = ServeOptions(
        live=workers,
        host=host,
        port=port,
        api_key=api_key,
        webhook_retries=webhook_retries,
        webhook_delay_s=webhook_delay,
        **limits,
    )
    if not is_loopback(host):
        errors.print(
            f"[yellow]warning: --host {host} is not a loopback address: other machines can reach this endpoint "
            "(the API key is its only guard, sent in clear over HTTP)[/yellow]",
            soft_wrap=True,
        )
    from simserve.cli.recover import sweep_at_start

    sweep_at_start(out_dir, rt.engine if rt is not None else None)
    try:
        session = ServeSession(sc, opts, runtime=rt)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    with staged_out_dir(out_dir, carry=() if store is not None else ("store",)) as work:
        session.use_out_dir(work)
        try:
            run, exit_code = asyncio.run(_drive(session, quiet))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
                raise UsageError(f"--host {host} --port {port}: {exc.strerror or exc}") from None
            raise
        result = save_serve_run(sc, session.ex.seed, run, work)
    _report(result, run, out_dir, quiet)
    if run.notes.get("stopped"):
        from simserve.cli.live import _report_stopped

        _report_stopped(run.notes["stopped"], out_dir)
        raise typer.Exit(1)
    if exit_code:
        if exit_code != 130:
            print(f"stopped by signal; tables written to {out_dir}", file=sys.stderr)
        raise typer.Exit(exit_code)


def _limits(ttl_run: str, ttl_sync: str, rate_limits: str, policy_bounds: str) -> dict[str, Any]:
    """The ``ServeOptions`` fields of the platform's limits, from their options (a bad one: exit 2)."""
    from simserve.serve.limits import parse_rate_limits
    from simserve.units import parse_duration

    fields: dict[str, Any] = {}
    for name, text, key in (
        ("--result-ttl-run", ttl_run, "result_ttl_run_s"),
        ("--result-ttl-sync", ttl_sync, "result_ttl_sync_s"),
    ):
        try:
            fields[key] = parse_duration(text)
        except ValueError as exc:
            raise UsageError(f"{name}: {exc}") from None
        if fields[key] <= 0:
            raise UsageError(f"{name}: expected a duration over 0; got {text!r}")
    try:
        fields["rate_limits"] = parse_rate_limits(rate_limits)
    except ValueError as exc:
        raise UsageError(f"--rate-limits: {exc}") from None
    if policy_bounds.strip().lower() not in ("on", "off"):
        raise UsageError(f"--policy-bounds: expected on or off; got {policy_bounds!r}")
    fields["policy_bounds"] = policy_bounds.strip().lower() == "on"
    return fields


def _report(result: Any, run: Any, out_dir: Path, quiet: bool) -> None:
    from simserve.cli.run import render_summary, render_warnings

    if quiet:
        render_warnings(result.summary)
        return
    render_summary(result.summary, out_dir)
    http = run.notes.get("serve", {}).get("http", {})
    console.print(
        f"[dim]HTTP requests: {http.get('requests', 0)}; trace: {out_dir}/trace.csv; plan from it: "
        f"simserve plan {out_dir}/scenario.trace.yaml[/dim]"
    )
