"""Generated malformed and extreme input never gets a traceback, a hang or a runaway allocation.

Each case is a scenario file from ``fuzz_inputs`` (schema-level and file-level mutations of the
quickstart). ``simserve validate`` either accepts it or exits 2 with one line; an accepted
scenario then runs (``simserve run``) to a written summary. Every command runs under a wall-clock
bound and an address-space bound; a bound hit is a failure, as is any exception escaping
``main`` (which would be a traceback for a user). The examples are derandomized so CI sees the
same cases every time; ``benchmarks/fuzz_cli.py`` explores further in real subprocesses and
reports the figures quoted in the closing note of #12.
"""

from __future__ import annotations

import contextlib
import io
import resource
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from simserve.cli import main
from tests.fuzz.fuzz_inputs import dump, file_cases, schema_cases

#: bound holds under load: 30 s for a case (validate, then maybe run) of under 0.1 s idle, 1 s at most
CASE_TIME_S = 30.0
EXTRA_ADDRESS_SPACE_B = 3 << 30
#: the fuzz's own bound on work: accepted scenarios draw at most this many arrivals
FUZZ_MAX_ARRIVALS = "max_arrivals=5000"


class CaseTimeout(BaseException):
    """Raised in the main thread when a case runs past ``CASE_TIME_S`` (not an ``Exception``, so
    nothing in simserve can swallow it)."""


@contextlib.contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """Run the body under a wall-clock alarm and a soft address-space limit of what the process
    has now plus ``EXTRA_ADDRESS_SPACE_B``; both are restored afterwards."""

    def alarm(signum: int, frame: Any) -> None:
        raise CaseTimeout(f"case ran past {seconds} s")

    vm_b = (
        int(
            next(
                line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmSize")
            ).split()[1]
        )
        * 1024
    )
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = vm_b + EXTRA_ADDRESS_SPACE_B
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    previous = signal.signal(signal.SIGALRM, alarm)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _cli(args: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), bounded(CASE_TIME_S):
        rc = main(args)
    return rc, err.getvalue()


def exercise(content: bytes) -> str:
    """Validate, then (when accepted) run one scenario file; returns "refused" or "ran"."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case.yaml"
        path.write_bytes(content)
        rc, err = _cli(["validate", str(path), "--set", FUZZ_MAX_ARRIVALS])
        assert "Traceback" not in err, err
        if rc != 0:
            assert rc == 2, err
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), err
            return "refused"
        out = Path(tmp) / "out"
        rc, err = _cli(["run", str(path), "-r", "1", "-q", "--no-plots", "--out", str(out), "--set", FUZZ_MAX_ARRIVALS])
        assert rc == 0, err
        assert (out / "summary.json").is_file()
        return "ran"


FUZZ = settings(
    max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
)


@FUZZ
@given(schema_cases())
def test_schema_mutations(data: dict[str, Any]) -> None:
    exercise(dump(data))


@FUZZ
@given(file_cases())
def test_file_mutations(content: bytes) -> None:
    exercise(content)


def test_bounds_catch_what_they_should() -> None:
    """The harness itself: a runaway allocation and a hang are failures, not passes. Load cannot change
    either outcome: the allocation fails at once, well inside its 5 s, and the loop never ends, so the
    0.2 s alarm always fires."""
    with pytest.raises(MemoryError), bounded(5):
        bytearray(EXTRA_ADDRESS_SPACE_B + (1 << 30))
    with pytest.raises(CaseTimeout), bounded(0.2):
        while True:
            pass
