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
from simserve.calibrate.llm_validation import (
    Case,
    Outcome,
    load_cases,
    measured_per_sequence_ms,
    median_reply,
    simulate_case,
)

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


#: why a case misses the issue's 15 %, where the measurements say (case name -> reason)
WHY = {
    "vllm060-8b-a100-len4096-burst10": "Lambda's A100 of the second day, 10 % faster than the first day's "
    "with the same setup; the fit sees the first day's",
}


def _misses(outcomes: list[Outcome], engine: str) -> list[str]:
    """One line per case of ``engine`` with TTFT or TPOT beyond 15 %, with its errors and what is known of why."""
    out = []
    for o in outcomes:
        if o.case.engine["name"] == engine and max(abs(o.ttft_error), abs(o.tpot_error)) > 0.15:
            why = o.case.outlier or WHY.get(o.case.name, "not explained")
            held = " (held out)" if o.case.held_out else ""
            out.append(f"{o.case.name}{held}: TTFT {_pct(o.ttft_error)}, TPOT {_pct(o.tpot_error)}: {why}.")
    return out or ["every case within 15 %."]


def first_tokens(outcomes: list[Outcome]) -> list[str]:
    """The section on a burst's first token: the published and simulated times, what they show of the hosts,
    and the model changes tried against the last misses, with the largest error each left."""
    rows = [o for o in outcomes if o.case.first_token_ms is not None]
    beyond = [o.first_token_error or 0.0 for o in rows if o.case.requests > 80 and not o.case.outlier]
    frontend_ms = 1e3 * llm_catalog.ENGINES["vllm-0.6-multistep"].frontend_s
    a100_host = next(o.case.host_cpu for o in rows if o.case.gpu == "A100")
    lines = [
        "## The first token of a burst, and the hosts",
        "",
        "For Lambda's bursts of 80 requests and more the source files also give each request's TTFT; the "
        "earliest of them is when the burst's first prefill output reached the client (`first_token_ms` in the "
        "data file). The same software (vLLM 0.6.0, `--num-scheduler-steps 10`), the sample's first prompts, "
        "runs of the same day (2024-09-07), one model and GPU count apiece:",
        "",
        "| case | first token published | simulated | error | median TTFT error |",
        "|---|---|---|---|---|",
        *[
            f"| {o.case.name} | {o.case.first_token_ms:,.1f} ms | {o.first_token_ms:,.1f} ms "
            f"| {_pct(o.first_token_error or 0.0)} | {_pct(o.ttft_error)} |"
            for o in rows
        ],
        "",
        "- **On Lambda's H100 testbed the model puts a burst's first token where it was** (within 4 %). On its "
        "A100 testbed the client saw it about 215 ms later than the model, even with the testbed's measured "
        "CPU speed. Before that first token the GPU runs one or two prefill steps (the catalog's 2,048-token "
        "step: 142 ms for 8B on A100, about 400 ms for 70B on 4 x A100); no error of a plausible size in them "
        "makes a fifth of a second, and the 8B bursts' first prefill step held as much on both GPUs (8 "
        "prompts, 1,829 tokens on A100; 5 prompts, 1,842 tokens on H100). The A100 testbed took that much "
        "longer to take a burst of 80 from the client into the engine, more than its engine's CPU speed "
        "says.",
        f"- **Bursts beyond 80 requests**: the model's first token comes {_pct(max(beyond))} to "
        f"{_pct(min(beyond))} off on both testbeds (the outlier run aside). The measured first token grows by "
        "about 2.5 ms a request on the 8B H100 testbed (266 ms at 80 requests, 3,258 at 1,280) and 2.9 ms on "
        "the 8B A100 testbed, where the model's API server, fitted to the bursts of 10 to 80, takes "
        f"{frontend_ms:.2f} ms a request ({frontend_ms * a100_host:.2f} on the A100 host): taking in "
        "a larger burst costs the server more a request than taking in a small one. The medians hold (the "
        "table above), since a large burst's median request waits mostly for the engine.",
        "- **The engine's own CPU work**, with no TTFT in it: the first 10-step run of the 8B 10-request "
        "burst lasts 118.0 ms on A100, of which the catalog's GPU time is 96.4 ms, and 75.3 ms on H100, of "
        "which 58.6 ms: 21.6 against 16.6 ms of CPU, the 1.297 the validation runs the A100 testbed at.",
        "- **And the same A100 setup on another day**: the 8B 10-request burst's median TTFT was 139.1 ms on "
        "2024-09-07 and 124.5-126.7 ms on 2024-09-08; 70B on 4 x A100 356.1 against 306.1-315.2 ms; every "
        "H100 run held within 1 %.",
        "",
        "### What the model took from the misses, and what it did not",
        "",
        "The model took three changes, each from a measurement rather than the medians above, with the CPU "
        "figures refitted: Vidur's layer times at serving sizes and each deployment's own tensor-parallel "
        "split (docs/llm-catalog.md), the A100 testbed's CPU speed from its per-token times, and a CPU cost "
        "per prompt token. Together they took vLLM 0.6's worst case down from 21.9 %, its TTFT within "
        "15 % from 25 to 28 of 30 cases and its median TTFT error from 7.1 % to 4.9 %; later the measured "
        "cost per sequence and SGLang's client's first token (above) took the rest. Tried and not kept (the "
        "largest error each left, measured on the model of the time):",
        "",
        "- The A100 host speed for every A100 run, by GPU type (SGLang's benchmark's too): SGLang's four runs "
        "went from within 8 % to 14.4 %. A host's speed belongs to the testbed, not to the GPU, so the catalog "
        "has no per-GPU host figure; `workload.service.host_cpu` is the user's.",
        "- H100's NVLink bandwidth from its datasheet (450 GB/s a direction at 2/3, 300 GB/s, where the "
        "catalog gives both GPUs A100's 200 GB/s): alone, nothing refitted, it took the 70B 4 x H100 Poisson "
        "8/s and 80-request burst to -17 %; with a 22 µs all-reduce, 25 %.",
        "- Fitting the CPU figures for the target (the largest error, an L8 norm of the log errors) instead of "
        "least squares: the worst case did not come under 15 % (17.4 % fitted, 19.8 % held out, measured "
        "before this version's changes).",
        "- A run's CPU work before its held output as a figure of its own, at the 4.5 ms Lambda's per-token "
        "times show: 19 %.",
        "- Each 80-request burst replayed in the order the server took its requests (the order of their first "
        "tokens): the 8B A100 burst went from -13 % to -22 %; the order is not the cause.",
    ]
    return lines


def end_to_end(outcomes: list[Outcome]) -> list[str]:
    """The section on the end-to-end latencies SGLang's table also gives: published and simulated, and the reply
    length of the median request each implies (``median_reply``), which shows the sample's replies differ."""
    rows = [o for o in outcomes if o.case.e2e_ms is not None]
    published = [median_reply(o.case.ttft_ms, o.case.tpot_ms, o.case.e2e_ms or 0.0) for o in rows]
    simulated = [median_reply(o.ttft_ms, o.tpot_ms, o.e2e_ms) for o in rows]
    drawn = [o for o in rows[0].case.outputs if o >= 4]
    return [
        "## The end-to-end latencies of SGLang's table",
        "",
        "SGLang's table also gives each Poisson run's median end-to-end latency (`e2e_ms` in the data file). "
        "Together with its median TTFT and TPOT it says how long the median request's reply was: "
        "(E2E - TTFT) / TPOT + 1 tokens.",
        "",
        "| case | E2E published | simulated | error | reply of the median request, published | simulated |",
        "|---|---|---|---|---|---|",
        *[
            f"| {o.case.name} | {o.case.e2e_ms:,.0f} ms | {o.e2e_ms:,.0f} ms | {_pct(o.e2e_error or 0.0)} "
            f"| {p:.0f} tokens | {q:.0f} tokens |"
            for o, p, q in zip(rows, published, simulated, strict=True)
        ],
        "",
        f"The eight published runs put the median request's reply at {min(published):.0f}-{max(published):.0f} "
        f"tokens, both engines at both rates on both testbeds; the simulated runs at {min(simulated):.0f}-"
        f"{max(simulated):.0f}. The end-to-end latencies differ by the requests, not the engines: SGLang's "
        "client (`sglang.bench_serving`, seed 1, `ignore_eos`) sends its own ShareGPT sample, each reply its "
        "completion's whole length, and the validation draws these cases' lengths from Lambda's sample "
        f"(replies of 4 tokens and more: median {np.median(drawn):.0f}, mean {np.mean(drawn):.0f} tokens). "
        "The means agree (SGLang's offline run of the same client, 5,000 prompts: 4,132.37 tokens/s over "
        "21.27 requests/s = 194.3 tokens a reply), and the load, which sets TTFT and TPOT, follows the mean; "
        "the medians do not. No file of that sample's lengths is published, so the cases keep Lambda's.",
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
        f"| {f'{e.intake_s * 1e3:.2f} ms' if e.intake_s else '-'} "
        f"| {e.step_s * 1e3:.2f} ms | {e.per_sequence_s * 1e3:.3f} ms "
        f"| {f'{e.in_run_s * 1e3:.3f} ms' if e.scheduler_steps > 1 else '-'} "
        f"| {f'{e.prompt_token_s * 1e6:.2f} µs' if e.prompt_token_s else '-'} |"
        for name, e in llm_catalog.ENGINES.items()
        if name in engines or name == "vllm"
    ]
    sources = sorted({o.case.source for o in outcomes})
    per_seq, per_run = measured_per_sequence_ms()
    big = [o for o in outcomes if o.case.rate is None and o.case.requests >= 640]
    big_worst = max(max(abs(o.ttft_error), abs(o.tpot_error)) for o in big)
    tpot256 = [simulate_case(o.case, overrides={"max_batch": 256}).tpot_error for o in big if o.case.requests == 1280]
    ms_engine = llm_catalog.ENGINES["vllm-0.6-multistep"]
    v1 = llm_catalog.ENGINES["vllm"]
    serial = next(o.case for o in outcomes if o.case.serial)
    silent = {o.case.model: 100 * sum(o.case.silent) / len(o.case.silent) for o in outcomes if o.case.silent}
    silent_8b, silent_70b = silent["8b"], silent["70b"]
    fixed = 1e3 * (ms_engine.step_s + (ms_engine.scheduler_steps - 1) * ms_engine.in_run_s)
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
        "takes the medians as the client does (below: which first token each client counts).",
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
        "`simserve.llm_catalog`: Vidur's operator profiles of A100 and H100 and the model's architecture, at "
        "the sizes serving steps run (each deployment's own tensor-parallel split; prefill steps of 512-2,048 "
        "tokens) (docs/llm-catalog.md). Nothing in it was fitted to these cases, except the NVLink all-reduce "
        "latency (30 µs), chosen on the 70B cases.",
        "- **The hosts**: Lambda's A100 testbed runs the serving engine's CPU work at 1.297 times its H100 "
        "testbed's time, measured from its own per-token times (the data file's `hosts`: the same 10-step run "
        "took 118.0 ms on A100 and 75.3 ms on H100, of which the catalog's GPU time is 96.4 and 58.6 ms); every "
        "other case runs at 1 (`workload.service.host_cpu`).",
        f"- **vLLM 0.6's CPU time per sequence a run**, {per_seq:.3f} ms, is measured on Lambda's H100 testbed: "
        "the 741-token reply of the 8B 80-request burst came in 73 runs of 10 tokens, from 67 sequences "
        "(90.4 ms) down to 2 (72.3 ms); less the catalog's GPU time of each run, a least-squares line gives "
        f"{per_seq:.3f} ms a sequence and {per_run:.1f} ms a run besides (the fitted step and later steps "
        f"make {fixed:.1f} ms a run). On Lambda's A100 testbed the same reply's runs give about "
        "0.57 ms a sequence, more than its CPU speed (1.3) says: a cost of that testbed the model does not "
        "carry; its bursts' TPOT still comes within 15 %. This figure was fitted before (0.264 ms, between "
        "the two testbeds): measured, it takes the 8B H100 80-request burst's TPOT from +15.7 % to within "
        "10 % and the held-out cases' median TPOT error from 6.2 % to 3.2 %.",
        "- **The clients**: each case's medians are taken as its source's client took them. vLLM's "
        "`benchmark_serving.py` (Lambda's runs) lets a reply "
        "stop at the model's end token; a reply the client saw no text of counts TTFT 0. SGLang's "
        "`bench_serving` (its table's runs) drops prompts under 4 tokens, sends `ignore_eos` (every reply runs "
        "its whole length) and takes TTFT at the first chunk with text (`ignore_eos: true` in the data file). "
        "Where the model's first token is its end token, that token carries no text, and the client's TTFT is "
        "the reply's next output: with vLLM 0.6's 10-step runs, a run later. Lambda's runs of the same 1,280 "
        f"prompts say which prompts those are, for each model: {silent_8b:.1f} % of 8B's replies and "
        f"{silent_70b:.1f} % of 70B's were empty (the data file's `replies`; Llama 3, where SGLang's ran 3.1). "
        "Without that rule vLLM's Poisson runs on SGLang's testbed came out 15-20 % short on TTFT; a quarter of "
        "the 70B's requests seen a run late moves the median by about 30 ms.",
        "- **The serving engine's software** (`workload.service.server`): its scheduler is the version's "
        "published defaults and the flags the source gives; its CPU figures (API-server time per request, "
        "per step, per sequence; with multi-step runs also each later step's own launch and each prompt "
        "token's preparation) are fitted once per engine to that engine's cases, by `python "
        "benchmarks/bench_llm_validation.py --fit ENGINE` (Nelder-Mead on the log errors). Three figures per "
        "engine (four with multi-step, whose cost per sequence a run is measured instead: the slope of a "
        "burst's run times on the reference testbed, below), not per case: the errors above are in-sample for "
        "those, except the cases marked held out, which the fit never sees. vLLM V1 takes two figures from its "
        "serial case, each from one measured median: the per-step overhead that makes its TPOT the measured one "
        "(`simserve.llm_catalog.STEP_OVERHEAD_S`) and the intake latency that then makes its TTFT the measured "
        "one (`V1_INTAKE_S`: every request's way between the API server and V1's engine core, a process of its "
        "own, beside the others'); its API-server frontend is vLLM 0.6's first fit.",
        "",
        "| server | engine | scheduler | token budget | steps per run | frontend per request "
        "| intake per request | per step | per sequence | later step of a run | per prompt token |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
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
        "once a run, each later step's launch apart), its input preparation (CPU time per prompt token), its "
        "API server (one request at a time; a burst reaches the engine once the server has parsed it whole) "
        "and its asynchronous output processor as vLLM 0.6.0's code runs it: a step's outputs are processed "
        "(`LLMEngine._process_model_outputs`, called back from `MultiStepModelRunner.execute_model` once the "
        "next step's GPU work is launched) and reach the client when that next step's engine call returns to "
        "the event loop (`AsyncStream.put` from the executor thread wakes nothing). A prefill-only step, or a "
        "run's last step, returns only when its GPU work is done (it reads the sampled tokens), so the first "
        "tokens of one prefill step followed by another come out at the second's end; the first step of a "
        "10-step run returns once it has launched, so first tokens followed by a run come out when the run's "
        "CPU work is done, before its GPU work. Lambda's per-token times show it: from the first token to the "
        "next ten the gap is as long as each later one (75.3 ms against 73-75 ms on H100, 118.0 against "
        "116-118 ms on A100). The last tokens of a run's last step are held the same way (within a run "
        "`_process_model_outputs` makes a request's output only for sequences that finished): the replies of "
        "9, 3 and 6 tokens got their rest 71.0-71.2 ms after their first token on H100, the others theirs "
        "4.2 ms later, when the next run had launched. Where it falls short:",
        *[f"  - {line}" for line in _misses(outcomes, "vllm-0.6.0-multistep")],
        "- **Held out** (vLLM 0.6.0, more runs of the same Lambda batch that the fit never saw: other context "
        "lengths, and bursts of 160 to 1,280 requests, beyond the issue's 80): "
        f"{_within(outcomes, 'vllm-0.6.0-multistep', 0.15, held_out=True)}. The same A100 setups measured on "
        "the next day gave TTFT about 10 % lower than on the first (8B, 10 requests: 124.5-126.7 ms against "
        "139.1 ms; 70B: 306-315 against 356 ms) while TPOT and every H100 run held: about 10 % is the "
        "day-to-day spread of these A100 TTFTs, and the fit sees the first day's. The large bursts need one "
        "fact of Lambda's setup: its benchmark.py starts the server with `--max-num-seqs 1024` (an earlier "
        "version of the script passed nothing, leaving vLLM's 256). The bursts of 640 and 1,280 requests say "
        "which ran: at 256 sequences the simulated TPOT of the 1,280-request bursts is "
        f"{-100 * max(tpot256):.0f}-{-100 * min(tpot256):.0f} % short, at 1,024 every one of the eight is within "
        f"{100 * big_worst:.0f} %. The cases say so (`max_batch: 1024`; nothing up to 256 requests depends on it).",
        "- **vLLM V1** (vLLM 0.20.1, chunked prefill: simserve's default engine `vllm`), from AccelMark's "
        "A100 80GB testbed (an AMD EPYC 7742 host; vLLM in-process, so its scheduler runs at the engine "
        "context's defaults, 2,048 tokens a step and 128 sequences): "
        f"{_within(outcomes, 'vllm-0.20.1', 0.10)}. Two figures are set from its serial run: the per-step "
        f"overhead, {1e3 * v1.step_s:.3f} ms, from its TPOT (the catalog's GPU time of a decode step is "
        f"{serial.tpot_ms - 1e3 * v1.step_s:.2f} ms of the {serial.tpot_ms:.2f}), and the intake latency, "
        f"{1e3 * v1.intake_s:.2f} ms, from its TTFT: V1's first token comes that much later than its API "
        f"server's time (vLLM 0.6's first fit, {1e3 * v1.frontend_s:.2f} ms) and the prompt's one prefill step "
        "make it, since V1's engine core is "
        "a process of its own (each request crosses to it, its outputs cross back and are detokenized). The "
        "model puts that latency on each request's way in, beside every other request's: it lengthens TTFT and "
        "leaves TPOT and a burst's queue alone, where a longer serial frontend (9.46 ms fits both cases as "
        "well) would queue a burst of 80 for 0.76 s. Held out: the same prompts at Poisson 5/s, TTFT and TPOT "
        "within 7 %; the same testbed's 30-minute run with 8 requests in flight, 712 tokens/s, is 709 by the "
        "catalog's closed-loop rate (`EngineProfile.closed_loop_tokens_per_s`, docs/llm-catalog.md). Its 25 "
        "and 100/s runs are not cases: the engine is past its capacity there (TTFT p90 4.3 and 10.2 s) and the "
        "median TTFT sits on the edge of the queue (75 ms at 25/s); the model gives their TPOT (22.3 ms at "
        "25/s) within 6 %. Where it falls short:",
        *[f"  - {line}" for line in _misses(outcomes, "vllm-0.20.1")],
        "",
        *first_tokens(outcomes),
        "",
        *end_to_end(outcomes),
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
    # with multi-step runs the cost per sequence is measured from a burst's run times (per_sequence_ms), not fitted
    fields = ["frontend_s", "step_s"] + (["in_run_s", "prompt_token_s"] if multi else ["per_sequence_s"])
    scale = np.array([1e-6 if f == "prompt_token_s" else 1e-3 for f in fields])  # ms, and µs per prompt token

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
