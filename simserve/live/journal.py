"""A live run's records on disk while it runs, so a crash of the executor (SIGKILL, the OOM killer) loses
at most the last second.

Owns ``Journal`` (the writer) and ``read_journal`` (the reader). A run being written (``staged_out_dir``'s
private directory) holds ``journal/run.json``, written once at the start (atomically: the scenario, the
seed, the run's kind, its owner process, the notes known then), and ``journal/events.jsonl``: every
``JOURNAL_INTERVAL_S`` one JSON line with what changed since the line before — the jobs that arrived
(arrival and service time, token counts), every job whose status changed (its whole record: a job
retried by a client appears again and the last line wins), the worker state intervals closed, the
workers created, the autoscaler's actions, the job runs that did not complete, an LLM job's token
times, faults — and a checkpoint: the run's time ``t``, its retries, and the intervals open then (so
the bill runs up to ``t``). Lines are appended with one write each and flushed; a crash in the middle
of one leaves a torn last line, which the reader drops: what a crash leaves is always a readable
prefix, the state of the run at its last whole line. No fsync: the records survive the process, not
the machine. ``simserve.live.recover`` turns a journal into a run directory. No policy here.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simserve.records import Recorder, WorkerMeta

#: how often a running live run appends what happened to its journal (wall seconds)
JOURNAL_INTERVAL_S = 1.0
#: the journal's directory inside a run being written, and its two files
JOURNAL_DIR = "journal"
HEADER_FILE = "run.json"
EVENTS_FILE = "events.jsonl"
#: the journal's format; a reader refuses others
JOURNAL_FORMAT = 1

OpenRow = tuple[int, int, int, float, float, int]


def _num(x: float) -> float | None:
    """A float JSON can carry (NaN -> null)."""
    return None if math.isnan(x) else x


def _float(x: float | None) -> float:
    return math.nan if x is None else float(x)


class Journal:
    """Appends a live run's records to ``directory/journal`` (see the module docstring)."""

    def __init__(self, directory: Path, header: dict[str, Any]) -> None:
        self.dir = directory / JOURNAL_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f".{HEADER_FILE}.tmp"
        tmp.write_text(json.dumps({"format": JOURNAL_FORMAT, **header}, indent=1) + "\n")
        os.replace(tmp, self.dir / HEADER_FILE)
        self._f = open(self.dir / EVENTS_FILE, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self._arrived = 0
        self._status = b""
        self._sent: dict[str, int] = {}  # per growing list (its key in a line): the items already written
        self.lines = 0

    def flush(
        self,
        now_s: float,
        rec: Recorder,
        arrived: int,
        service_s: np.ndarray | None,
        errors: Sequence[Any] = (),
        tokens: Sequence[tuple[int, tuple[float, ...]]] = (),
        faults: Sequence[Any] = (),
        open_rows: Sequence[OpenRow] = (),
        counters: dict[str, Any] | None = None,
    ) -> None:
        """Append one line: what changed since the last one, and the checkpoint at ``now_s``. ``arrived``: the
        jobs that have arrived (indexes below it); ``service_s``: their service times (None: not known yet)."""
        line: dict[str, Any] = {"t": now_s, "retries": rec.retries}
        if counters:
            line["counters"] = counters
        if arrived > self._arrived:
            lo, hi = self._arrived, arrived
            line["arr"] = [float(a) for a in rec.arrival_s[lo:hi]]
            if service_s is not None:
                line["svc"] = [float(s) for s in service_s[lo:hi]]
            if rec.llm:
                line["tin"] = [int(x) for x in rec.input_tokens[lo:hi]]
                line["tout"] = [int(x) for x in rec.output_tokens[lo:hi]]
            self._arrived = arrived
        status = bytes(rec.status[:arrived])
        old = np.frombuffer(self._status, dtype=np.uint8)
        new = np.frombuffer(status, dtype=np.uint8)
        changed = np.flatnonzero(new[: len(old)] != old).tolist() + list(range(len(old), len(new)))
        if changed:
            first = rec.first_token_s if rec.llm else None
            line["jobs"] = [
                [
                    j,
                    _num(rec.start_s[j]),
                    _num(rec.end_s[j]),
                    status[j],
                    rec.worker[j],
                    rec.cold[j],
                    *((_num(first[j]),) if first is not None else ()),
                ]
                for j in changed
            ]
        self._status = status
        rec.settle()  # pending busy/warm flips become rows first (none unless the simulator's fast path ran)
        self._take(line, "iv", rec.iv)
        self._take(line, "workers", rec.workers, lambda m: [m.worker_id, m.kind, m.created_s])
        self._take(line, "actions", rec.actions)
        self._take(line, "errors", errors)
        self._take(line, "tokens", tokens)
        self._take(line, "faults", faults)
        if open_rows:
            line["open"] = [list(r) for r in open_rows]
        self._f.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._f.flush()
        self.lines += 1

    def _take(
        self, line: dict[str, Any], key: str, items: Sequence[Any], row: Callable[[Any], Any] | None = None
    ) -> None:
        """Put the items of an append-only list not written yet in ``line[key]`` (each as ``row(item)``)."""
        done = self._sent.get(key, 0)
        if len(items) > done:
            new = items[done:]
            line[key] = [row(x) for x in new] if row is not None else list(new)
            self._sent[key] = len(items)

    def close(self) -> None:
        self._f.close()


@dataclass
class JournalState:
    """What a journal holds: the header, and the run as of its last whole line (``until_s``)."""

    header: dict[str, Any]
    until_s: float = 0.0
    lines: int = 0
    torn: bool = False  # the last line was cut off (the crash came in the middle of it): dropped
    retries: int = 0
    arrival_s: list[float] = field(default_factory=list)
    service_s: list[float] = field(default_factory=list)
    input_tokens: list[int] = field(default_factory=list)
    output_tokens: list[int] = field(default_factory=list)
    jobs: dict[int, list[Any]] = field(default_factory=dict)  # job -> [start, end, status, worker, cold, first?]
    iv: list[float] = field(default_factory=list)
    workers: list[list[Any]] = field(default_factory=list)
    actions: list[list[Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    tokens: list[list[Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    open_rows: list[list[float]] = field(default_factory=list)
    counters: dict[str, Any] = field(default_factory=dict)

    def apply(self, line: dict[str, Any]) -> None:
        self.until_s = float(line["t"])
        self.retries = int(line.get("retries", self.retries))
        self.arrival_s += line.get("arr", [])
        self.service_s += line.get("svc", [])
        self.input_tokens += line.get("tin", [])
        self.output_tokens += line.get("tout", [])
        for j, *rest in line.get("jobs", []):
            self.jobs[int(j)] = rest
        self.iv += line.get("iv", [])
        self.workers += line.get("workers", [])
        self.actions += line.get("actions", [])
        self.errors += line.get("errors", [])
        self.tokens += line.get("tokens", [])
        self.faults += line.get("faults", [])
        self.open_rows = line.get("open", [])
        self.counters = line.get("counters", self.counters)
        self.lines += 1


class JournalError(ValueError):
    """A directory holds no journal a reader can use."""


def read_header(directory: Path) -> dict[str, Any]:
    """The journal header of a run being written in ``directory`` (JournalError if none)."""
    path = directory / JOURNAL_DIR / HEADER_FILE
    try:
        header = json.loads(path.read_text())
    except FileNotFoundError:
        expected = "expected the directory of a live or serve run"
        raise JournalError(f"{directory}: no {JOURNAL_DIR}/{HEADER_FILE}; {expected}") from None
    except (OSError, ValueError) as exc:
        raise JournalError(f"{path}: unreadable ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != JOURNAL_FORMAT:
        raise JournalError(f"{path}: expected journal format {JOURNAL_FORMAT}")
    return header


def read_journal(directory: Path) -> JournalState:
    """The run a journal in ``directory`` records, up to its last whole line."""
    state = JournalState(read_header(directory))
    path = directory / JOURNAL_DIR / EVENTS_FILE
    data = path.read_bytes() if path.is_file() else b""
    lines = data.split(b"\n")
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            if i == len(lines) - 1:  # the line being written when the process died
                state.torn = True
                break
            raise JournalError(f"{path}: line {i + 1} is not JSON (a journal is only appended to)") from None
        state.apply(line)
    return state


def rebuild_recorder(state: JournalState) -> Recorder:
    """A recorder holding the journal's run: the jobs that arrived (those not ended are in flight as last
    recorded), the closed intervals plus those open at ``until_s`` closed there, workers and actions."""
    n = len(state.arrival_s)
    llm = bool(state.output_tokens)
    rec = Recorder(
        np.asarray(state.arrival_s, dtype=float),
        input_tokens=np.asarray(state.input_tokens[:n], dtype=np.int64) if llm else None,
        output_tokens=np.asarray(state.output_tokens[:n], dtype=np.int64) if llm else None,
    )
    for j, row in state.jobs.items():
        if j >= n:
            continue
        rec.start_s[j], rec.end_s[j] = _float(row[0]), _float(row[1])
        rec.status[j], rec.worker[j], rec.cold[j] = int(row[2]), int(row[3]), int(row[4])
        if llm and len(row) > 5:
            rec.first_token_s[j] = _float(row[5])
    rec.workers.extend(WorkerMeta(int(w), str(k), float(c)) for w, k, c in state.workers)
    rec.iv.extend(state.iv)
    for wid, st, ph, start, _end, host in state.open_rows:
        if state.until_s > start:
            rec.iv.extend((wid, st, ph, start, state.until_s, host))
    rec.actions.extend((float(t), str(k), int(v), str(r)) for t, k, v, r in state.actions)
    rec.retries = state.retries
    rec.host_gpu = [str(g) for g in state.header.get("host_gpu", [])]
    rec.notes.update(state.counters)
    return rec


__all__ = [
    "JOURNAL_DIR",
    "JOURNAL_INTERVAL_S",
    "Journal",
    "JournalError",
    "JournalState",
    "read_header",
    "read_journal",
    "rebuild_recorder",
]
