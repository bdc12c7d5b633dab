"""Published request traces, read by format name into arrival times, service times and token counts.

Owns ``read_formatted_trace(path, fmt)`` and the column layout of each public trace (docs/traces.md):

- ``azure-llm``: Azure LLM inference trace 2023 (Splitwise, ISCA'24) and 2024 (DynamoLLM, HPCA'25), CSV
  ``TIMESTAMP,ContextTokens,GeneratedTokens``; timestamps ``2023-11-16 18:15:46.6805900`` (7 fractional
  digits) or ``2024-05-10 00:00:00.009930+00:00`` (UTC offset). Input = ContextTokens, output =
  GeneratedTokens. github.com/Azure/AzurePublicDataset, CC-BY 4.0.
- ``burstgpt``: BurstGPT (arXiv:2401.17644), CSV ``Timestamp,Model,Request tokens,Response tokens,Total
  tokens,Log Type``; Timestamp in seconds from the start of the collection. Input = Request tokens, output =
  Response tokens (0 where the request failed); Model and Log Type are not read. github.com/HPMLL/BurstGPT.
- ``mooncake``: Mooncake traces (FAST'25), JSON lines ``{"timestamp": ms, "input_length": n,
  "output_length": n, "hash_ids": [...]}``; timestamp in milliseconds since the first request; hash_ids
  (prefix-cache blocks) are not read. github.com/kvcache-ai/Mooncake, FAST25-release/traces.
- ``azure-functions-2021``: Azure Functions invocation trace 2021 (SOSP'21), CSV
  ``app,func,end_timestamp,duration`` in seconds; arrival = end_timestamp - duration, service = duration.
- ``azure-functions-2019``: Azure Functions trace 2019 (ATC'20), ``invocations_per_function_md.anon.dNN.csv``:
  ``HashOwner,HashApp,HashFunction,Trigger,1,...,1440``, invocations per minute of one day. ``function=``
  picks one HashFunction; otherwise the ``top`` (default 1) functions with the most invocations are merged.
  Each minute's count is spread uniformly at random inside the minute with the caller's generator.

Every format returns arrival times in seconds from its earliest row, ascending (rows sorted stably when
the file is not). Bad input raises a one-line ``ScenarioError`` naming the file, the field, the line and
the column. Pure reader: numpy, csv, json and simserve.scenario's file and error helpers; no simpy, no
clock, no global random state (this module must not import simserve.workload or simserve.scenario, which
import it: the scenario schema takes its format names from ``FORMATS``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simserve import limits
from simserve.inputs import ScenarioError, read_text_file

#: a trace file larger than this is refused (the 2019 per-minute counts of one day are about 150 MB)
MAX_TRACE_BYTES = 2 << 30

#: format name -> one line on its columns (docs and error messages)
_COLUMNS: dict[str, str] = {
    "azure-llm": "CSV TIMESTAMP,ContextTokens,GeneratedTokens (Azure LLM inference trace 2023/2024): "
    "date-time, input tokens, output tokens",
    "burstgpt": "CSV Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type (BurstGPT): "
    "seconds, input tokens, output tokens",
    "mooncake": 'JSON lines {"timestamp": ms, "input_length": n, "output_length": n, "hash_ids": [...]} '
    "(Mooncake FAST'25 traces)",
    "azure-functions-2021": "CSV app,func,end_timestamp,duration (Azure Functions invocation trace 2021): "
    "seconds; arrival = end_timestamp - duration, service = duration",
    "azure-functions-2019": "CSV HashOwner,HashApp,HashFunction,Trigger,1,...,1440 (Azure Functions trace 2019): "
    "invocations per minute, spread uniformly within each minute",
}


@dataclass(frozen=True, slots=True)
class TraceData:
    """One trace: arrival times (s from the earliest row, ascending) and, where the format has them, service
    times (s) and input/output token counts, one per arrival."""

    arrival_s: np.ndarray
    service_s: np.ndarray | None
    input_tokens: np.ndarray | None
    output_tokens: np.ndarray | None

    def __len__(self) -> int:
        return len(self.arrival_s)


def read_formatted_trace(
    path: Path,
    fmt: str,
    *,
    function: str | None = None,
    top: int | None = None,
    rng: np.random.Generator | None = None,
    field: str = "workload.arrivals.path",
    max_arrivals: int = limits.DEFAULT_MAX_ARRIVALS,
) -> TraceData:
    """Read the trace at ``path`` in format ``fmt`` (a key of ``FORMATS``).

    ``function`` / ``top`` select functions of an ``azure-functions-2019`` file (``rng`` spreads its
    per-minute counts and is required for that format); ``field`` is the scenario field named in errors
    (``function``, ``top`` and ``format`` errors name its siblings); a 2019 selection expanding to more
    than ``max_arrivals`` invocations is refused before it is drawn.
    """
    label = str(path)
    if fmt not in FORMATS:
        raise ScenarioError(
            label, _sibling(field, "format"), f"unknown trace format {fmt!r}; expected one of {', '.join(FORMATS)}"
        )
    if fmt != "azure-functions-2019" and (function is not None or top is not None):
        which = "function" if function is not None else "top"
        raise ScenarioError(label, _sibling(field, which), f"applies to format azure-functions-2019 only, not {fmt}")
    if fmt == "azure-functions-2019":
        if rng is None:
            raise ValueError("read_formatted_trace: format azure-functions-2019 needs rng (a numpy Generator)")
        return _azure_functions_2019(path, field, function, top, rng, max_arrivals)
    reader = FORMATS[fmt].reader
    assert reader is not None
    return reader(path, field)


def _sibling(field: str, name: str) -> str:
    """``workload.arrivals.path`` -> ``workload.arrivals.<name>``."""
    head, dot, _ = field.rpartition(".")
    return f"{head}{dot}{name}" if dot else name


# -- CSV plumbing ----------------------------------------------------------------------------------------


def _csv_table(
    path: Path, field: str, required: tuple[str, ...]
) -> tuple[dict[str, int], Iterator[tuple[int, list[str]]]]:
    """``({column: index}, rows)`` of a CSV with a header naming at least ``required``; rows are
    ``(line number, cells)``, blank lines skipped; one-line errors for a missing header column and for
    what the csv module refuses (NUL byte, unclosed quote, oversized field)."""
    label = str(path)
    reader = csv.reader(io.StringIO(read_text_file(path, label, MAX_TRACE_BYTES)))

    def rows() -> Iterator[tuple[int, list[str]]]:
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ScenarioError(label, field, f"line {reader.line_num}: expected CSV ({exc})") from None
            if row:
                yield reader.line_num, row

    it = rows()
    first = next(it, None)
    names = [h.strip() for h in first[1]] if first else []
    missing = [c for c in required if c not in names]
    if missing:
        got = ",".join(names)[:80]
        raise ScenarioError(
            label, field, f"line 1: expected a CSV header with columns {','.join(required)}; got {got!r}"
        )
    return {c: names.index(c) for c in required}, it


def _cell(row: list[str], col: int) -> str:
    return row[col].strip() if col < len(row) else ""


def _bad(
    label: str, field: str, lineno: int, column: str, expected: str, cell: object, kind: str = "column"
) -> ScenarioError:
    """The one-line error for a bad cell (``kind`` is "key" for JSON lines)."""
    shown = cell[:40] if isinstance(cell, str) and kind == "column" else json.dumps(cell)[:40]
    return ScenarioError(label, field, f"line {lineno}, {kind} {column}: expected {expected}; got {shown!r}")


def _count(label: str, field: str, lineno: int, column: str, cell: str) -> int:
    """A whole number >= 0 (a token or invocation count)."""
    try:
        value = int(cell)
    except ValueError:
        raise _bad(label, field, lineno, column, "a whole number >= 0", cell) from None
    if value < 0:
        raise _bad(label, field, lineno, column, "a whole number >= 0", cell)
    return value


def _seconds(label: str, field: str, lineno: int, column: str, cell: str, nonneg: bool = False) -> float:
    """A finite number (>= 0 with ``nonneg``)."""
    expected = "a finite number >= 0" if nonneg else "a finite number"
    try:
        value = float(cell)
    except ValueError:
        raise _bad(label, field, lineno, column, expected, cell) from None
    if not math.isfinite(value) or (nonneg and value < 0):
        raise _bad(label, field, lineno, column, expected, cell)
    return value


def _finish(
    label: str,
    field: str,
    times: np.ndarray,
    service: list[float] | None,
    inputs: list[int] | None,
    outputs: list[int] | None,
) -> TraceData:
    """Sort stably by time, shift to the earliest row, pack the columns."""
    if not len(times):
        raise ScenarioError(label, field, "expected at least one row after the header")
    order = None if bool(np.all(times[1:] >= times[:-1])) else np.argsort(times, kind="stable")

    def col(values: list[Any] | None, dtype: type) -> np.ndarray | None:
        if values is None:
            return None
        arr: np.ndarray = np.asarray(values, dtype=dtype)
        return arr if order is None else arr[order]

    arrival = times if order is None else times[order]
    return TraceData(
        arrival_s=(arrival - arrival[0]).astype(np.float64),
        service_s=col(service, np.float64),
        input_tokens=col(inputs, np.int64),
        output_tokens=col(outputs, np.int64),
    )


# -- formats ---------------------------------------------------------------------------------------------

_STAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d{1,9})?")
_OFFSET = re.compile(r"(?:Z|([+-])(\d\d):?(\d\d))$")


def _azure_llm(path: Path, field: str) -> TraceData:
    label = str(path)
    cols, rows = _csv_table(path, field, ("TIMESTAMP", "ContextTokens", "GeneratedTokens"))
    stamps: list[str] = []
    offsets_min: list[int] = []
    lines: list[int] = []
    inputs: list[int] = []
    outputs: list[int] = []
    t, ci, co = cols["TIMESTAMP"], cols["ContextTokens"], cols["GeneratedTokens"]
    for lineno, row in rows:
        stamp = _cell(row, t)
        offset = 0
        m = _OFFSET.search(stamp)
        if m:
            if m.group(1):
                offset = (int(m.group(2)) * 60 + int(m.group(3))) * (1 if m.group(1) == "+" else -1)
            stamp = stamp[: m.start()]
        if not _STAMP.fullmatch(stamp):
            raise _bad(label, field, lineno, "TIMESTAMP", "a date-time like 2023-11-16 18:15:46.6805900", _cell(row, t))
        stamps.append(stamp)
        offsets_min.append(offset)
        lines.append(lineno)
        inputs.append(_count(label, field, lineno, "ContextTokens", _cell(row, ci)))
        outputs.append(_count(label, field, lineno, "GeneratedTokens", _cell(row, co)))
    ns = _datetimes_ns(label, field, stamps, lines)
    if any(offsets_min):  # local time with a UTC offset -> UTC
        ns = ns - np.asarray(offsets_min, dtype=np.int64) * 60_000_000_000
    rel = ns - (ns.min() if len(ns) else 0)
    return _finish(label, field, rel.astype(np.float64) / 1e9, None, inputs, outputs)


def _datetimes_ns(label: str, field: str, stamps: list[str], lines: list[int]) -> np.ndarray:
    """Nanoseconds since the epoch of ``YYYY-MM-DD HH:MM:SS[.fffffffff]`` strings (parsed by numpy, exactly);
    the first impossible date (Feb 30, hour 25) named by its line."""
    try:
        return np.asarray(stamps, dtype="datetime64[ns]").astype(np.int64)
    except ValueError:
        for stamp, lineno in zip(stamps, lines, strict=True):
            try:
                np.datetime64(stamp, "ns")
            except ValueError:
                raise _bad(label, field, lineno, "TIMESTAMP", "a valid date-time", stamp) from None
        raise  # pragma: no cover - numpy refused the array but no single stamp


def _burstgpt(path: Path, field: str) -> TraceData:
    label = str(path)
    cols, rows = _csv_table(path, field, ("Timestamp", "Request tokens", "Response tokens"))
    t, ci, co = cols["Timestamp"], cols["Request tokens"], cols["Response tokens"]
    times: list[float] = []
    inputs: list[int] = []
    outputs: list[int] = []
    for lineno, row in rows:
        times.append(_seconds(label, field, lineno, "Timestamp", _cell(row, t)))
        inputs.append(_count(label, field, lineno, "Request tokens", _cell(row, ci)))
        outputs.append(_count(label, field, lineno, "Response tokens", _cell(row, co)))
    return _finish(label, field, np.asarray(times, dtype=np.float64), None, inputs, outputs)


def _azure_functions_2021(path: Path, field: str) -> TraceData:
    label = str(path)
    cols, rows = _csv_table(path, field, ("app", "func", "end_timestamp", "duration"))
    e, d = cols["end_timestamp"], cols["duration"]
    times: list[float] = []
    service: list[float] = []
    for lineno, row in rows:
        end = _seconds(label, field, lineno, "end_timestamp", _cell(row, e))
        duration = _seconds(label, field, lineno, "duration", _cell(row, d), nonneg=True)
        times.append(end - duration)
        service.append(duration)
    return _finish(label, field, np.asarray(times, dtype=np.float64), service, None, None)


def _mooncake(path: Path, field: str) -> TraceData:
    label = str(path)
    times: list[float] = []
    inputs: list[int] = []
    outputs: list[int] = []
    for lineno, line in enumerate(read_text_file(path, label, MAX_TRACE_BYTES).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            raise ScenarioError(label, field, f"line {lineno}: expected a JSON object; got {line[:40]!r}") from None
        if not isinstance(obj, dict):
            raise ScenarioError(label, field, f"line {lineno}: expected a JSON object; got {line[:40]!r}")
        for key in ("timestamp", "input_length", "output_length"):
            if key not in obj:
                raise ScenarioError(label, field, f"line {lineno}, key {key}: expected a value; got nothing")
        ts, n_in, n_out = obj["timestamp"], obj["input_length"], obj["output_length"]
        if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not math.isfinite(ts):
            raise _bad(label, field, lineno, "timestamp", "a finite number of milliseconds", ts, "key")
        for key, value in (("input_length", n_in), ("output_length", n_out)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise _bad(label, field, lineno, key, "a whole number >= 0", value, "key")
        times.append(ts / 1000.0)
        inputs.append(n_in)
        outputs.append(n_out)
    if not times:
        raise ScenarioError(label, field, "expected at least one JSON line")
    return _finish(label, field, np.asarray(times, dtype=np.float64), None, inputs, outputs)


_IDS_2019 = ("HashOwner", "HashApp", "HashFunction", "Trigger")


def _azure_functions_2019(
    path: Path, field: str, function: str | None, top: int | None, rng: np.random.Generator, max_arrivals: int
) -> TraceData:
    label = str(path)
    if function is not None and top is not None:
        raise ScenarioError(label, _sibling(field, "top"), "expected either function or top, not both")
    if top is not None and top < 1:
        raise ScenarioError(label, _sibling(field, "top"), f"expected a whole number >= 1; got {top}")
    names, counts = _per_minute_counts(path, field)
    if function is not None:
        chosen = [i for i, name in enumerate(names) if name == function]
        if not chosen:
            raise ScenarioError(
                label,
                _sibling(field, "function"),
                f"expected a HashFunction of the file ({len(names)} functions, e.g. {names[0]!r}); got {function!r}",
            )
    else:
        totals = counts.sum(axis=1)
        chosen = sorted(np.argsort(-totals, kind="stable")[: top or 1].tolist())
    per_minute = counts[chosen].sum(axis=0)
    total = int(per_minute.sum())
    if total == 0:
        raise ScenarioError(label, field, "expected at least one invocation in the selected functions; got 0")
    if total > max_arrivals:
        raise ScenarioError(
            label, field, f"expected at most {max_arrivals} invocations (max_arrivals); the selection has {total}"
        )
    starts = np.repeat(np.arange(len(per_minute), dtype=np.float64) * 60.0, per_minute)
    times = np.sort(starts + rng.random(total) * 60.0)
    return TraceData(arrival_s=times - times[0], service_s=None, input_tokens=None, output_tokens=None)


def _per_minute_counts(path: Path, field: str) -> tuple[list[str], np.ndarray]:
    """HashFunction of each row and its ``(rows, minutes)`` invocation counts; the minute columns must be
    named 1, 2, ... in order (a whole day has 1440)."""
    label = str(path)
    lines = read_text_file(path, label, MAX_TRACE_BYTES).splitlines()
    header = [h.strip() for h in next(csv.reader(lines[:1]), [])] if lines else []
    minutes = header[len(_IDS_2019) :]
    if (
        tuple(header[: len(_IDS_2019)]) != _IDS_2019
        or not minutes
        or minutes != [str(i) for i in range(1, len(minutes) + 1)]
    ):
        expected = ",".join(_IDS_2019) + ",1,2,...,1440"
        raise ScenarioError(label, field, f"line 1: expected a CSV header {expected}; got {','.join(header)[:80]!r}")
    names: list[str] = []
    rows: list[np.ndarray] = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split(",", len(_IDS_2019))
        counts = _fast_counts(parts[-1], len(minutes)) if '"' not in line and len(parts) > len(_IDS_2019) else None
        if counts is None:
            counts = _slow_counts(label, field, lineno, line, minutes)
        names.append(parts[2].strip() if '"' not in line else next(csv.reader([line]))[2].strip())
        rows.append(counts)
    if not rows:
        raise ScenarioError(label, field, "expected at least one row after the header")
    return names, np.vstack(rows)


def _fast_counts(text: str, n: int) -> np.ndarray | None:
    """The counts of one row parsed in C; None when anything is off (the slow path then names the cell)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            values = np.fromstring(text, dtype=np.float64, sep=",")
        except (ValueError, DeprecationWarning):
            return None
    if len(values) != n or not bool(np.all((values >= 0) & (values == np.floor(values)) & np.isfinite(values))):
        return None
    return values.astype(np.int64)


def _slow_counts(label: str, field: str, lineno: int, line: str, minutes: list[str]) -> np.ndarray:
    row = next(csv.reader([line]))
    cells = row[len(_IDS_2019) :]
    for i, minute in enumerate(minutes):
        _count(label, field, lineno, minute, cells[i].strip() if i < len(cells) else "")
    if len(cells) > len(minutes):
        raise ScenarioError(
            label, field, f"line {lineno}: expected {len(_IDS_2019) + len(minutes)} columns; got {len(row)}"
        )
    return np.asarray([int(c) for c in cells], dtype=np.int64)


@dataclass(frozen=True, slots=True)
class TraceFormat:
    """One published trace format: its columns (one line, for docs and errors), whether its rows carry
    token counts, and its reader (None for ``azure-functions-2019``, which takes a selection and a
    generator: ``read_formatted_trace`` calls it directly)."""

    columns: str
    tokens: bool
    reader: Callable[[Path, str], TraceData] | None


#: the registry of published trace formats, by the name a scenario's ``workload.arrivals.format`` gives
FORMATS: dict[str, TraceFormat] = {
    "azure-llm": TraceFormat(_COLUMNS["azure-llm"], True, _azure_llm),
    "burstgpt": TraceFormat(_COLUMNS["burstgpt"], True, _burstgpt),
    "mooncake": TraceFormat(_COLUMNS["mooncake"], True, _mooncake),
    "azure-functions-2021": TraceFormat(_COLUMNS["azure-functions-2021"], False, _azure_functions_2021),
    "azure-functions-2019": TraceFormat(_COLUMNS["azure-functions-2019"], False, None),
}
#: simserve's own CSV (``arrival_s`` and optional ``service_s``; read by ``simserve.workload.read_trace``)
NATIVE_FORMAT = "simserve"
#: every name ``workload.arrivals.format`` takes, the default first
FORMAT_NAMES = (NATIVE_FORMAT, *FORMATS)
#: the formats whose rows carry input and output token counts
TOKEN_FORMATS = tuple(name for name, f in FORMATS.items() if f.tokens)
