"""The simulated engine against published serving measurements (issue #24; docs/llm-validation.md).

- The transcription: every case names its source, model, GPUs, engine and traffic; the ShareGPT sample
  adds up to the totals its file states; a burst's prompts are the sample's first N.
- Every case is simulated and compared with the published medians: SGLang's within 10 %, vLLM 0.6's
  within 14 % on TPOT and 21 % on TTFT (what docs/llm-validation.md reports: of the 19 cases the CPU
  figures were fitted to, 17 within 15 % on TTFT and 19 on TPOT; of the 15 held-out ones, 12 and 15; a
  change that makes a case worse than the envelope fails here). The issue's target, every case within
  15 %, is not met by the 8B 10-request bursts on H100 (fitted and held out, +19..+21 %), the fitted 70B
  10-request burst on 4 x A100 (-16 %) and one held-out 80-request burst on 4 x A100 (-19 %): a strict
  xfail says so and turns into a failure the day it is met, so the docs and this file change.
- A burst's first token (transcribed for the four 80-request bursts): within 10 % on the H100 hosts, a
  quarter of a second later than the model on the A100 hosts, as the doc reports.
- The doc's tables are the ones these runs give.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simserve.calibrate.llm_validation import DEFAULT_PATH, Outcome, load_cases, simulate_case
from simserve.safe_yaml import load_yaml

DOC = Path(__file__).resolve().parents[2] / "docs" / "llm-validation.md"
#: the accuracy docs/llm-validation.md reports, per engine: (TTFT, TPOT) largest relative error
ENVELOPE = {"sglang-0.3.0": (0.10, 0.10), "vllm-0.6.0-multistep": (0.22, 0.14)}


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    return [simulate_case(c) for c in load_cases()]


def test_every_case_is_transcribed_with_its_source() -> None:
    cases = load_cases()
    assert len(cases) == 34
    assert sum(c.held_out for c in cases) == 15
    assert len({c.name for c in cases}) == len(cases)
    data = load_yaml(DEFAULT_PATH.read_text())
    sharegpt = data["datasets"]["sharegpt-llama3"]
    assert (len(sharegpt["input"]), sum(sharegpt["input"]), sum(sharegpt["output"])) == (1280, 283_459, 233_412)
    for c in cases:
        assert c.source.startswith("https://github.com/"), c.name
        assert c.model in {"8b", "70b"} and c.gpu in {"A100", "H100"} and c.gpus in {1, 4}
        assert (c.model == "70b") == (c.gpus == 4)
        assert 10 < c.ttft_ms < 3000 and 5 < c.tpot_ms < 60, c.name  # a transcription slip would fall outside
        if c.rate is None:
            assert 10 <= c.requests <= 80 and len(c.outputs) == c.requests
            assert list(c.inputs) == sharegpt["input"][: c.requests]
        else:
            assert c.rate in {4.0, 8.0} and c.requests == 300 * c.rate
            assert min(c.inputs) >= 2 and min(c.outputs) >= 2  # the clients' sampling filter
    assert {c.engine["name"] for c in cases} == set(ENVELOPE)


def test_simulated_medians_within_the_reported_envelope(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        ttft, tpot = ENVELOPE[o.case.engine["name"]]
        assert abs(o.ttft_error) <= ttft, (o.case.name, o.ttft_ms, o.case.ttft_ms)
        assert abs(o.tpot_error) <= tpot, (o.case.name, o.tpot_ms, o.case.tpot_ms)


@pytest.mark.xfail(
    strict=True, reason="vLLM 0.6.0: 8B H100 10-request bursts 20-22 % high, 70B 4xA100 bursts of 10 and 80 16-19 % low"
)
def test_issue_target_every_case_within_15_percent(outcomes: list[Outcome]) -> None:
    worst = max(max(abs(o.ttft_error), abs(o.tpot_error)) for o in outcomes)
    assert worst <= 0.15


def test_first_tokens_are_the_80_request_bursts_earliest() -> None:
    """``first_token_ms`` is transcribed for the four 80-request bursts, each before its median TTFT."""
    firsts = {c.name: c.first_token_ms for c in load_cases() if c.first_token_ms is not None}
    assert len(firsts) == 4
    for c in load_cases():
        if c.name in firsts:
            assert c.rate is None and c.requests == 80
            assert 100 < (c.first_token_ms or 0) < c.ttft_ms, c.name


def test_a_bursts_first_token_on_the_h100_hosts(outcomes: list[Outcome]) -> None:
    """Where the host is not the cause (docs/llm-validation.md), the frontend, the first prefill steps and the
    output rule put an 80-request burst's first token within 10 % of when the client saw it (8B: 270 against
    266 ms; 70B on 4 x H100: 465 against 440). The A100 hosts' runs are 25-38 % later than the model: the
    doc's evidence that their misses are the hosts'."""
    h100 = [o for o in outcomes if o.case.first_token_ms is not None and o.case.gpu == "H100"]
    assert len(h100) == 2
    for o in h100:
        assert abs(o.first_token_error or 1.0) <= 0.10, (o.case.name, o.first_token_ms, o.case.first_token_ms)
    a100 = [o for o in outcomes if o.case.first_token_ms is not None and o.case.gpu == "A100"]
    assert all((o.first_token_error or 0.0) < -0.2 for o in a100)


def test_the_docs_table_is_what_these_runs_give(outcomes: list[Outcome]) -> None:
    text = DOC.read_text()
    for o in outcomes:
        c = o.case
        assert f"| {c.name}{' (held out)' if c.held_out else ''} | {c.engine['name']} |" in text
        assert f"| {c.ttft_ms:,.1f} ms | {o.ttft_ms:,.1f} ms |" in text, c.name
        assert f"| {c.tpot_ms:.2f} ms | {o.tpot_ms:.2f} ms |" in text, c.name
        if c.first_token_ms is not None:
            assert f"| {c.name} | {c.first_token_ms:,.1f} ms | {o.first_token_ms:,.1f} ms |" in text, c.name


def test_same_seed_same_medians() -> None:
    case = next(c for c in load_cases() if c.rate is not None)
    a, b = simulate_case(case, seed=3), simulate_case(case, seed=3)
    assert (a.ttft_ms, a.tpot_ms) == (b.ttft_ms, b.tpot_ms)
    assert simulate_case(case, seed=4).ttft_ms != a.ttft_ms  # the seed draws the traffic
