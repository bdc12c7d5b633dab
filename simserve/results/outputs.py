"""Writing and reading run directories: summary.json, jobs.csv, workers.csv and friends.

Owns the on-disk layout every command shares (``simserve run``, ``live``, ``compare``,
``report``, ``calibrate``): files are written to a temporary file created exclusively beside
them and renamed, so an interrupted run never leaves a half-written table, and CSVs are
byte-identical for the same seed; a whole run is written into a private directory beside its
``--out`` and renamed into place at the end (``staged_out_dir``), so a directory holds one
whole run or none; a default output directory made from a scenario's ``name`` stays under its
base (``default_out_dir``). Owns the checks on both sides as well: ``check_out_dir`` / ``check_out_file`` say up
front whether an output path can be written, and ``read_run`` checks every file it reads
(present, parseable, the expected header, keys and values). Both raise ``OutputsError``
subclasses whose text is one line naming the path, the file, line and column where it
applies, and what was expected; the CLI turns them into exit code 2.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import yaml

from simserve.records import JOB_COLUMNS, JOB_STATUSES, LLM_JOB_COLUMNS, PHASES, STATES, WORKER_COLUMNS, llm_columns

FLOAT_FORMAT = "%.9g"


class OutputsError(ValueError):
    """A path ``simserve`` cannot read a run from or write output to: ``str(err)`` is one line."""


class OutPathError(OutputsError):
    """An output path that cannot be written (a file where a directory goes, no permission...)."""


class RunDirError(OutputsError):
    """A run directory that cannot be read: missing, or a file in it not as ``write_run`` writes it."""


# ----------------------------------------------------------------------------- output paths
def _nearest_existing(p: Path) -> Path:
    """``p`` itself, or its nearest ancestor that exists (a dangling symlink counts as existing)."""
    probe = p
    while not os.path.lexists(probe) and probe.parent != probe:
        probe = probe.parent
    return probe


def _check_writable(p: Path, option: str, expected: str, as_dir: bool) -> None:
    """Raise ``OutPathError`` unless ``p`` (a directory when ``as_dir``, else a file) could be written."""

    def bad(what: str) -> OutPathError:
        return OutPathError(f"{option} {p}: {what}; expected {expected}")

    try:
        if not as_dir and p.is_dir():
            raise bad("is a directory")
        probe = _nearest_existing(p if as_dir else p.parent)
        if not probe.exists():
            raise bad(f"{probe} is a broken symbolic link")
        if not probe.is_dir():
            raise bad("is a file" if probe == p else f"{probe} is a file, not a directory")
        if not os.access(probe, os.W_OK | os.X_OK):
            raise bad("permission denied" if probe == p else f"{probe} is not writable (permission denied)")
    except OSError as exc:
        raise bad(f"cannot check it ({exc.strerror or exc})") from None


def check_out_dir(path: str | Path, option: str = "--out") -> Path:
    """``path`` as a ``Path`` when it is, or can be created as, a writable directory; else a one-line
    ``OutPathError`` ("``option path``: what is wrong; expected a writable directory"). Creates nothing."""
    p = Path(path)
    _check_writable(p, option, "a writable directory", as_dir=True)
    return p


def check_out_file(path: str | Path, option: str = "--out") -> Path:
    """``path`` as a ``Path`` when a file can be written there (its directory exists or can be created,
    and is writable; the path is not a directory); else a one-line ``OutPathError``. Creates nothing."""
    p = Path(path)
    _check_writable(p, option, "a file path in a writable directory", as_dir=False)
    return p


def prepare_out_dir(path: str | Path, option: str = "output directory") -> Path:
    """``check_out_dir``, then create the directory (and its parents); ``OutPathError`` on failure."""
    p = check_out_dir(path, option)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutPathError(f"{option} {p}: {exc.strerror or exc}; expected a writable directory") from None
    return p


def default_out_dir(base: str | Path, name: str, prefix: str = "") -> Path:
    """``base/<prefix><name>`` with ``name`` (a scenario's, which anyone may write) made a plain file name:
    letters, digits, ``.``, ``_`` and ``-`` only (others become ``_``), no leading dot, at most 100
    characters, ``run`` when nothing is left. So ``name: ../../x`` or an absolute path stays under ``base``.

    >>> default_out_dir("runs", "../../etc/x", "live-").as_posix()
    'runs/live-etc_x'
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:100] or "run"
    return Path(base) / f"{prefix}{safe}"


#: a file ``staged_out_dir`` puts in each directory it installs: a later run may replace that directory whole
RUN_MARK = ".simserve-output"


@contextlib.contextmanager
def staged_out_dir(out: str | Path, option: str = "output directory", carry: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield a fresh private directory beside ``out`` to write a whole run into; when the block ends without
    an exception it takes ``out``'s place, otherwise it is removed and ``out`` is left as it was. So a
    directory holds one whole run or none, never two runs' files mixed (a Ctrl-C, a SIGTERM, a crash).

    ``out`` missing or empty: the new directory is renamed to it. ``out`` written by an earlier
    ``staged_out_dir`` (it holds ``RUN_MARK``): the earlier run is replaced whole. Any other directory
    (files of the user's, or a run from before this rule) is not removed: the new files are moved
    into it, summary.json last. ``carry``: entries of ``out`` moved into the new directory first (a
    cache such as a live run's image store), and moved back if the run fails.
    """
    out = Path(out).absolute()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    except OSError as exc:
        if not out.is_dir():
            raise OutPathError(f"{option} {out}: {exc.strerror or exc}; expected a writable directory") from None
        work = Path(tempfile.mkdtemp(prefix=".simserve.", suffix=".partial", dir=out))  # a read-only parent
    carried = [name for name in carry if out.is_dir() and os.path.lexists(out / name)]
    try:
        for name in carried:
            os.rename(out / name, work / name)
        yield work
        _install(work, out)
    except BaseException:
        for name in carried:
            if os.path.lexists(work / name) and out.is_dir() and not os.path.lexists(out / name):
                with contextlib.suppress(OSError):
                    os.rename(work / name, out / name)
        shutil.rmtree(work, ignore_errors=True)
        raise


def _install(work: Path, out: Path) -> None:
    """Put the finished run directory ``work`` in ``out``'s place (see ``staged_out_dir``)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(work, 0o777 & ~umask)  # mkdtemp made it private while it was being written
    plain_dir = out.is_dir() and not out.is_symlink()
    if not os.path.lexists(out) or (plain_dir and not any(out.iterdir())):
        (work / RUN_MARK).touch()
        try:
            os.rename(work, out)
            return
        except OSError:  # created meanwhile: fall through to a move into it
            (work / RUN_MARK).unlink()
    if plain_dir and (out / RUN_MARK).is_file() and work.parent == out.parent:
        (work / RUN_MARK).touch()
        old = out.with_name(f".{out.name}.{secrets.token_hex(4)}.old")
        os.rename(out, old)
        os.rename(work, out)
        shutil.rmtree(old, ignore_errors=True)
        return
    last = work / "summary.json"
    for entry in sorted(work.iterdir(), key=lambda p: p == last):
        dest = out / entry.name
        if entry.is_dir() and not entry.is_symlink() and os.path.lexists(dest):
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)
            else:
                dest.unlink()
        os.replace(entry, dest)
    work.rmdir()


# ----------------------------------------------------------------------------- writing
def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    return obj


def exclusive_temp(path: Path) -> Path:
    """A new, empty temporary file beside ``path`` (``.<name>.<random>.tmp``), created exclusively (never an
    existing file or a symbolic link planted there) with the permissions a plain new file gets."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes it 0600; the file it replaces would not be
    finally:
        os.close(fd)
    return Path(name)


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file created exclusively beside it: the old file or the
    new one, never half of it (the temporary file is removed when the write fails)."""
    tmp = exclusive_temp(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Write a text file (UTF-8) atomically: readers see the old file or the whole new one."""
    _atomic_write(path, text)


def write_json(path: Path, data: Any) -> None:
    _atomic_write(path, json.dumps(_clean(data), indent=2, sort_keys=False) + "\n")


def write_frame(path: Path, frame: pd.DataFrame) -> None:
    _atomic_write(path, frame.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n"))


#: ``--tables``: how a run's jobs and workers tables are written
TABLE_FORMATS = ("csv", "parquet", "none")


class _ParquetStream:
    """A parquet table written a row group at a time while a run goes, into an exclusively created
    temporary file that ``close()`` renames into place (``abort()`` removes it)."""

    def __init__(self, path: Path, fields: list[tuple[str, Any]]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.path = path
        self.tmp = exclusive_temp(path)
        self.schema = pa.schema(fields)
        self.writer = pq.ParquetWriter(self.tmp, self.schema)

    def write(self, arrays: list[Any]) -> None:
        self.writer.write_table(self.pa.Table.from_arrays(arrays, schema=self.schema))

    def close(self) -> None:
        self.writer.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()
        with contextlib.suppress(OSError):
            self.tmp.unlink(missing_ok=True)


class ParquetJobs(_ParquetStream):
    """``jobs.parquet`` written a row group per block of jobs while a streamed run goes (the block sink of
    ``simserve.api.simulate``)."""

    def __init__(self, out_dir: Path, llm: bool = False) -> None:
        import pyarrow as pa

        f64 = pa.float64()
        llm_fields = (
            [("input_tokens", pa.int64()), ("output_tokens", pa.int64()), ("ttft_s", f64), ("tpot_s", f64)]
            if llm
            else []
        )
        super().__init__(
            out_dir / "jobs.parquet",
            [
                ("job_id", pa.int64()),
                ("arrival_s", f64),
                ("start_s", f64),
                ("end_s", f64),
                ("status", pa.dictionary(pa.int8(), pa.string())),
                ("worker_id", pa.int64()),
                ("cold_start", pa.bool_()),
                ("queue_wait_s", f64),
                ("execution_s", f64),
                ("latency_s", f64),
                *llm_fields,
            ],
        )
        self.statuses = pa.array(list(JOB_STATUSES), pa.string())

    def __call__(
        self,
        first: int,
        arrival: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
        status: np.ndarray,
        worker: np.ndarray,
        cold: np.ndarray,
        *llm: np.ndarray,
    ) -> None:
        """A block of job records; ``llm``: an LLM run's input tokens, output tokens and first-token times."""
        pa = self.pa
        n = len(arrival)
        done = ~np.isnan(end) & ~np.isnan(start)
        cols = [
            pa.array(np.arange(first, first + n, dtype=np.int64)),
            pa.array(arrival),
            pa.array(start),
            pa.array(end),
            pa.DictionaryArray.from_arrays(pa.array(status.astype(np.int8)), self.statuses),
            pa.array(worker),
            pa.array(cold),
            pa.array(start - arrival),
            pa.array(np.where(done, end - start, np.nan)),
            pa.array(end - arrival),
        ]
        if llm:
            extra = llm_columns(arrival, end, status, llm[0], llm[1], llm[2])
            cols.extend(pa.array(extra[name]) for name in LLM_JOB_COLUMNS)
        self.write(cols)


class ParquetWorkers(_ParquetStream):
    """``workers.parquet`` written a row group per chunk of billed intervals while a streamed run goes
    (rows grouped by chunk, sorted by worker within one)."""

    def __init__(self, out_dir: Path) -> None:
        import pyarrow as pa

        text = pa.dictionary(pa.int8(), pa.string())
        super().__init__(
            out_dir / "workers.parquet",
            [
                ("worker_id", pa.int64()),
                ("kind", text),
                ("host", pa.int64()),
                ("gpu", pa.string()),
                ("state", text),
                ("phase", text),
                ("start_s", pa.float64()),
                ("end_s", pa.float64()),
                ("billed", pa.bool_()),
                ("cost_usd", pa.float64()),
            ],
        )
        self.names = {
            "kind": pa.array(["flex", "active"]),
            "state": pa.array(list(STATES)),
            "phase": pa.array(list(PHASES)),
        }

    def __call__(self, *cols: np.ndarray) -> None:
        wid, kind, host, gpu, state, phase, start, end, billed, cost = cols
        pa = self.pa

        def coded(name: str, codes: np.ndarray) -> Any:
            return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int8)), self.names[name])

        arrays = [
            pa.array(wid),
            coded("kind", kind),
            pa.array(host),
            pa.array(gpu.astype(str)),
            coded("state", state),
            coded("phase", phase),
            pa.array(start),
            pa.array(end),
            pa.array(billed),
            pa.array(cost),
        ]
        self.write(arrays)


def _write_parquet(path: Path, frame: pd.DataFrame) -> None:
    tmp = exclusive_temp(path)
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def write_run(out_dir: str | Path, result: Any, summary: dict[str, Any] | None = None, tables: str = "csv") -> Path:
    """Write a run directory; ``summary`` overrides the result's (e.g. with replication CIs).

    ``tables`` (``TABLE_FORMATS``): the jobs and workers tables as CSV, as parquet (a streamed run's
    ``jobs.parquet`` is already written by ``ParquetJobs``) or not at all; ``minutes.csv`` (the
    per-minute series), ``actions.csv``, ``scenario.resolved.yaml`` and ``summary.json`` always.
    ``OutPathError`` when ``out_dir`` cannot be a writable directory; summary.json is written last,
    so a directory with one holds a whole run."""
    out = prepare_out_dir(out_dir)
    job_cols = [*JOB_COLUMNS, *(c for c in LLM_JOB_COLUMNS if c in result.jobs.columns)]
    if tables == "csv":
        if result.has_jobs:
            write_frame(out / "jobs.csv", result.jobs[job_cols])
        if result.has_workers:
            write_frame(out / "workers.csv", result.workers[list(WORKER_COLUMNS)])
    elif tables == "parquet":
        if result.has_jobs:
            _write_parquet(out / "jobs.parquet", result.jobs[job_cols])
        if result.has_workers:
            _write_parquet(out / "workers.parquet", result.workers[list(WORKER_COLUMNS)])
    if result.minutes is not None:
        write_frame(out / "minutes.csv", result.minutes)
    write_frame(out / "actions.csv", result.actions)
    resolved = result.scenario.model_dump(mode="json")
    resolved.pop("base_dir", None)
    arrivals = resolved.get("workload", {}).get("arrivals", {})
    if arrivals.get("type") == "trace":  # keep the resolved file runnable from anywhere
        arrivals["path"] = str(result.scenario.trace_path().resolve())
    _atomic_write(out / "scenario.resolved.yaml", yaml.safe_dump(resolved, sort_keys=False))
    write_json(out / "summary.json", summary if summary is not None else result.summary)
    return out


# ----------------------------------------------------------------------------- reading
#: the files a run directory must hold
RUN_FILES = ("summary.json", "jobs.csv", "workers.csv")
#: an LLM live run's chunk (token) times per completed job, ``job_id, t_s`` (what ``simserve calibrate`` fits)
TOKEN_TIMES_FILE = "token_times.csv"  # noqa: S105 - a file name
#: summary keys every reader indexes (each an object)
SUMMARY_KEYS = ("requests", "latency_s", "queue_wait_s", "cold_start", "workers", "cost_usd")

#: what a column must hold: "id" an integer >= 0, "int" an integer, "num" a finite number, "time" a finite
#: number >= 0,
#: a trailing "?" allows empty cells; "bool" True or False; "text" anything; a tuple, one of its values
Kind: TypeAlias = str | tuple[str, ...]

JOB_SPEC: dict[str, Kind] = {
    "job_id": "id",
    "arrival_s": "time",
    "start_s": "num?",
    "end_s": "num?",
    "status": JOB_STATUSES,
    "worker_id": "int?",  # -1 (or empty) for a job no worker took
    "cold_start": "bool",
    "queue_wait_s": "num?",
    "execution_s": "num?",
    "latency_s": "num?",
}
WORKER_SPEC: dict[str, Kind] = {
    "worker_id": "id",
    "kind": "text",
    "host": "text",
    "gpu": "text",
    "state": STATES,
    "phase": PHASES,
    "start_s": "num",
    "end_s": "num?",
    "billed": "bool",
    "cost_usd": "num?",
}
ACTION_SPEC: dict[str, Kind] = {"time_s": "num", "action": "text"}


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _line_of(path: Path, row: int) -> int:
    """The line number of data row ``row`` (0-based) of a CSV, skipping blank lines as pandas does."""
    seen = -1  # the header is non-blank line 0
    with contextlib.suppress(OSError, UnicodeDecodeError), path.open(encoding="utf-8-sig") as f:
        for lineno, line in enumerate(f, start=1):
            if line.strip():
                seen += 1
                if seen == row + 1:
                    return lineno
    return row + 2


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "an empty cell"
    return repr(str(value)[:40])


def read_csv_checked(path: Path, spec: Mapping[str, Kind], *, optional: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a CSV and check it against ``spec`` (column -> kind, see ``Kind``); columns in ``optional``
    are checked only when present. A one-line ``RunDirError`` naming the file, the line and the column
    on an unreadable or empty file, a missing header column, or a cell of the wrong kind."""
    required = [c for c in spec if c not in optional]
    header = f"a CSV header with columns {', '.join(required)}"
    try:
        with warnings.catch_warnings():  # a first row longer than the header: an error, not a warning
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, encoding="utf-8-sig", index_col=False)
    except pd.errors.ParserWarning:
        raise RunDirError(f"{path}: line 2: expected as many fields as the header (line 1) has; got more") from None
    except pd.errors.EmptyDataError:
        raise RunDirError(f"{path}: the file is empty; expected {header}") from None
    except UnicodeDecodeError as exc:
        raise RunDirError(f"{path}: expected UTF-8 text; byte 0x{exc.object[exc.start]:02x} is not UTF-8") from None
    except OSError as exc:
        raise RunDirError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise RunDirError(f"{path}: expected a CSV table; {_one_line(exc)}") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        got = ",".join(str(c) for c in frame.columns)[:80]
        raise RunDirError(f"{path}: line 1: expected {header}; missing {', '.join(missing)} (got {got!r})")
    if frame.empty:
        return frame
    for column, kind in spec.items():
        if column in frame.columns:
            _check_column(path, frame, column, kind)
    return frame


def _check_column(path: Path, frame: pd.DataFrame, column: str, kind: Kind) -> None:
    s = frame[column]

    def fail(mask: Any, expected: str) -> None:
        rows = np.flatnonzero(np.asarray(mask, dtype=bool))
        if len(rows):
            i = int(rows[0])
            raise RunDirError(
                f"{path}: line {_line_of(path, i)}, column {column}: expected {expected}; got {_cell(s.iloc[i])}"
            )

    if kind == "text":
        return
    if isinstance(kind, tuple):
        allowed = set(kind)
        values = s.astype(object).where(s.notna(), "").astype(str)
        fail(~values.isin(allowed), "one of " + ", ".join(repr(v) if v == "" else v for v in kind))
        return
    if kind == "bool":
        if s.dtype != bool:
            fail(~s.astype(object).isin([True, False]), "True or False")
        return
    optional = kind.endswith("?")
    base = kind.rstrip("?")
    num = pd.to_numeric(s, errors="coerce")
    what = {"id": "an integer >= 0", "int": "an integer", "time": "a finite number >= 0", "num": "a finite number"}[
        base
    ]
    if not optional:
        fail(s.isna(), what)
    fail(s.notna() & num.isna(), what)
    v = num.to_numpy(dtype=float, na_value=np.nan)
    present = ~np.isnan(v)
    fail(present & ~np.isfinite(v), what)
    if base in ("id", "time"):
        fail(present & (v < 0), what)
    if base in ("id", "int"):
        fail(present & np.isfinite(v) & (np.mod(v, 1) != 0), what)


def _read_summary(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise RunDirError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise RunDirError(f"{path}: expected UTF-8 JSON; byte 0x{exc.object[exc.start]:02x} is not UTF-8") from None
    try:
        summary = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path}: line {exc.lineno}, column {exc.colno}: expected JSON; {exc.msg}") from None
    if not isinstance(summary, dict):
        raise RunDirError(f"{path}: expected a JSON object (the run's summary); got {type(summary).__name__}")
    for key in SUMMARY_KEYS:
        if not isinstance(summary.get(key), dict):
            got = "nothing" if key not in summary else type(summary[key]).__name__
            raise RunDirError(f"{path}: {key}: expected an object (the run's {key} figures); got {got}")
    return summary


def _check_resolved(path: Path) -> None:
    """The run's scenario.resolved.yaml, when it has one, must be a YAML mapping (the report reads it)."""
    try:
        data = yaml.safe_load(path.read_bytes().decode("utf-8-sig"))
    except OSError as exc:
        raise RunDirError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise RunDirError(f"{path}: expected UTF-8 YAML") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc
        raise RunDirError(f"{path}: {where}expected YAML; {_one_line(problem)}") from None
    if data is not None and not isinstance(data, dict):
        raise RunDirError(f"{path}: expected a YAML mapping (the run's scenario); got {type(data).__name__}")


def _read_table(d: Path, name: str, spec: Mapping[str, Kind]) -> pd.DataFrame:
    """``name.csv`` (checked cell by cell) or ``name.parquet`` (checked for its columns)."""
    if (d / f"{name}.csv").is_file():
        return read_csv_checked(d / f"{name}.csv", spec)
    path = d / f"{name}.parquet"
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds for a broken file
        raise RunDirError(
            f"{path}: expected a parquet table as `simserve run --tables parquet` writes; {_one_line(exc)}"
        ) from None
    missing = [c for c in spec if c not in frame.columns]
    if missing:
        raise RunDirError(f"{path}: expected columns {', '.join(spec)}; missing {', '.join(missing)}")
    for c in ("status", "kind", "state", "phase", "gpu"):
        if c in frame.columns:
            frame[c] = frame[c].astype(str)
    return frame


def read_run(run_dir: str | Path) -> dict[str, Any]:
    """Read a run directory: ``{"summary": dict, "jobs": DataFrame, "workers": DataFrame,
    "actions": DataFrame | None, "dir": Path}``.

    Every file read is checked first: ``RunDirError`` (one line naming the directory or the file,
    the line and the column, and what was expected) when the directory is missing or not one,
    summary.json, jobs.csv or workers.csv is missing, summary.json is not a JSON object with the
    summary's sections, a CSV is empty, lacks a header column or holds a cell of the wrong kind,
    or scenario.resolved.yaml (optional) is not a YAML mapping.
    """
    d = Path(run_dir)
    files = f"{', '.join(RUN_FILES[:-1])} and {RUN_FILES[-1]} as `simserve run` or `simserve live` writes them"
    try:
        if not d.exists():
            raise RunDirError(f"{d}: no such directory; expected a run directory with {files}")
        if not d.is_dir():
            raise RunDirError(f"{d}: not a directory; expected a run directory with {files}")
        for name in RUN_FILES:
            if not (d / name).is_file() and not (d / name.replace(".csv", ".parquet")).is_file():
                tables = [d / f"{t}.{ext}" for t in ("jobs", "workers") for ext in ("csv", "parquet")]
                if name != "summary.json" and (d / "summary.json").is_file() and not any(p.exists() for p in tables):
                    raise RunDirError(
                        f"{d}: written with --tables none (no {name}); this needs the run's tables: "
                        "run it again with --tables csv or --tables parquet"
                    )
                raise RunDirError(f"{d}: not a run directory (no {name}); expected {files}")
    except OSError as exc:
        raise RunDirError(f"{d}: cannot read it ({exc.strerror or exc}); expected a run directory") from None
    out: dict[str, Any] = {"dir": d, "summary": _read_summary(d / "summary.json")}
    out["jobs"] = _read_table(d, "jobs", JOB_SPEC)
    out["workers"] = _read_table(d, "workers", WORKER_SPEC)
    actions = d / "actions.csv"
    out["actions"] = read_csv_checked(actions, ACTION_SPEC) if actions.is_file() else None
    if (d / "scenario.resolved.yaml").is_file():
        _check_resolved(d / "scenario.resolved.yaml")
    return out


__all__ = [
    "OutPathError",
    "OutputsError",
    "RunDirError",
    "check_out_dir",
    "check_out_file",
    "default_out_dir",
    "exclusive_temp",
    "prepare_out_dir",
    "read_csv_checked",
    "read_run",
    "staged_out_dir",
    "write_frame",
    "write_json",
    "write_run",
    "write_text",
]
