"""``simserve compare``: zero error on identical runs, the known factor on doubled service times,
``--fail-over`` exit codes, intervals from replications, and a self-contained HTML page."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from simserve.cli import main
from simserve.compare import compare_runs, write_compare
from simserve.compare.table import compare_summaries, flatten, relative_error
from simserve.numfmt import num


def cli(*args: str) -> int:
    try:
        return main(list(args))
    except SystemExit as exc:  # --fail-over exits with SystemExit(1)
        return int(exc.code or 0)


def test_identical_runs_report_zero_error(run_pair: tuple[Path, Path, Path]) -> None:
    a, a2, _ = run_pair
    cmp = compare_runs(a, a2)
    assert len(cmp.rows) > 30
    for r in cmp.rows:
        assert r.a == r.b, r.key
        assert r.rel_error in (0.0, None), r.key
    assert cmp.exceeding(0.0, ["*"]) == []


def test_doubled_service_reports_the_factor(run_pair: tuple[Path, Path, Path]) -> None:
    a, _, b = run_pair
    cmp = compare_runs(a, b)
    for key in ("execution_s.mean", "execution_s.p50", "execution_s.p95"):
        assert cmp.row(key).ratio == pytest.approx(2.0, rel=1e-6), key
        assert cmp.row(key).rel_error == pytest.approx(1.0, rel=1e-6), key
    assert cmp.row("requests.arrived").rel_error == 0.0
    assert cmp.row("latency_s.mean").rel_error > 0.5  # slower jobs, longer latency


def test_fail_over_exit_codes(run_pair: tuple[Path, Path, Path], tmp_path: Path) -> None:
    a, a2, b = run_pair
    assert cli("compare", str(a), str(a2), "--fail-over", "0") == 0
    assert cli("compare", str(a), str(b), "--fail-over", "10") == 1
    assert cli("compare", str(a), str(b), "--fail-over", "100.001", "--check", "execution_s.*") == 0
    assert cli("compare", str(a), str(b), "--fail-over", "99", "--check", "execution_s.mean") == 1
    assert cli("compare", str(a), str(b)) == 0  # no threshold, no failure
    assert cli("compare", str(a), str(tmp_path / "missing")) == 2


def test_html_page_is_self_contained(run_pair: tuple[Path, Path, Path], tmp_path: Path) -> None:
    a, _, b = run_pair
    cmp, page = write_compare(a, b, tmp_path / "cmp", fail_over=10)
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 4
    assert "http://" not in text and "https://" not in text
    assert "execution_s.mean" in text and "+100.00%" in text
    # every figure reads as the terminal prints it (simserve.numfmt): the two lines for one figure agree
    row = cmp.row("latency_s.mean")
    assert f"<td class='n'>{num(row.a)}</td><td class='n'>{num(row.b)}</td>" in text
    assert f"<td class='n'>{num(cmp.row('requests.arrived').a)}</td>" in text
    for stem in (
        "compare_latency_cdf",
        "compare_cost_by_state",
        "compare_worker_timelines",
        "compare_cold_start_phases",
    ):
        assert (tmp_path / "cmp" / f"{stem}.png").stat().st_size > 1000
    csv = (tmp_path / "cmp" / "compare.csv").read_text().splitlines()
    assert csv[0].startswith("figure,a,b,diff,ratio,rel_error")
    assert len(csv) == len(cmp.rows) + 1


def test_intervals_from_replications() -> None:
    a = {
        "engine": "sim",
        "latency_s": {"p95": 10.0, "p95_ci": [9.0, 11.0]},
        "gpu_utilization": 0.5,
        "gpu_utilization_ci": [0.4, 0.6],
        "counters": {"pulls": 3},
        "seed": 1,
    }
    b = {"engine": "live", "latency_s": {"p95": 10.5}, "gpu_utilization": 0.9}
    values, cis = flatten(a)
    assert values == {"latency_s.p95": 10.0, "gpu_utilization": 0.5}  # counters and provenance left out
    assert cis == {"latency_s.p95": (9.0, 11.0), "gpu_utilization": (0.4, 0.6)}
    cmp = compare_summaries(a, b)
    assert cmp.row("latency_s.p95").ci_overlap is True
    assert cmp.row("gpu_utilization").ci_overlap is False
    assert cmp.row("latency_s.p95").rel_error == pytest.approx(0.05)
    assert (cmp.a_engine, cmp.b_engine) == ("sim", "live")


def test_relative_error_edges() -> None:
    assert relative_error(0.0, 0.0) == 0.0
    assert math.isinf(relative_error(0.0, 1.0))  # type: ignore[arg-type]
    assert relative_error(None, 1.0) is None
    assert relative_error(-2.0, -1.0) == pytest.approx(0.5)
    cmp = compare_summaries({"cold_start": {"fraction": 0.0}}, {"cold_start": {"fraction": 0.1}})
    assert [r.key for r in cmp.exceeding(1000)] == ["cold_start.fraction"]  # inf exceeds any threshold
