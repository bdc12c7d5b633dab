"""Published trace formats (simserve.traceformats): exact arrays from hand-written fixtures, one-line
errors for each kind of bad input, and the shipped Azure LLM 2023 conversation trace."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from simserve.scenario import ScenarioError
from simserve.traceformats import FORMATS, TraceData, read_formatted_trace

DATA = Path(__file__).resolve().parents[1] / "data" / "traces"
REAL = Path(__file__).resolve().parents[2] / "scenarios" / "traces" / "azure-llm-2023-conv.csv"


def _eq(actual: np.ndarray | None, expected: list[float] | list[int], dtype: type) -> None:
    assert actual is not None
    assert actual.dtype == dtype
    assert actual.tolist() == expected


def test_formats_are_documented() -> None:
    assert list(FORMATS) == ["azure-llm", "burstgpt", "mooncake", "azure-functions-2021", "azure-functions-2019"]
    docs = (Path(__file__).resolve().parents[2] / "docs" / "traces.md").read_text()
    for name in FORMATS:
        assert f"`{name}`" in docs


def test_azure_llm_2023_sorts_stably_and_keeps_7_fractional_digits() -> None:
    t = read_formatted_trace(DATA / "azure-llm-2023.csv", "azure-llm")
    _eq(t.arrival_s, [0.0, 1.3194101, 4.314579, 60.0], np.float64)
    _eq(t.input_tokens, [374, 0, 396, 1200], np.int64)
    _eq(t.output_tokens, [44, 7, 109, 3], np.int64)
    assert t.service_s is None
    assert len(t) == 4


def test_azure_llm_2024_utc_offsets() -> None:
    t = read_formatted_trace(DATA / "azure-llm-2024.csv", "azure-llm")
    _eq(t.arrival_s, [0.0, 1.5, 2.0], np.float64)
    _eq(t.input_tokens, [4808, 3180, 110], np.int64)
    _eq(t.output_tokens, [10, 8, 27], np.int64)


def test_burstgpt() -> None:
    t = read_formatted_trace(DATA / "burstgpt.csv", "burstgpt")
    _eq(t.arrival_s, [0.0, 15.5, 40.0, 105.25], np.float64)
    _eq(t.input_tokens, [472, 417, 1087, 10], np.int64)
    _eq(t.output_tokens, [18, 505, 0, 20], np.int64)
    assert t.service_s is None


def test_mooncake_milliseconds_and_blank_lines() -> None:
    t = read_formatted_trace(DATA / "mooncake.jsonl", "mooncake")
    _eq(t.arrival_s, [0.0, 0.0, 1.5, 3.052], np.float64)
    _eq(t.input_tokens, [6755, 7319, 100, 2287], np.int64)
    _eq(t.output_tokens, [500, 490, 1, 316], np.int64)


def test_azure_functions_2021_arrival_is_end_minus_duration() -> None:
    t = read_formatted_trace(DATA / "azure-functions-2021.csv", "azure-functions-2021")
    _eq(t.arrival_s, [0.0, 0.375, 1.375, 39.375], np.float64)
    _eq(t.service_s, [0.125, 0.25, 0.0, 42.5], np.float64)
    assert t.input_tokens is None and t.output_tokens is None


def _spread(seed: int, minutes: list[int]) -> list[float]:
    """What the 2019 reader draws: one uniform offset per invocation, in minute order, sorted."""
    u = np.random.default_rng(seed).random(len(minutes))
    times = np.sort(np.asarray(minutes, dtype=np.float64) * 60.0 + u * 60.0)
    result: list[float] = (times - times[0]).tolist()
    return result


def test_azure_functions_2019_selects_and_spreads_within_minutes() -> None:
    path = DATA / "azure-functions-2019.csv"
    one = read_formatted_trace(path, "azure-functions-2019", function="fA", rng=np.random.default_rng(7))
    assert one.arrival_s.tolist() == _spread(7, [1, 1, 4])
    top1 = read_formatted_trace(path, "azure-functions-2019", rng=np.random.default_rng(7))  # fB: 5 invocations
    assert top1.arrival_s.tolist() == _spread(7, [0, 1, 2, 3, 4])
    top2 = read_formatted_trace(path, "azure-functions-2019", top=2, rng=np.random.default_rng(7))
    assert top2.arrival_s.tolist() == _spread(7, [0, 1, 1, 1, 2, 3, 4, 4])
    assert top2.service_s is None and top2.input_tokens is None
    everything = read_formatted_trace(path, "azure-functions-2019", top=99, rng=np.random.default_rng(7))
    assert len(everything) == 8
    # each invocation stays inside its minute: fA's first two lie in [60, 120), its last in [240, 300)
    raw = np.sort(np.array([60.0, 60.0, 240.0]) + np.random.default_rng(3).random(3) * 60.0)
    again = read_formatted_trace(path, "azure-functions-2019", function="fA", rng=np.random.default_rng(3))
    assert again.arrival_s.tolist() == (raw - raw[0]).tolist()


def test_the_shipped_azure_llm_2023_conversation_trace() -> None:
    start = time.perf_counter()
    t = read_formatted_trace(REAL, "azure-llm")
    elapsed = time.perf_counter() - start
    assert isinstance(t, TraceData)
    assert len(t) == 19_366
    assert t.arrival_s[0] == 0.0 and bool(np.all(np.diff(t.arrival_s) >= 0))
    assert t.arrival_s[-1] == pytest.approx(3501.721937, abs=1e-9)  # 18:15:46.68 .. 19:14:08.40
    assert t.arrival_s[1] == 4.314579
    assert t.input_tokens is not None and t.output_tokens is not None
    assert int(t.input_tokens.sum()) == 22_361_870
    assert int(t.output_tokens.sum()) == 4_088_665
    assert elapsed < 2.0, f"read in {elapsed:.2f} s"  # bound holds under load: 2 s for a read of 0.1 s idle
    readme = (REAL.parent / "README.md").read_text()
    assert "CC-BY 4.0" in readme and "Splitwise" in readme


AZ = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
BG = "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
F21 = "app,func,end_timestamp,duration\n"
F19 = "HashOwner,HashApp,HashFunction,Trigger,1,2,3\n"

BAD = [
    ("azure-llm", "", "line 1: expected a CSV header with columns TIMESTAMP,ContextTokens,GeneratedTokens; got ''"),
    ("azure-llm", AZ, "expected at least one row after the header"),
    ("azure-llm", "TIMESTAMP,ContextTokens\n2023-11-16 18:15:46,1\n", "line 1: expected a CSV header with columns"),
    (
        "azure-llm",
        AZ + "2023-11-16 18:15:46,-3,4\n",
        "line 2, column ContextTokens: expected a whole number >= 0; got '-3'",
    ),
    (
        "azure-llm",
        AZ + "2023-11-16 18:15:46,3,x\n",
        "line 2, column GeneratedTokens: expected a whole number >= 0; got 'x'",
    ),
    (
        "azure-llm",
        AZ + "2023-11-16 18:15:46,3,nan\n",
        "line 2, column GeneratedTokens: expected a whole number >= 0; got 'nan'",
    ),
    ("azure-llm", AZ + "2023-11-16 18:15:46,3,4\nyesterday,1,2\n", "line 3, column TIMESTAMP: expected a date-time"),
    (
        "azure-llm",
        AZ + "2023-11-16 18:15:46,3,4\n2023-02-30 18:15:46,1,2\n",
        "line 3, column TIMESTAMP: expected a valid date-time; got '2023-02-30 18:15:46'",
    ),
    (
        "azure-llm",
        AZ + "2023-11-16 18:15:46,3\n",
        "line 2, column GeneratedTokens: expected a whole number >= 0; got ''",
    ),
    (
        "azure-llm",
        AZ + "2023-11-16 18:15:46,3,4\n2023-11-16 18:15:46,3," + "4" * 200_000 + "\n",
        "line 3: expected CSV (field larger than field limit",
    ),
    (
        "burstgpt",
        BG + "5,ChatGPT,1,2,3,API log\ninf,ChatGPT,1,2,3,API log\n",
        "line 3, column Timestamp: expected a finite number; got 'inf'",
    ),
    (
        "burstgpt",
        BG + "5,ChatGPT,1.5,2,3,API log\n",
        "line 2, column Request tokens: expected a whole number >= 0; got '1.5'",
    ),
    (
        "burstgpt",
        "Timestamp,Model,Request tokens\n1,a,2\n",
        "line 1: expected a CSV header with columns Timestamp,Request tokens,Response tokens",
    ),
    ("mooncake", "", "expected at least one JSON line"),
    (
        "mooncake",
        '{"timestamp": 0, "input_length": 1, "output_length": 1}\n[1, 2]\n',
        "line 2: expected a JSON object; got '[1, 2]'",
    ),
    (
        "mooncake",
        '{"timestamp": 0, "input_length": 1, "output_length": 1}\n{"timestamp": \n',
        "line 2: expected a JSON object",
    ),
    ("mooncake", '{"timestamp": 0, "input_length": 1}\n', "line 1, key output_length: expected a value; got nothing"),
    (
        "mooncake",
        '{"timestamp": "0", "input_length": 1, "output_length": 1}\n',
        "line 1, key timestamp: expected a finite number of milliseconds; got '\"0\"'",
    ),
    (
        "mooncake",
        '{"timestamp": NaN, "input_length": 1, "output_length": 1}\n',
        "line 1, key timestamp: expected a finite number of milliseconds; got 'NaN'",
    ),
    (
        "mooncake",
        '{"timestamp": 0, "input_length": -1, "output_length": 1}\n',
        "line 1, key input_length: expected a whole number >= 0; got '-1'",
    ),
    (
        "mooncake",
        '{"timestamp": 0, "input_length": true, "output_length": 1}\n',
        "line 1, key input_length: expected a whole number >= 0; got 'true'",
    ),
    ("azure-functions-2021", F21 + "a,f,10,-1\n", "line 2, column duration: expected a finite number >= 0; got '-1'"),
    ("azure-functions-2021", F21 + "a,f,ten,1\n", "line 2, column end_timestamp: expected a finite number; got 'ten'"),
    (
        "azure-functions-2021",
        "app,func,duration\n",
        "line 1: expected a CSV header with columns app,func,end_timestamp,duration; got 'app,func,duration'",
    ),
    (
        "azure-functions-2019",
        "HashOwner,HashApp,HashFunction,Trigger,1,3\n",
        "line 1: expected a CSV header HashOwner,HashApp,HashFunction,Trigger,1,2,...,1440; got",
    ),
    ("azure-functions-2019", "HashOwner,HashApp,HashFunction\n", "line 1: expected a CSV header"),
    ("azure-functions-2019", F19, "expected at least one row after the header"),
    ("azure-functions-2019", F19 + "o,a,f,http,1,x,3\n", "line 2, column 2: expected a whole number >= 0; got 'x'"),
    (
        "azure-functions-2019",
        F19 + "o,a,f,http,1,2,3\no,a,g,http,1,-2,3\n",
        "line 3, column 2: expected a whole number >= 0; got '-2'",
    ),
    ("azure-functions-2019", F19 + "o,a,f,http,1,2\n", "line 2, column 3: expected a whole number >= 0; got ''"),
    ("azure-functions-2019", F19 + "o,a,f,http,1,2,3,4\n", "line 2: expected 7 columns; got 8"),
    (
        "azure-functions-2019",
        F19 + "o,a,f,http,0,0,0\n",
        "expected at least one invocation in the selected functions; got 0",
    ),
]


@pytest.mark.parametrize(("fmt", "text", "message"), BAD)
def test_bad_input_is_one_line_naming_file_field_line_and_column(
    tmp_path: Path, fmt: str, text: str, message: str
) -> None:
    path = tmp_path / "trace.txt"
    path.write_text(text)
    with pytest.raises(ScenarioError) as err:
        read_formatted_trace(path, fmt, rng=np.random.default_rng(0) if fmt == "azure-functions-2019" else None)
    assert str(err.value).startswith(f"{path}: workload.arrivals.path: ")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_selection_and_format_name_their_own_field() -> None:
    f19, rng = DATA / "azure-functions-2019.csv", np.random.default_rng(0)
    with pytest.raises(ScenarioError) as err:
        read_formatted_trace(DATA / "burstgpt.csv", "burst-gpt")
    assert str(err.value) == (
        f"{DATA / 'burstgpt.csv'}: workload.arrivals.format: unknown trace format 'burst-gpt'; expected one of "
        "azure-llm, burstgpt, mooncake, azure-functions-2021, azure-functions-2019"
    )
    with pytest.raises(ScenarioError) as err:
        read_formatted_trace(f19, "azure-functions-2019", function="nope", rng=rng)
    assert str(err.value) == (
        f"{f19}: workload.arrivals.function: expected a HashFunction of the file (3 functions, e.g. 'fA'); got 'nope'"
    )
    with pytest.raises(ScenarioError, match=r"workload\.arrivals\.top: expected a whole number >= 1; got 0"):
        read_formatted_trace(f19, "azure-functions-2019", top=0, rng=rng)
    with pytest.raises(ScenarioError, match=r"workload\.arrivals\.top: expected either function or top, not both"):
        read_formatted_trace(f19, "azure-functions-2019", function="fA", top=2, rng=rng)
    with pytest.raises(ScenarioError, match=r"workload\.arrivals\.function: applies to format azure-functions-2019"):
        read_formatted_trace(DATA / "burstgpt.csv", "burstgpt", function="fA")
    with pytest.raises(ScenarioError, match=r"expected at most 4 invocations \(max_arrivals\); the selection has 5"):
        read_formatted_trace(f19, "azure-functions-2019", rng=rng, max_arrivals=4)
    with pytest.raises(ValueError, match="needs rng"):
        read_formatted_trace(f19, "azure-functions-2019")
    with pytest.raises(ScenarioError, match="cannot read file"):
        read_formatted_trace(DATA / "missing.csv", "azure-llm", field="x.path")


def test_quoted_2019_rows_take_the_csv_path(tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    path.write_text(F19 + '"o","a","f g","http","1","0","2"\n')
    t = read_formatted_trace(path, "azure-functions-2019", function="f g", rng=np.random.default_rng(5))
    assert t.arrival_s.tolist() == _spread(5, [0, 2, 2])
