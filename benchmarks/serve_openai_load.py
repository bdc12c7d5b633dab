"""Load on ``simserve serve``'s OpenAI route with the built-in LLM worker: TTFT/TPOT three ways, and the rate kept up.

Starts ``simserve serve scenarios/llm-azure-conv.yaml`` (a subprocess, as users run it, on 127.0.0.1,
no handler: the built-in worker, timed by the endpoint core's engine model) with one worker
(``endpoint.max_workers=1``, its active worker warm before the load) whose batch takes every stream
(``workload.service.max_batch=--max-batch``), so every request shares one engine's batch.

1. Burst: ``--concurrent`` streaming chat requests at once from one ``openai.AsyncOpenAI`` client,
   ``max_tokens=--tokens`` each. Per request the client measures TTFT (send -> the first chunk, the
   role chunk the worker sends with the first token), the first content token (the vLLM worker joins
   chunks in batches of 1, 3, 9, ...: the first content comes in the second batch) and TPOT ((last
   content chunk - first chunk) / (tokens - 1)). Beside them: ``jobs.csv`` of the run (the core's
   first token and end, from arrival) and the engine model alone: the same arrivals and tokens
   replayed on the simulator's path (``simserve.live.simulated.run_simulated``: the live driver on a
   virtual clock, byte-identical to ``simserve run``) with the worker warm (arrivals shifted past its
   cold start). Requests lost (no answer, or not all tokens) are counted. The client is warmed by one
   ``/models`` call first (its lazy imports and a connection; that job is left out of the figures).
   The client's send time is stamped when its HTTP request goes out (an httpx hook): on two cores the
   client itself takes a while to send 256 requests.
2. Rates: for each of ``--rates`` (requests/s), a fresh server and ``--duration`` s of open-loop
   streaming requests (``max_tokens=--rate-tokens``, each sent at its scheduled time, by a lean aiohttp
   client reading the SSE by hand unless ``--client openai``: the openai client's own CPU per chunk
   would be measured, not the server's, on a 2-core machine shared with the server); a rate is kept
   up when nothing is lost, the client kept to its schedule (p95 lag under 100 ms) and the client's
   mean TTFT exceeds jobs.csv's by under ``--overhead-ms`` (the server's and the network's share).
``--burst-client http`` sends the burst with the lean client too (the server's share without the
openai client's CPU). Usage: python benchmarks/serve_openai_load.py [--concurrent 256] [--tokens 64]
[--rates 20,50,100,200] [--burst-client openai|http] [--client http|openai]
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import math
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import numpy as np
import openai
import pandas as pd
from serve_process import launch

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "llm-azure-conv.yaml"
KEY = "bench-key"
#: arrivals are shifted this far in the engine-model replay: its worker's drawn cold start is over by then
WARM_S = 300.0


def start(out: Path, max_batch: int) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "simserve", "serve", str(SCENARIO), "--port", "0", "--api-key", KEY, "-q"]
    cmd += ["--out", str(out), "--set", "endpoint.max_workers=1", "--set", f"workload.service.max_batch={max_batch}"]
    proc, base = launch(cmd, ROOT)
    asyncio.run(wait_ready(base))
    return proc, base


async def wait_ready(base: str, timeout_s: float = 300.0) -> None:
    """Until the active worker is ready (its cold start is not part of the load)."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as s:
        while time.monotonic() < deadline:
            async with s.get(base + "/health") as r:
                if (await r.json())["workers"]["ready"] >= 1:
                    return
            await asyncio.sleep(0.2)
    raise SystemExit("the active worker did not become ready")


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=300)


#: the row of the request the running task sends (the HTTP client's request hook stamps when it goes out)
ROW: contextvars.ContextVar[dict[str, float]] = contextvars.ContextVar("row")


async def _sent(request: httpx.Request) -> None:
    row = ROW.get(None)
    if row is not None and math.isnan(row["sent"]):
        row["sent"] = time.perf_counter()


def openai_client(base: str) -> openai.AsyncOpenAI:
    """One client; its requests' send times are stamped by an httpx hook (not when the task was made)."""
    http = httpx.AsyncClient(
        event_hooks={"request": [_sent]},
        limits=httpx.Limits(max_connections=2000, max_keepalive_connections=2000),
        timeout=600,
    )
    return openai.AsyncOpenAI(base_url=base + "/openai/v1", api_key=KEY, max_retries=0, http_client=http)


async def stream_one(c: openai.AsyncOpenAI, tokens: int, n: int) -> dict[str, float]:
    row = {"sent": math.nan}
    ROW.set(row)
    first = content = last = math.nan
    words = 0
    try:
        stream = await c.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": f"request {n}: " + "x" * 40}],
            max_tokens=tokens,
            stream=True,
        )
        async for chunk in stream:
            now = time.perf_counter()
            if math.isnan(first):
                first = now
            if chunk.choices and chunk.choices[0].delta.content:
                words += 1
                last = now
                if math.isnan(content):
                    content = now
    except openai.OpenAIError:
        pass
    return {"sent": row["sent"], "first": first, "content": content, "last": last, "tokens": words}


async def sse_one(s: aiohttp.ClientSession, url: str, tokens: int, n: int) -> dict[str, float]:
    """A lean client (aiohttp, SSE read by hand): the same request and the same measurements."""
    body = {"model": "m", "messages": [{"role": "user", "content": f"request {n}: " + "x" * 40}]}
    body |= {"max_tokens": tokens, "stream": True}
    t0 = time.perf_counter()
    first = content = last = math.nan
    words = 0
    try:
        async with s.post(url, json=body) as r:
            async for line in r.content:
                if not line.startswith(b"data: {"):
                    continue
                now = time.perf_counter()
                if math.isnan(first):
                    first = now
                if b'"content":' in line:
                    words += 1
                    last = now
                    if math.isnan(content):
                        content = now
    except aiohttp.ClientError:
        pass
    return {"sent": t0, "first": first, "content": content, "last": last, "tokens": words}


def client_figures(rows: list[dict[str, float]], tokens: int) -> dict[str, Any]:
    df = pd.DataFrame(rows)
    ok = df[df["tokens"] == tokens]
    ttft = ok["first"] - ok["sent"]
    return {
        "requests": len(df),
        "complete": len(ok),
        "lost": len(df) - len(ok),
        "ttft": ttft,
        "first_content": ok["content"] - ok["sent"],
        "tpot": (ok["last"] - ok["first"]) / max(tokens - 1, 1),
    }


def engine_model(run: Path, max_batch: int) -> pd.DataFrame:
    """The same arrivals and tokens on the engine model alone, the worker warm (see the module docstring)."""
    from simserve.live.simulated import run_simulated
    from simserve.scenario import load_scenario
    from simserve.workload import Jobs

    jobs = pd.read_csv(run / "jobs.csv")
    arrival = jobs["arrival_s"].to_numpy(float) + WARM_S
    sc = load_scenario(SCENARIO, ["endpoint.max_workers=1", f"workload.service.max_batch={max_batch}"])
    given = Jobs(
        arrival,
        np.zeros(len(arrival)),
        jobs["input_tokens"].to_numpy(np.int64),
        jobs["output_tokens"].to_numpy(np.int64),
    )
    rec, _, _ = run_simulated(sc, sc.seed, until_s=float(arrival.max()) + 600.0, jobs=given)
    return rec.jobs_frame()


def stats_ms(s: pd.Series) -> str:
    s = pd.Series(s).dropna()
    if not len(s):
        return "-"
    return f"p50 {s.quantile(0.5) * 1e3:8.1f}  p95 {s.quantile(0.95) * 1e3:8.1f}  mean {s.mean() * 1e3:8.1f}"


def burst(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "run"
        proc, base = start(out, args.max_batch)

        async def main() -> list[dict[str, float]]:
            c = openai_client(base)
            s = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0), headers={"Authorization": f"Bearer {KEY}"}
            )
            url = base + "/openai/v1/chat/completions"
            try:
                await c.models.list()  # the client warm (lazy imports, a connection); its job is left out below
                if args.burst_client == "http":
                    return await asyncio.gather(*(sse_one(s, url, args.tokens, n) for n in range(args.concurrent)))
                return await asyncio.gather(*(stream_one(c, args.tokens, n) for n in range(args.concurrent)))
            finally:
                await c.close()
                await s.close()

        t0 = time.perf_counter()
        rows = asyncio.run(main())
        wall = time.perf_counter() - t0
        stop(proc)
        cl = client_figures(rows, args.tokens)
        jobs = pd.read_csv(out / "jobs.csv")
        model = engine_model(out, args.max_batch)
    done = jobs[(jobs["status"] == "completed") & (jobs["output_tokens"] == args.tokens)]
    model = model[model["output_tokens"] == args.tokens]
    print(f"\n== burst: {args.concurrent} concurrent streams x {args.tokens} tokens, one worker", end=" ")
    print(f"(max_batch {args.max_batch}), {args.burst_client} client")
    print(f"wall {wall:.2f} s; answered completely {cl['complete']}/{cl['requests']}, lost {cl['lost']}; "
          f"jobs.csv {len(done)} completed of {len(jobs) - 1}")  # fmt: skip
    print("TTFT (ms)   client (first chunk)   " + stats_ms(cl["ttft"]))
    print("            client (first content) " + stats_ms(cl["first_content"]))
    print("            jobs.csv               " + stats_ms(done["ttft_s"]))
    print("            engine model           " + stats_ms(model["ttft_s"]))
    print("TPOT (ms)   client                 " + stats_ms(cl["tpot"]))
    print("            jobs.csv               " + stats_ms(done["tpot_s"]))
    print("            engine model           " + stats_ms(model["tpot_s"]))
    ttft = {"client": cl["ttft"], "jobs": done["ttft_s"], "model": model["ttft_s"]}
    tpot = {"client": cl["tpot"], "jobs": done["tpot_s"], "model": model["tpot_s"]}
    return {
        "concurrent": args.concurrent,
        "lost": cl["lost"],
        "ttft_mean_ms": {k: float(v.mean() * 1e3) for k, v in ttft.items()},
        "tpot_mean_ms": {k: float(v.mean() * 1e3) for k, v in tpot.items()},
    }


async def open_loop(
    base: str, rate: float, duration_s: float, tokens: int, lean: bool
) -> tuple[list[dict[str, float]], list[float]]:
    n = int(rate * duration_s)
    c = openai_client(base)
    s = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), headers={"Authorization": f"Bearer {KEY}"})
    url = base + "/openai/v1/chat/completions"
    lag: list[float] = []
    tasks = []
    await c.models.list()  # the client warm (lazy imports, a connection); its job is left out
    t0 = time.perf_counter()
    try:
        for k in range(n):
            due = t0 + k / rate
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            lag.append(time.perf_counter() - due)
            one = sse_one(s, url, tokens, k) if lean else stream_one(c, tokens, k)
            tasks.append(asyncio.create_task(one))
        rows = await asyncio.gather(*tasks)
    finally:
        await c.close()
        await s.close()
    return list(rows), lag


def rates(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    print(f"\n== rates: {args.duration:g} s of streaming chat each, {args.rate_tokens} tokens, one worker,", end=" ")
    print(f"{args.client} client")
    for rate in [float(r) for r in args.rates.split(",") if r]:
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "run"
            proc, base = start(out, args.max_batch)
            rows, lag = asyncio.run(open_loop(base, rate, args.duration, args.rate_tokens, args.client == "http"))
            stop(proc)
            jobs = pd.read_csv(out / "jobs.csv")
        cl = client_figures(rows, args.rate_tokens)
        done = jobs[(jobs["status"] == "completed") & (jobs["output_tokens"] == args.rate_tokens)]
        overhead = float((cl["ttft"].mean() - done["ttft_s"].mean()) * 1e3) if len(done) else math.inf
        lag95 = float(np.quantile(lag, 0.95) * 1e3) if lag else 0.0
        kept = cl["lost"] == 0 and lag95 < 100.0 and overhead < args.overhead_ms
        results.append(
            {"rate": rate, "lost": cl["lost"], "lag_p95_ms": lag95, "overhead_ms": overhead, "kept_up": kept}
        )
        print(f"{rate:7.1f}/s: {cl['complete']}/{cl['requests']} complete, lag p95 {lag95:7.1f} ms, "
              f"TTFT client {cl['ttft'].mean() * 1e3:8.1f} ms vs jobs.csv {done['ttft_s'].mean() * 1e3:8.1f} ms "
              f"(overhead {overhead:6.1f} ms), TPOT client {cl['tpot'].mean() * 1e3:6.1f} vs "
              f"{done['tpot_s'].mean() * 1e3:6.1f} ms: {'kept up' if kept else 'NOT kept up'}")  # fmt: skip
    best = max((r["rate"] for r in results if r["kept_up"]), default=None)
    print(f"highest rate kept up: {best if best is not None else 'none'} requests/s")
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--concurrent", type=int, default=256)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--max-batch", type=int, default=256)
    ap.add_argument("--rates", type=str, default="20,50,100,200")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--rate-tokens", type=int, default=32)
    ap.add_argument("--overhead-ms", type=float, default=50.0)
    ap.add_argument("--burst-client", choices=("openai", "http"), default="openai", help="the burst's client")
    ap.add_argument(
        "--client", choices=("openai", "http"), default="http", help="the rate sweep's client (http: lean aiohttp)"
    )
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    args = ap.parse_args()
    res = {"burst": burst(args), "rates": rates(args) if args.rates else []}
    if args.json is not None:
        args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
