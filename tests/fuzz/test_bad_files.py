"""Files a scenario names, and the scenario file itself: bad bytes or rows are one line and exit 2.

``validate`` reads the trace and tenants CSVs the way a run will, so their problems are found
before any work, with the file, the line and the column in the message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simserve.cli import main


def _scenario(tmp: Path, trace: bytes) -> Path:
    (tmp / "trace.csv").write_bytes(trace)
    p = tmp / "s.yaml"
    p.write_text("name: t\nworkload:\n  arrivals: {type: trace, path: trace.csv}\n  service: 1s\n")
    return p


@pytest.mark.parametrize(
    ("trace", "says"),
    [
        (b"", "expected a CSV header with column arrival_s"),
        (b"time,x\n1,2\n", "expected a CSV header with column arrival_s"),
        (b"arrival_s\n", "expected at least one row"),
        (b"arrival_s\n0\nabc\n", "line 3, column arrival_s: expected a number"),
        (b"arrival_s\n0\ninf\n", "line 3, column arrival_s: expected a finite number"),
        (b"arrival_s\n5\n1\n", "line 3, column arrival_s: expected times in ascending order"),
        (b"arrival_s,service_s\n0,1\n1,nan\n", "line 3, column service_s: expected a finite number >= 0"),
        (b"arrival_s,service_s\n0,-2\n", "line 2, column service_s: expected a finite number >= 0"),
        (b"arrival_s\n0\n\xe9t\xe9\n", "expected UTF-8 text; byte 0xe9 on line 3"),
        ("\ufeffarrival_s\n0\n".encode("utf-16"), "expected UTF-8 text"),
    ],
)
def test_bad_trace_csv(trace: bytes, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = _scenario(tmp_path, trace)
    for cmd in (["validate", str(p)], ["run", str(p), "--out", str(tmp_path / "out")]):
        assert main(cmd) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and says in err and "trace.csv" in err, err
    assert not (tmp_path / "out").exists()


def test_good_trace_with_bom_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = _scenario(tmp_path, "\ufeffarrival_s,service_s\n0,1\n2.5,0.5\n".encode())
    assert main(["validate", str(p)]) == 0


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"\xff\xfename: x\n", "expected UTF-8 text; byte 0xff on line 1"),
        ("name: caf\u00e9\n".encode("latin-1"), "expected UTF-8 text; byte 0xe9 on line 1"),
        (b"name: x\n" + b"#" * (2 << 20), "expected a file under 1024 KiB"),
    ],
)
def test_bad_scenario_bytes(content: bytes, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "s.yaml"
    p.write_bytes(content)
    assert main(["validate", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err


def test_a_directory_is_not_a_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path)]) == 2
    assert "expected a file, got a directory" in capsys.readouterr().err


def test_bad_tenants_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "tenants.csv").write_text("time_s,utilization\n0,0.5\n10,lots\n")
    p = tmp_path / "s.yaml"
    p.write_text(
        "name: t\nendpoint: {gpu: [H100]}\nhosts: [{gpu: H100, count: 1, other_tenants: tenants.csv}]\n"
        "workload: {arrivals: {type: poisson, rate: 1}, service: 1s}\n"
    )
    assert main(["validate", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert "tenants.csv" in err and "line 3, column utilization: expected a number" in err
