"""The simulated engine against published serving measurements (issue #24; docs/llm-validation.md).

- The transcription: every case names its source, model, GPUs, engine and traffic; the ShareGPT sample
  adds up to the totals its file states; a burst's prompts are the sample's first N.
- Every case is simulated and compared with the published medians: SGLang's within 10 %, vLLM 0.6's
  within 15 % on TTFT and 13 % on TPOT (what docs/llm-validation.md reports; a change that makes a case
  worse than the envelope fails here), but for one run the data file marks an outlier. The issue's target,
  every case within 15 %, holds for all 51 others; the outlier (TTFT -39 %) is the one case past it.
- SGLang's client (its table's runs) sends ignore_eos: a reply whose first token is the model's end token (the
  prompts Lambda's runs got an empty reply for, 7 % of 8B's, 26 % of 70B's) has a first token without text, and
  the client's TTFT is its next output.
- vLLM 0.6's CPU time per sequence a run is measured from a burst's run times, not fitted.
- Lambda's bursts of 160 to 1,280 requests (held out) at its server's 1,024 sequences. vLLM V1 (0.20.1,
  AccelMark's A100 80GB testbed): the held-out Poisson run within 5 % (TTFT) and 7 % (TPOT).
- V1's per-step overhead (``STEP_OVERHEAD_S``) and intake latency (``V1_INTAKE_S``) are the ones that make the
  serial case's TPOT and TTFT the measured ones.
- Lambda's A100 testbed runs at its CPU speed, measured from its own per-token times.
- A burst's first token (transcribed for Lambda's bursts of 80 and more): at 80 requests within 10 % on the
  H100 testbed, later than the model on the A100 testbed; beyond 80 from 30 % early to 6 % late, as the doc
  reports.
- SGLang's table's end-to-end latencies: its eight runs' median request had a reply of 114-123 tokens, the
  validation's draws from Lambda's sample 140-160 (the doc says why the cases keep Lambda's lengths).
- The doc's tables are the ones these runs give.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from simserve import llm_catalog
from simserve.calibrate.llm_validation import (
    DEFAULT_PATH,
    Outcome,
    host_cpu,
    load_cases,
    measured_per_sequence_ms,
    median_reply,
    run_cpu_ms,
    simulate_case,
)
from simserve.safe_yaml import load_yaml

DOC = Path(__file__).resolve().parents[2] / "docs" / "llm-validation.md"
#: the accuracy docs/llm-validation.md reports, per engine: (TTFT, TPOT) largest relative error
ENVELOPE = {"sglang-0.3.0": (0.10, 0.10), "vllm-0.6.0-multistep": (0.15, 0.13), "vllm-0.20.1": (0.05, 0.07)}


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    return [simulate_case(c) for c in load_cases()]


def test_every_case_is_transcribed_with_its_source() -> None:
    cases = load_cases()
    assert len(cases) == 52
    assert sum(c.held_out for c in cases) == 32
    assert len({c.name for c in cases}) == len(cases)
    data = load_yaml(DEFAULT_PATH.read_text())
    sharegpt = data["datasets"]["sharegpt-llama3"]
    assert (len(sharegpt["input"]), sum(sharegpt["input"]), sum(sharegpt["output"])) == (1280, 283_459, 233_412)
    accel = data["datasets"]["accelmark-sharegpt-gpt4"]
    assert (len(accel["input"]), accel["template_tokens"], accel["output_each"]) == (300, 11, 346)
    for c in cases:
        assert c.source.startswith("https://github.com/"), c.name
        assert c.model in {"8b", "70b"} and c.gpu in {"A100", "H100"} and c.gpus in {1, 4}
        assert (c.model == "70b") == (c.gpus == 4)
        scale = c.requests / 80 if c.rate is None and c.requests > 80 else 1.0  # bursts beyond 80 queue longer
        assert 10 < c.ttft_ms < 3000 * scale and 5 < c.tpot_ms < 60 * scale, c.name  # a slip would fall outside
        if c.serial:  # AccelMark's one-at-a-time run: its first 150 prompts with the chat template
            assert c.rate is None and c.requests == 150
            assert list(c.inputs) == [i + 11 for i in accel["input"][:150]]
        elif c.rate is None:
            assert c.requests in {10, 20, 40, 80, 160, 320, 640, 1280} and len(c.outputs) == c.requests
            assert list(c.inputs) == sharegpt["input"][: c.requests]
            assert c.requests <= 80 or c.held_out  # the bursts beyond the issue's 80 are all held out
        elif c.runs:  # AccelMark's Poisson runs: its first 300 prompts, in order, three times
            assert (c.rate, c.runs, c.requests, len(c.inputs)) == (5.0, 3, 900, 300)
        else:
            assert c.rate in {4.0, 8.0} and c.requests == 300 * c.rate
            # SGLang's client: prompts of 4 tokens and more, ignore_eos; the prompts each model answered with its
            # end token first (Lambda's 1,280-prompt runs: 89 of 8B's replies, 328 of 70B's) have a silent first token
            assert c.ignore_eos and min(c.inputs) >= 4 and len(c.silent) == len(c.inputs) == 1280
            assert sum(c.silent) == {"8b": 89, "70b": 328}[c.model], c.name
    assert {c.engine["name"] for c in cases} == set(ENVELOPE)


def test_v1_figures_from_the_serial_run(outcomes: list[Outcome]) -> None:
    """One request at a time, a step decodes one sequence: the catalog's GPU work of it and vLLM V1's per-step
    overhead make the measured median TPOT (10.77 ms) to within 0.5 %; then the API server, the intake latency
    and one prefill step make its median TTFT (27.78 ms) to within 0.5 %. Without the intake the TTFT is 28 %
    short. The Poisson run, held out: within 5 % and 7 %."""
    serial = next(o for o in outcomes if o.case.serial)
    v1 = llm_catalog.ENGINES["vllm"]
    assert serial.case.engine["server"] == "vllm"
    assert (v1.step_s, v1.intake_s) == (llm_catalog.STEP_OVERHEAD_S, llm_catalog.V1_INTAKE_S)
    assert abs(serial.tpot_error) < 0.005 and abs(serial.ttft_error) < 0.005
    without = simulate_case(serial.case, overrides={"intake_per_request": 0})
    assert without.ttft_ms == pytest.approx(serial.ttft_ms - 1e3 * llm_catalog.V1_INTAKE_S, abs=1e-6)
    assert without.tpot_ms == pytest.approx(serial.tpot_ms, abs=1e-9)
    held = next(o for o in outcomes if o.case.runs)
    assert abs(held.ttft_error) < 0.05 and abs(held.tpot_error) < 0.07


def test_simulated_medians_within_the_reported_envelope(outcomes: list[Outcome]) -> None:
    """Every case but the one run the data file marks an outlier (with its reason, from the source's numbers)."""
    outliers = [o for o in outcomes if o.case.outlier]
    assert [o.case.name for o in outliers] == ["vllm060-70b-4xh100-burst160"]
    for o in outcomes:
        if o.case.outlier:
            continue
        ttft, tpot = ENVELOPE[o.case.engine["name"]]
        assert abs(o.ttft_error) <= ttft, (o.case.name, o.ttft_ms, o.case.ttft_ms)
        assert abs(o.tpot_error) <= tpot, (o.case.name, o.tpot_ms, o.case.tpot_ms)


def test_issue_target_every_case_within_15_percent(outcomes: list[Outcome]) -> None:
    """The issue's target: median TTFT and TPOT within 15 % in every case, and within 10 % in most. The one run
    past it is the one the data file marks an outlier, from the source's own numbers (its median TTFT no longer
    than the next larger burst's): it stays in every table, at TTFT -39 %."""
    past = [o.case.name for o in outcomes if max(abs(o.ttft_error), abs(o.tpot_error)) > 0.15]
    assert past == ["vllm060-70b-4xh100-burst160"]
    outlier = next(o for o in outcomes if o.case.outlier)
    assert outlier.ttft_error < -0.30 and abs(outlier.tpot_error) < 0.10
    within_10 = [o for o in outcomes if max(abs(o.ttft_error), abs(o.tpot_error)) <= 0.10]
    assert len(within_10) > 0.75 * len(outcomes)


def test_a_first_token_without_text_is_seen_at_the_next_output() -> None:
    """SGLang's client asks for ignore_eos and takes TTFT at the first chunk with text. A prompt the model answers
    with its end token first gets a first token without text, and its TTFT is the reply's next output: with
    vLLM 0.6's 10-step runs a run later, so the 70B Poisson runs (26 % of such prompts) are seen about 30 ms
    later at the median than their first tokens, the 8B's (7 %) 3 ms; SGLang's 70B, a step later, about 1 ms."""
    for name in ("vllm060-70b-4xh100-poisson4", "vllm060-8b-a100-poisson4", "sglang-70b-4xh100-poisson4"):
        case = next(c for c in load_cases() if c.name == name)
        seen = simulate_case(case)
        first = simulate_case(dataclasses.replace(case, silent=()))
        assert seen.e2e_ms == first.e2e_ms  # the same run: only what the client takes as the first token differs
        shift = seen.ttft_ms - first.ttft_ms
        low, high = {"vllm060-70b": (20, 45), "vllm060-8b-": (2, 8), "sglang-70b-": (0.5, 5)}[name[:11]]
        assert low < shift < high, (name, shift)


def test_vllm06_per_sequence_from_a_bursts_run_times() -> None:
    """The 741-token reply of the 8B 80-request burst on Lambda's H100 testbed came in 73 runs of 67 down to 2
    sequences (90.44 to 72.31 ms); less the catalog's GPU time, the least-squares line is 0.092 ms a sequence
    and 14.6 ms a run: the engine's figure is that slope, and its fitted fixed CPU a run is within 12 % of the
    intercept (10 % above it: the fit takes in SGLang's testbed, whose A100 host is slower). The same reply on
    the A100 testbed (its times to 0.1 ms) gives about 0.57 ms a sequence, more than its host speed says: the
    model does not carry that."""
    per_seq, per_run = measured_per_sequence_ms()
    assert per_seq == pytest.approx(0.092, abs=5e-4) and per_run == pytest.approx(14.6, abs=0.05)
    ms = llm_catalog.ENGINES["vllm-0.6-multistep"]
    assert ms.per_sequence_s == llm_catalog.VLLM06_PER_SEQUENCE_S == pytest.approx(per_seq / 1e3, abs=5e-7)
    assert 1e3 * (ms.step_s + 9 * ms.in_run_s) == pytest.approx(per_run, rel=0.12)
    run = load_yaml(DEFAULT_PATH.read_text())["decode_runs"]["lambda-h100-8b-burst80"]
    assert len(run["run_ms"]) == 73 and (run["run_ms"][0], run["run_ms"][-1]) == (90.44, 72.31)
    burst = next(c for c in load_cases() if c.name == run["case"])
    assert burst.outputs[run["reply"]] == 741 == 1 + 10 * (len(run["run_ms"]) + 1)


def test_lambdas_large_bursts_ran_at_1024_sequences(outcomes: list[Outcome]) -> None:
    """Lambda's bursts of 640 and 1,280 requests: with its server's --max-num-seqs 1024 within 12 %; at vLLM's
    default 256 the model's TPOT of the 1,280-request bursts is about half the published or less."""
    big = [o for o in outcomes if o.case.requests >= 640 and o.case.rate is None]
    assert len(big) == 8 and all(o.case.engine["max_batch"] == 1024 for o in big)
    for o in big:
        assert max(abs(o.ttft_error), abs(o.tpot_error)) <= 0.12, o.case.name
    at_256 = [simulate_case(o.case, overrides={"max_batch": 256}) for o in big if o.case.requests == 1280]
    assert all(-0.65 < a.tpot_error < -0.45 for a in at_256), [a.tpot_error for a in at_256]


def test_lambdas_a100_host_from_its_own_per_token_times() -> None:
    """Lambda's A100 testbed: the 8B 10-request burst's first 10-step run took 118.02 ms there and 75.26 ms on
    its H100 testbed; less the catalog's GPU time of the run (96.4 and 58.6 ms by hand: ten sequences, each step
    streaming the weights and attending to the context so far), 21.6 against 16.6 ms of CPU: 1.297. Every case
    of that testbed (1 x and 4 x A100) runs at it; every other at 1."""
    gpu_ms = {}
    for gpu in ("A100", "H100"):
        p = llm_catalog.MODELS["8b"][gpu]
        compute = 10 * (p.per_token_s + p.per_sampled_s)
        gpu_ms[gpu] = 1e3 * sum(
            math.hypot(p.weights_s, compute) + p.per_kv_token_s * (1369 + 10 * (1 + k)) for k in range(10)
        )
    assert gpu_ms["A100"] == pytest.approx(96.4, abs=0.1) and gpu_ms["H100"] == pytest.approx(58.6, abs=0.1)
    assert run_cpu_ms("A100", 118.02) == pytest.approx(118.02 - gpu_ms["A100"])
    assert run_cpu_ms("H100", 75.26) == pytest.approx(75.26 - gpu_ms["H100"])
    data = load_yaml(DEFAULT_PATH.read_text())
    lambda_a100 = host_cpu(data["hosts"]["lambda-a100"])
    assert (
        lambda_a100
        == pytest.approx((118.02 - gpu_ms["A100"]) / (75.26 - gpu_ms["H100"]))
        == pytest.approx(1.297, abs=0.001)
    )
    for c in load_cases():
        on_lambda_a100 = c.gpu == "A100" and "LambdaLabsML" in c.source
        assert c.host_cpu == (lambda_a100 if on_lambda_a100 else 1.0), c.name
    assert sum(c.host_cpu != 1.0 for c in load_cases()) == 22  # 14 up to 80 requests, 8 beyond


def test_first_tokens_are_the_large_bursts_earliest() -> None:
    """``first_token_ms`` is transcribed for Lambda's twenty bursts of 80 requests and more (four of each size),
    each before its median TTFT."""
    firsts = {c.name: c.first_token_ms for c in load_cases() if c.first_token_ms is not None}
    assert len(firsts) == 20
    for c in load_cases():
        if c.name in firsts:
            assert c.rate is None and c.requests >= 80
            assert 100 < (c.first_token_ms or 0) < c.ttft_ms, c.name


def test_a_bursts_first_token_on_the_h100_hosts(outcomes: list[Outcome]) -> None:
    """On Lambda's H100 testbed the frontend, the first prefill steps and the output rule put an 80-request
    burst's first token within 10 % of when the client saw it (8B: 259 against 266 ms; 70B on 4 x H100: 458
    against 440). On its A100 testbed, even at its measured CPU speed, the model is 19-31 % early: the intake
    of a burst there is slower still (docs/llm-validation.md)."""
    of80 = [o for o in outcomes if o.case.first_token_ms is not None and o.case.requests == 80]
    h100 = [o for o in of80 if o.case.gpu == "H100"]
    assert len(h100) == 2
    for o in h100:
        assert abs(o.first_token_error or 1.0) <= 0.10, (o.case.name, o.first_token_ms, o.case.first_token_ms)
    a100 = [o for o in of80 if o.case.gpu == "A100"]
    assert len(a100) == 2 and all((o.first_token_error or 0.0) < -0.15 for o in a100)
    # beyond 80 requests the model is early on both testbeds, but for one run a little late (its API server takes
    # each request in the time the small bursts give), the outlier run aside
    beyond = [o for o in outcomes if o.case.first_token_ms is not None and o.case.requests > 80]
    assert len(beyond) == 16
    for o in beyond:
        if not o.case.outlier:
            assert -0.30 < (o.first_token_error or 1.0) < 0.06, (o.case.name, o.first_token_ms, o.case.first_token_ms)


def test_sglang_tables_end_to_end_latencies(outcomes: list[Outcome]) -> None:
    """``e2e_ms`` is transcribed for the eight Poisson runs of SGLang's table. Their medians put the median
    request's reply at 114-123 tokens on both engines, rates and testbeds (SGLang's client's own sample); the
    simulated runs draw Lambda's (median 147), and their medians say 140-160: the end-to-end latency follows the
    reply lengths, simulated as the client measures it (to each request's last token)."""
    rows = [o for o in outcomes if o.case.e2e_ms is not None]
    assert sorted(o.case.name for o in rows) == sorted(
        f"{e}-{m}-poisson{r}" for e in ("sglang", "vllm060") for m in ("8b-a100", "70b-4xh100") for r in (4, 8)
    )
    for o in rows:
        published = median_reply(o.case.ttft_ms, o.case.tpot_ms, o.case.e2e_ms or 0.0)
        assert 110 < published < 125, (o.case.name, published)
        assert 140 < median_reply(o.ttft_ms, o.tpot_ms, o.e2e_ms) < 160, (o.case.name, o.e2e_ms)
        assert o.e2e_ms > o.ttft_ms + 100 * o.tpot_ms


def test_the_docs_table_is_what_these_runs_give(outcomes: list[Outcome]) -> None:
    text = DOC.read_text()
    for o in outcomes:
        c = o.case
        assert f"| {c.name}{' (held out)' if c.held_out else ''} | {c.engine['name']} |" in text
        assert f"| {c.ttft_ms:,.1f} ms | {o.ttft_ms:,.1f} ms |" in text, c.name
        assert f"| {c.tpot_ms:.2f} ms | {o.tpot_ms:.2f} ms |" in text, c.name
        if c.first_token_ms is not None:
            assert f"| {c.name} | {c.first_token_ms:,.1f} ms | {o.first_token_ms:,.1f} ms |" in text, c.name
        if c.e2e_ms is not None:
            assert f"| {c.name} | {c.e2e_ms:,.0f} ms | {o.e2e_ms:,.0f} ms |" in text, c.name


def test_same_seed_same_medians() -> None:
    case = next(c for c in load_cases() if c.rate is not None)
    a, b = simulate_case(case, seed=3), simulate_case(case, seed=3)
    assert (a.ttft_ms, a.tpot_ms) == (b.ttft_ms, b.tpot_ms)
    assert simulate_case(case, seed=4).ttft_ms != a.ttft_ms  # the seed draws the traffic
