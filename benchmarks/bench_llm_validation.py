"""Simulated vs published LLM serving medians (issue #24): every case, one table, in docs/llm-validation.md.

Reads the transcribed measurements (tests/data/llm_serving/published.yaml), runs each through
``simserve.simulate`` with the catalog's figures (``simserve.calibrate.llm_validation``) and writes
the table of median TTFT and TPOT, simulated against published, with the error of each. ``--fit ENGINE``
refits that serving engine's CPU figures (frontend, step, per sequence; ``llm_catalog.ENGINES``) to its
cases by Nelder-Mead on the log errors and prints them: how the catalog's figures were obtained.

    python benchmarks/bench_llm_validation.py                      # docs/llm-validation.md
    python benchmarks/bench_llm_validation.py --fit sglang-0.3.0   # prints the fitted figures
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

from simserve import llm_catalog
from simserve.calibrate.llm_validation import Case, Outcome, load_cases, simulate_case

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "llm-validation.md"


def _pct(x: float) -> str:
    return f"{x * 100:+.1f} %"


def table(outcomes: list[Outcome]) -> list[str]:
    lines = [
        "| case | engine | model, GPUs | traffic | TTFT published | simulated | error | TPOT published "
        "| simulated | error |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        c = o.case
        lines.append(
            f"| {c.name}{' (held out)' if c.held_out else ''} | {c.engine['name']} "
            f"| {c.model} on {c.gpus} x {c.gpu} | {c.traffic} "
            f"| {c.ttft_ms:,.1f} ms | {o.ttft_ms:,.1f} ms | {_pct(o.ttft_error)} "
            f"| {c.tpot_ms:.2f} ms | {o.tpot_ms:.2f} ms | {_pct(o.tpot_error)} |"
        )
    return lines


def summary(outcomes: list[Outcome]) -> list[str]:
    groups: list[tuple[str, list[Outcome]]] = [("all", outcomes)]
    for e in dict.fromkeys(o.case.engine["name"] for o in outcomes):
        sel = [o for o in outcomes if o.case.engine["name"] == e]
        groups.append((e, sel))
        held = [o for o in sel if o.case.held_out]
        if held:
            groups += [(f"{e}, fitted", [o for o in sel if not o.case.held_out]), (f"{e}, held out", held)]
    lines = []
    for label, sel in groups:
        errs = np.abs([[o.ttft_error, o.tpot_error] for o in sel])
        n = len(sel)
        lines.append(
            f"| {label} | {n} | {int((errs[:, 0] <= 0.10).sum())} / {int((errs[:, 0] <= 0.15).sum())} "
            f"| {int((errs[:, 1] <= 0.10).sum())} / {int((errs[:, 1] <= 0.15).sum())} "
            f"| {np.median(errs[:, 0]) * 100:.1f} % | {np.median(errs[:, 1]) * 100:.1f} % "
            f"| {errs.max() * 100:.1f} % |"
        )
    return [
        "| cases | n | TTFT within 10 % / 15 % | TPOT within 10 % / 15 % | median abs. TTFT error "
        "| median abs. TPOT error | worst |",
        "|---|---|---|---|---|---|---|",
        *lines,
    ]


def _within(outcomes: list[Outcome], engine: str, limit: float, held_out: bool = False) -> str:
    """``TTFT within 15 % in 9 of 15 cases, TPOT in 15 of 15`` for one engine's fitted (or held-out) cases."""
    sel = [o for o in outcomes if o.case.engine["name"] == engine and o.case.held_out == held_out]
    ttft = sum(abs(o.ttft_error) <= limit for o in sel)
    tpot = sum(abs(o.tpot_error) <= limit for o in sel)
    return f"TTFT within {limit * 100:.0f} % in {ttft} of {len(sel)} cases, TPOT in {tpot} of {len(sel)}"


def write_doc(outcomes: list[Outcome], seconds: float) -> None:
    engines = {o.case.engine["server"] for o in outcomes}
    eng_lines = [
        f"| `{name}` | {e.label} | {'chunked' if e.chunked_prefill else 'prefill-only steps'} "
        f"| {e.max_batched_tokens or 'by GPU memory'} | {e.scheduler_steps} | {e.frontend_s * 1e3:.2f} ms "
        f"| {e.step_s * 1e3:.2f} ms | {e.per_sequence_s * 1e3:.3f} ms "
        f"| {f'{e.in_run_s * 1e3:.3f} ms' if e.scheduler_steps > 1 else '-'} |"
        for name, e in llm_catalog.ENGINES.items()
        if name in engines or name == "vllm"
    ]
    sources = sorted({o.case.source for o in outcomes})
    text = [
        "# simserve's LLM engine against published serving measurements (issue #24)",
        "",
        f"Written by `benchmarks/bench_llm_validation.py` on {platform.machine()} (CPython "
        f"{platform.python_version()}) in {seconds:.0f} s. Every transcribed case is here, in the file's order.",
        "",
        "Each case is a published benchmark run: a model on one GPU or four (tensor parallel), a serving "
        "engine at its version's defaults, and traffic (Poisson arrivals at a rate, or a burst of requests "
        "sent at once), with the median TTFT and TPOT the benchmark client reported. "
        "`tests/data/llm_serving/published.yaml` holds each with its source; "
        "`simserve.calibrate.llm_validation` runs it through `simserve.simulate` (one warm worker, the "
        "same token counts: a burst's exact requests, Poisson traffic drawn from the ShareGPT sample) and "
        "takes the medians as the client does.",
        "",
        "## Every case",
        "",
        *table(outcomes),
        "",
        "## Summary",
        "",
        *summary(outcomes),
        "",
        "## What is measured, what is fitted",
        "",
        "- **The GPU's work** (weights streamed, linear layers, LM head, attention, all-reduce) comes from "
        "`simserve.llm_catalog`: Vidur's operator profiles of A100 and H100 and the model's architecture "
        "(docs/llm-catalog.md). Nothing in it was fitted to these cases, except the NVLink all-reduce latency "
        "(30 µs), chosen on the 70B cases.",
        "- **The serving engine's software** (`workload.service.server`): its scheduler is the version's "
        "published defaults and the flags the source gives; its CPU figures (API-server time per request, "
        "per step, per sequence; with multi-step runs also each later step's own launch) are fitted once per "
        "engine to that engine's cases, by `python benchmarks/bench_llm_validation.py --fit ENGINE` "
        "(Nelder-Mead on the log errors). Three figures per engine (four with multi-step), not per case: the "
        "errors above are in-sample for those, except the cases marked held out, which the fit never sees.",
        "",
        "| server | engine | scheduler | token budget | steps per run | frontend per request | per step "
        "| per sequence | later step of a run |",
        "|---|---|---|---|---|---|---|---|---|",
        *eng_lines,
        "",
        "## Where it falls short, and why",
        "",
        f"- **SGLang 0.3.0** (prefill batches run alone, as its default): {_within(outcomes, 'sglang-0.3.0', 0.10)}.",
        "- **vLLM 0.6.0 with `--num-scheduler-steps 10`** (the only vLLM whose serving measurements with "
        "Llama 3 on A100/H100 at these rates and bursts were found published with their token counts): "
        f"{_within(outcomes, 'vllm-0.6.0-multistep', 0.15)}. "
        "simserve models its multi-step runs (nothing joins within 10 decoding steps; their tokens come "
        "out at the run's end; the scheduling and output work once a run, each later step's launch "
        "apart), its asynchronous output processor (a step's first "
        "tokens come out with the next step: in the 20-request burst on A100 every first token came at "
        "320 ms although two prefill steps were needed) and its API server (one request at a time; a burst "
        "reaches the engine once the server has parsed it whole). Where it falls short: the two 10-request "
        "bursts on H100 come out 18 % and 25 % late on TTFT. With the CPU figures at zero the GPU's share "
        "of their median TTFT is 36 ms (8B) of the 62 measured, against 101 of 139 ms on A100: the H100 "
        "runs spent about two thirds of the A100 runs' CPU time, while one set of CPU figures serves both "
        "(the A100 and H100 hosts' CPUs differ, and simserve has no per-host CPU speed). Charging each later "
        "step of a run its own launch (0.73 ms) instead of nothing brought these two from 35 % and 22 % "
        "and the 80-request burst's TPOT from 15.0 % to 9.8 %. Vidur's profiles do not explain the gap: "
        "the catalog's layer time is 8-12 % under them at a few hundred tokens on both GPUs alike.",
        "- **Held out** (vLLM 0.6.0, more runs of the same Lambda batch that the fit never saw): "
        f"{_within(outcomes, 'vllm-0.6.0-multistep', 0.15, held_out=True)}. The H100 10-request bursts are "
        "late again, as in the fitted cases, and the 70B 80-request burst on 4 x A100 is early. The same A100 "
        "setups measured on the next day gave TTFT about 10 % lower (8B, 10 requests: 126.7 ms against 139.1 "
        "ms; 70B: 315 against 356 ms) while TPOT and every H100 run held: about 10 % is the day-to-day spread "
        "of these A100 TTFTs.",
        "- **vLLM V1** (0.8 and later, chunked prefill: simserve's default engine): no serving measurement "
        "with these models and GPUs was found transcribable (open rates or bursts with token counts); its "
        "step overhead comes from one published decode measurement (docs/llm-catalog.md) and its API-server "
        "time is vLLM 0.6's. Measurements of V1 belong in the data file next.",
        "",
        "## Sources",
        "",
        *[f"- {s}" for s in sources],
        "",
    ]
    DOC.write_text("\n".join(text))


def fit(engine: str, max_evals: int) -> None:
    from scipy.optimize import minimize

    cases: list[Case] = [c for c in load_cases() if c.engine["name"] == engine and not c.held_out]
    if not cases:
        sys.exit(f"no cases of engine {engine!r}")
    server = llm_catalog.ENGINES[cases[0].engine["server"]]
    multi = server.scheduler_steps > 1  # a later step of a run pays in_run: a fourth figure

    def errors(x: np.ndarray) -> float:
        f, b, c, *r = np.abs(x) * 1e-3
        step = {"base": b, "per_sequence": c, **({"in_run": r[0]} if multi else {})}
        over = {"frontend_per_request": f, "decode_step": step}
        errs = []
        for case in cases:
            o = simulate_case(case, overrides=over)
            errs += [np.log(o.ttft_ms / case.ttft_ms), np.log(o.tpot_ms / case.tpot_ms)]
        return float(np.sum(np.square(errs)))

    start = [server.frontend_s, server.step_s, server.per_sequence_s] + ([server.in_run_s] if multi else [])
    x0 = np.array(start) * 1e3
    r = minimize(errors, x0, method="Nelder-Mead", options={"maxfev": max_evals, "xatol": 0.005, "fatol": 1e-4})
    f, b, c, *rest = np.abs(r.x)
    in_run = f", in run {rest[0]:.3f} ms" if multi else ""
    print(
        f"{engine}: frontend {f:.3f} ms, step {b:.3f} ms, per sequence {c:.4f} ms{in_run} "
        f"(squared log errors {r.fun:.4f})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fit", metavar="ENGINE", help="refit this engine's CPU figures to its cases and print them")
    ap.add_argument("--max-evals", type=int, default=150)
    ap.add_argument("--no-write", action="store_true", help="print the table, do not write the doc")
    args = ap.parse_args()
    if args.fit:
        fit(args.fit, args.max_evals)
        return
    t0 = time.perf_counter()
    outcomes = [simulate_case(c) for c in load_cases()]
    seconds = time.perf_counter() - t0
    print("\n".join([*table(outcomes), "", *summary(outcomes)]))
    if not args.no_write:
        write_doc(outcomes, seconds)
        print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
