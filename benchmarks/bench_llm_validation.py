"""Simulated vs published LLM serving medians (issue #24): every case, one table, in docs/llm-validation.md.

Reads the transcribed measurements (tests/data/llm_serving/published.yaml), runs each through
``simserve.simulate`` with the catalog's figures (``simserve.calibrate.llm_validation``) and writes
the table of median TTFT and TPOT, simulated against published, with the error of each. ``--fit ENGINE``
refits that serving engine's CPU figures (frontend, step, per sequence; with multi-step also a later step's
and a prompt token's; ``llm_catalog.ENGINES``) to its cases by Nelder-Mead on the log errors and prints them:
how the catalog's figures were obtained.

    python benchmarks/bench_llm_validation.py                      # docs/llm-validation.md
    python benchmarks/bench_llm_validation.py --fit sglang-0.3.0   # prints the fitted figures
"""

from __future__ import annotations

import argparse
import dataclasses
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


def first_tokens(outcomes: list[Outcome]) -> list[str]:
    """The section on a burst's first token: the published and simulated times, what they show of the hosts,
    and the model changes tried against the last misses, with the largest error each left."""
    rows = [o for o in outcomes if o.case.first_token_ms is not None]
    lines = [
        "## The first token of a burst: the hosts differ",
        "",
        "For the four 80-request bursts the source files also give each request's TTFT; the earliest of them "
        "is when the burst's first prefill output reached the client (`first_token_ms` in the data file). "
        "The same software (vLLM 0.6.0, `--num-scheduler-steps 10`), the same 80 prompts, runs of the same "
        "day (2024-09-07), one model and GPU count apiece:",
        "",
        "| case | first token published | simulated | error | median TTFT error |",
        "|---|---|---|---|---|",
        *[
            f"| {o.case.name} | {o.case.first_token_ms:,.1f} ms | {o.first_token_ms:,.1f} ms "
            f"| {_pct(o.first_token_error or 0.0)} | {_pct(o.ttft_error)} |"
            for o in rows
        ],
        "",
        "- **On the H100 hosts the model puts a burst's first token where it was** (within 6 %). On the A100 "
        "hosts the client saw it a quarter of a second later than the model (263 ms for 8B, 288 ms for 70B). "
        "Before that first token the GPU runs one or two prefill steps (the catalog's 2,048-token step: 135 ms "
        "for 8B on A100, about 370 ms for 70B on 4 x A100); no error of a plausible size in them makes a "
        "quarter of a second, and the 8B bursts' first prefill step held as much on both GPUs (8 prompts, "
        "1,829 tokens on A100; 5 prompts, 1,842 tokens on H100). The time went on the host: its API server, the client "
        "beside it, the engine's CPU work.",
        "- **The hosts differ in the engine's own CPU work too**, with no TTFT in it: a 10-step decode run of "
        "ten sequences lasts 117.9 ms on A100 (8B), of which the catalog's GPU time is 99 ms, against 73-75 ms "
        "on H100, of which 60 ms: about 19 ms of CPU a run against 13-15 ms.",
        "- **And the same A100 setup on another day**: the 8B 10-request burst's median TTFT was 139.1 ms on "
        "2024-09-07 and 124.5-126.7 ms on 2024-09-08; 70B on 4 x A100 356.1 against 306.1-315.2 ms; every "
        "H100 run held within 1 %.",
        "",
        "These are the remaining misses' cause: the hosts, not the engine's scheduling or the GPU's work. "
        "simserve's serving engines have one set of CPU figures each, as a user planning on other hosts needs "
        "them, and no source gives these instances' CPU models or speeds. Issue #24's target, every case "
        "within 15 %, waits on measurements whose hosts are known (or repeated, to give their spread).",
        "",
        "### Model changes tried against the last misses",
        "",
        "Each was run through every case with the four CPU figures refitted; none is in the model, because "
        "none brings every case within 15 % and each moves other cases out (the largest error each left):",
        "",
        "- Vidur's measured layer time at the step's token count, where the catalog takes its 32,768-token "
        "rate (their profiles put that rate 4-6 % fast at 512-2,048 tokens, A100 and H100 alike): 24 % (the "
        "8B H100 10-request bursts).",
        "- H100's NVLink bandwidth from its datasheet (450 GB/s a direction at 2/3, 300 GB/s, where the "
        "catalog gives both GPUs A100's 200 GB/s), with Vidur's tensor-parallel GEMM times and a 22 µs "
        "all-reduce: 25 % (the 70B 4 x H100 Poisson 8/s). The datasheet bandwidth alone, nothing refitted, "
        "takes that case and the 70B 4 x H100 80-request burst to -17 %.",
        "- Fitting the CPU figures for the target (the largest error, an L8 norm of the log errors) instead of "
        "least squares: 17.4 % on the fitted cases (8B H100 10-request burst +17 %, 70B 4 x A100 10-request "
        "burst -17 %), 19.8 % held out.",
        "- A run's CPU work before its held output as a figure of its own, at the 4.5 ms Lambda's per-token "
        "times show: 19 %.",
        "- A CPU cost per prompt token (vLLM 0.6 prepares each token's position and cache slot in Python; "
        "fitted 3.5 µs) with the A100 hosts' CPU as a fitted multiple of the H100 hosts' (1.59): 21 %: the "
        "A100 runs of 2024-09-07 that the fit sees pull the held-out ones of the next day to +19-21 %.",
        "- Each 80-request burst replayed in the order the server took its requests (the order of their first "
        "tokens): the 8B A100 burst goes from -13 % to -22 %; the order is not the cause.",
    ]
    return lines


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
        "simserve models its multi-step runs (nothing joins within 10 decoding steps; a run runs all 10, "
        "computing every sequence it began with, done or not, as `step_async` skips the scheduler while the "
        "cached run has steps left; their tokens come out at the run's end; the scheduling and output work "
        "once a run, each later step's launch apart), its API server (one request at a time; a burst reaches "
        "the engine once the server has "
        "parsed it whole) and its asynchronous output processor as vLLM 0.6.0's code runs it: a step's "
        "outputs are processed (`LLMEngine._process_model_outputs`, called back from "
        "`MultiStepModelRunner.execute_model` once the next step's GPU work is launched) and reach the client "
        "when that next step's engine call returns to the event loop (`AsyncStream.put` from the executor "
        "thread wakes nothing). A prefill-only step, or a run's last step, returns only when its GPU work is "
        "done (it reads the sampled tokens), so the first tokens of one prefill step followed by another come "
        "out at the second's end (in the 20-request burst on A100 every first token came at 320 ms although "
        "two prefill steps were needed); the first step of a 10-step run returns once it has launched, so "
        "first tokens followed by a run come out when the run's scheduling and output work is done, before "
        "its GPU work. Lambda's per-token times show it: from the first token to the next ten the gap is as "
        "long as each later one (75.3 ms against 73-75 ms on H100, 117.9 against 116-118 ms on A100), where "
        "first tokens out at the end of the run's first step would make it a step (6-10 ms) shorter. This "
        "(with the CPU figures refitted) took the H100 8B 10-request bursts from +25 % to +21 % and the 70B "
        "ones from +18 % to +7 %, and the held-out cases from TTFT within 15 % in 10 of 15 to 12 of 15. The "
        "last tokens of a run's last step are held the same way: within a run `_process_model_outputs` makes "
        "a request's output only for sequences that finished, and the last step's output waits for the next "
        "step's callback, so a reply that ends inside a run comes out at the run's end and one that goes on "
        "with the next step. Lambda's per-token times show that too: the replies of 9, 3 and 6 tokens got "
        "their rest 71.0-71.2 ms after their first token on H100 (112.9-113.5 ms on A100), the others theirs "
        "4.2 ms later (4.8 ms on A100), when the next run had launched; a reply whose last token a run's last "
        "step makes completes then (with nothing left to run, once the run the scheduler begins for it, not "
        "having seen it finish, has done its CPU part; the rest of that run waits for the next request). "
        "Those 4.2-4.8 ms are the run's CPU work before its held output comes out, measured; the fitted "
        "figures charge 11.7 ms for seven sequences (a fifth figure for it, fitted apart from the prefill "
        "steps', fits the medians worse, squared log errors 0.26 against 0.21: the 8B A100 and 70B 4 x A100 "
        "runs of the first day want more CPU "
        "time before the first token than the H100 runs). Modelling these two (with the CPU figures refitted) "
        "left the counts as they were, took TPOT's median error from 5.2 % to 4.9 % (the A100 bursts of 40 and "
        "80 from -8.9/-8.4 % to -6.3/-7.5 %) and the H100 8B 10-request bursts' TTFT from 19-21 % to 20-22 %. "
        "Where it falls short: the 8B 10-request bursts on H100 are still 20-22 % late on TTFT and the fitted "
        "70B 10-request burst on 4 x A100 16 % early. One set of CPU figures serves hosts and days that "
        "differ: with the CPU figures at zero the 8B 10-request burst's median TTFT is 30.5 ms on H100 and "
        "91.4 ms on A100, leaving 31.7 ms of the 62.2 measured to the CPU on H100 against 47.7 of 139.1 ms on "
        "A100 (35.3 of 126.7 ms on the next day; 70B: 34 ms on 4 x H100, 101 and 51-60 ms on 4 x A100), and a "
        "10-step run of ten sequences "
        "spends about 14.5 ms beyond the catalog's GPU time on H100 against 18 ms on A100; simserve has no "
        "per-host CPU speed (no source gives these instances' CPU models). The H100 20-request burst's two "
        "clusters of first tokens, 3.5 ms apart (the first prefill step's at the second's end, the second's "
        "once the run has launched), put a run's CPU work before its first tokens at about 3.5 ms, where the "
        "fitted figures charge the step figure (10.4 ms) plus 0.19 ms a sequence: the step figure also "
        "stands for the prefill steps' CPU, which the data do not separate. Vidur's profiles do not explain "
        "the gap: the catalog's layer time is 8-12 % under them at a few hundred tokens on both GPUs alike.",
        "- **Held out** (vLLM 0.6.0, more runs of the same Lambda batch that the fit never saw): "
        f"{_within(outcomes, 'vllm-0.6.0-multistep', 0.15, held_out=True)}. The H100 8B 10-request bursts are "
        "late again, as in the fitted cases, and the 70B 80-request burst on 4 x A100 is early. The same A100 "
        "setups measured on the next day gave TTFT about 10 % lower (8B, 10 requests: 126.7 ms against 139.1 "
        "ms; 70B: 315 against 356 ms) while TPOT and every H100 run held: about 10 % is the day-to-day spread "
        "of these A100 TTFTs.",
        "- **vLLM V1** (0.8 and later, chunked prefill: simserve's default engine): no serving measurement "
        "with these models and GPUs was found transcribable (open rates or bursts with token counts); its "
        "step overhead comes from one published decode measurement (docs/llm-catalog.md) and its API-server "
        "time is vLLM 0.6's. Measurements of V1 belong in the data file next.",
        "",
        *first_tokens(outcomes),
        "",
        "## Sources",
        "",
        *[f"- {s}" for s in sources],
        "",
    ]
    DOC.write_text("\n".join(text))


def fit(engine: str, max_evals: int) -> None:
    """Refit ``engine``'s CPU figures to its cases (held out ones aside) through the catalog's own path: each
    trial replaces the figures in ``llm_catalog.ENGINES``, so each case's host factor applies as in any run."""
    from scipy.optimize import minimize

    cases: list[Case] = [c for c in load_cases() if c.engine["name"] == engine and not c.held_out]
    if not cases:
        sys.exit(f"no cases of engine {engine!r}")
    name = cases[0].engine["server"]
    server = llm_catalog.ENGINES[name]
    multi = server.scheduler_steps > 1  # a later step of a run pays in_run, and prompt tokens their own CPU
    fields = ["frontend_s", "step_s", "per_sequence_s"] + (["in_run_s", "prompt_token_s"] if multi else [])
    scale = np.array([1e-3, 1e-3, 1e-3, 1e-3, 1e-6][: len(fields)])  # ms, and µs per prompt token

    def errors(x: np.ndarray) -> float:
        trial = dataclasses.replace(server, **dict(zip(fields, (np.abs(x) * scale).tolist(), strict=True)))
        llm_catalog.ENGINES[name] = trial
        try:
            errs = []
            for case in cases:
                o = simulate_case(case)
                errs += [np.log(o.ttft_ms / case.ttft_ms), np.log(o.tpot_ms / case.tpot_ms)]
        finally:
            llm_catalog.ENGINES[name] = server
        return float(np.sum(np.square(errs)))

    x0 = np.array([getattr(server, f) for f in fields]) / scale
    x0 = np.where(x0 > 0, x0, 1.0)  # a figure at zero starts at 1 (ms or µs)
    r = minimize(errors, x0, method="Nelder-Mead", options={"maxfev": max_evals, "xatol": 0.005, "fatol": 1e-4})
    got = ", ".join(f"{f} {v:.4f}" for f, v in zip(fields, np.abs(r.x), strict=True))
    print(f"{engine}: {got} (ms; prompt_token_s in µs; squared log errors {r.fun:.4f})")


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
