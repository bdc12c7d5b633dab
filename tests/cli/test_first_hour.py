"""A newcomer's first hour on the command line (#27): what a run ends with, a plan table that fits 80
columns and a pipe, --version, "did you mean", help without types of flags or internal modules, one number
style, the default that streams a run of millions of arrivals, and named pipes or devices given as
scenario or trace paths (one line, exit 2, at once).
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from simserve.cli import main
from simserve.units import HOURS_PER_MONTH

QUICK = "scenarios/quickstart.yaml"
TINY = (
    "name: tiny\nseed: 1\nhorizon: 10min\nendpoint: {gpu: H100, max_workers: 2, idle_timeout: 5s}\n"
    "workload:\n  arrivals: {type: poisson, rate: 0.5/s}\n  service: 1s\n"
)


@pytest.fixture
def alarm() -> Iterator[None]:
    """Fail a test that blocks (a named pipe opened for reading waits for a writer for good) after 20 s."""

    def fire(signum: int, frame: object) -> None:
        raise TimeoutError("blocked for 20 s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(20)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _one_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


# ----------------------------------------------------------------------------- a run's answers
def test_a_run_ends_with_the_monthly_bill_latency_and_next_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The quickstart (10 min of it): the bill is per hour x 730 with the basis it is projected from, then
    p50/p95/p99 and the two commands to run next; the first cold start sets p99 and a warning says so."""
    out = tmp_path / "q"
    assert main(["run", QUICK, "--out", str(out), "--no-plots", "--set", "horizon=10min"]) == 0
    cap = capsys.readouterr()
    summary = json.loads((out / "summary.json").read_text())
    text = " ".join(cap.out.split())
    bill = summary["cost_usd"]["per_hour"] * HOURS_PER_MONTH
    per_hour = summary["cost_usd"]["per_hour"]
    assert (
        f"monthly bill ${bill:,.2f} a month at this traffic, ${per_hour:,.2f}/h; extrapolated from 10 minutes" in text
    )
    lat = summary["latency_s"]
    assert re.search(rf"latency p50 {lat['p50']:.4g}\S* s, p95 \S+ s, p99 {lat['p99']:.4g}\S* s", text), text
    tail = cap.out[cap.out.index("monthly bill") :]  # the answers come last on stdout
    nexts = [line for line in tail.splitlines() if line.startswith("next: ")]
    assert nexts[0] == f"next: simserve report {out}  # the HTML report: plots, break-even"
    assert (
        nexts[1].startswith("next: simserve plan scenarios/quickstart.yaml --slo ")
        and "--set horizon=10min" in nexts[1]
    )
    assert nexts == [ln for ln in tail.splitlines() if ln.startswith("next")]  # each command on one line
    err = " ".join(cap.err.split())
    assert "warning: latency p95 and p99 (" in err and f"{lat['p99']:.4g}" in err
    assert "are set by the first cold start" in err and "arrived before the first worker was ready" in err
    assert "--set warmup=200s leaves them out" in err  # the first worker is ready at t = 137 s
    assert "warning" not in cap.out


def test_no_cold_start_warning_when_the_warmup_leaves_it_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", QUICK, "--out", str(tmp_path / "w"), "--no-plots", "--set", "horizon=10min", "--set", "warmup=4min"]
    assert main(argv) == 0
    cap = capsys.readouterr()
    assert "cold start" not in cap.err and "monthly bill" in cap.out


def test_a_run_no_longer_than_the_first_cold_start_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """140 s of the quickstart: the jobs that completed all arrived before the first worker was ready (137 s)."""
    assert main(["run", QUICK, "--out", str(tmp_path / "s"), "-q", "--no-plots", "--set", "horizon=140s"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "warning: every completed job arrived before the first worker was ready at t = 137 s" in err


def test_the_cold_start_warning_of_a_streamed_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A streamed run (--tables parquet or none) keeps the jobs that waited apart as they come: the same jobs
    and first start as the table in memory, the percentiles without them from a sketch (a sample value at the
    rank, where the table's numpy percentile interpolates: of ~700 jobs, the two differ by up to 3%)."""

    def warning(tables: str) -> str:
        argv = ["run", QUICK, "--out", str(tmp_path / tables), "-q", "--set", "horizon=10min", "--tables", tables]
        assert main(argv) == 0
        return " ".join(capsys.readouterr().err.split())

    memory, parquet, none = warning("csv"), warning("parquet"), warning("none")
    tail = "72 jobs arrived before the first worker was ready at t = 137 s and waited for it; without them p95 and p99"
    assert tail in memory and tail in parquet and tail in none
    assert parquet == none

    def without(text: str) -> list[float]:
        figures = re.search(r"without them p95 and p99 are (\S+) s and (\S+) s", text)
        assert figures is not None, text
        return [float(x.replace(",", "")) for x in figures.groups()]

    assert without(none) == pytest.approx(without(memory), rel=0.03)


def test_the_cold_start_warning_shows_with_quiet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", QUICK, "--out", str(tmp_path / "q"), "-q", "--no-plots", "--set", "horizon=10min"]) == 0
    cap = capsys.readouterr()
    assert cap.out == "" and "set by the first cold start" in cap.err


def test_numbers_have_one_style(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Counts with thousands separators, money in cents, no bare 4+ digit run of figures (3637, 22189871)."""
    assert main(["run", QUICK, "--out", str(tmp_path / "n"), "--no-plots", "--set", "horizon=2h"]) == 0
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "n" / "summary.json").read_text())
    assert f"arrived {summary['requests']['arrived']:,}" in " ".join(out.split())
    assert f"${summary['cost_usd']['total']:,.2f} total" in out
    words = out.replace(str(tmp_path), "").split()
    assert not [w for w in words if re.fullmatch(r"\$?\d{4,}(\.\d+)?\D*", w)], words
    money = [w for w in words if w.startswith(("$", "[$"))]
    assert money and all(re.fullmatch(r"\[?\$[\d,]+\.\d\d+\S*", w) for w in money), money  # in cents


# ----------------------------------------------------------------------------- plan at 80 columns, in a pipe
def test_plan_table_fits_80_columns_in_a_pipe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """stdout is not a terminal here (captured) and COLUMNS=80: no line is wider, no cell is cut (a cut
    cell ends in an ellipsis), no column is blank, and every candidate number and status is whole."""
    from rich.console import Console

    import simserve.cli.plan as cli_plan

    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr(cli_plan, "console", Console())  # built after COLUMNS is set, as in a fresh process
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY.replace("gpu: H100", "gpu: [H100, A100]"))
    argv = [
        "plan", str(scenario), "--out", str(tmp_path / "p"), "-j", "1", "-r", "2", "--max-replications", "2",
        "--slo", "latency_p95<=20s", "--slo", "failed<=0.1%",
        "--vary", "endpoint.gpu=H100,A100", "--vary", "endpoint.active_workers=0..2",
        "--vary", "endpoint.idle_timeout=5s,30s",
    ]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    assert "…" not in out and "\x1b[" not in out
    rows = [ln.split() for ln in lines if re.match(r"^\s*\d+\s+(H100|A100)\s", ln)]
    assert sorted(int(r[0]) for r in rows) == list(range(12))  # every candidate, its number whole
    assert all(r[4] in ("feasible", "infeasible", "not", "invalid", "likely") for r in rows), rows
    assert re.search(r"^#\d+(, #\d+)* (not run|infeasible|invalid)\S*: \S", out, re.M)  # why, in words


# ----------------------------------------------------------------------------- version, did you mean, help
def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from simserve import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"simserve {__version__}"


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (("max_workers: 2", "max_wrkers: 2"), "endpoint.max_wrkers: unknown key; did you mean 'max_workers'?"),
        (("rate: 0.5/s", "rat: 0.5/s"), "workload.arrivals.rat: unknown key; did you mean 'rate'?"),  # a union member
        (("horizon:", "horizn:"), "horizn: unknown key; did you mean 'horizon'?"),
        (("name: tiny", "name: tiny\nzzzz: 1"), "zzzz: unknown key (not part of the scenario format"),
    ],
)
def test_did_you_mean_for_a_misspelt_key(
    edit: tuple[str, str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(TINY.replace(*edit))
    assert main(["validate", str(path)]) == 2
    assert says in _one_error(capsys)


def test_did_you_mean_for_a_set_override(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", QUICK, "--set", "endpoint.idle_timout=5s"]) == 2
    assert "did you mean 'idle_timeout'?" in _one_error(capsys)


@pytest.mark.parametrize(
    ("path", "near"),
    [("scenarios/sdxl.yaml", "scenarios/sdxl-bursty.yaml"), ("scenarios/quickstrat.yaml", "scenarios/quickstart.yaml")],
)
def test_did_you_mean_for_a_scenario_file(path: str, near: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", path]) == 2
    assert _one_error(capsys) == f"error: {path}: cannot read file (No such file or directory); did you mean {near}?"
    assert main(["validate", "scenarios/zzzzzz.yaml"]) == 2
    assert "did you mean" not in _one_error(capsys)


def test_did_you_mean_for_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["valdate", QUICK]) == 2
    assert "Did you mean 'validate'" in _one_error(capsys)


def test_did_you_mean_for_a_command_when_typer_does_not_say_it() -> None:
    """typer < 0.2x says only "No such command": the suggestion is added from the group's commands."""
    import typer

    from simserve.cli import _suggest_command, app

    group = typer.main.get_command(app)

    class Ctx:
        command = group

    assert _suggest_command("No such command 'rnu'.", Ctx()) == " Did you mean 'run'?"
    assert _suggest_command("No such command 'rnu'. Did you mean 'run'?", Ctx()) == ""
    assert _suggest_command("No such command 'zzzzzz'.", Ctx()) == ""


def _all_commands() -> list[list[str]]:
    import typer

    from simserve.cli import app

    def walk(cmd: object, path: list[str]) -> Iterator[list[str]]:
        yield path
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            yield from walk(sub, [*path, name])

    return list(walk(typer.main.get_command(app), []))


def test_help_shows_no_flag_types_and_no_internal_modules(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    for path in _all_commands():
        assert main([*path, "--help"]) == 0, path
        shown = capsys.readouterr().out
        assert "--help" in shown, path
        assert "<bool>" not in shown, (path, [ln for ln in shown.splitlines() if "<bool>" in ln])
        assert not re.search(r"simserve\.[a-z_]+", shown), (path, re.findall(r"simserve\.[\w.]+", shown))


# ----------------------------------------------------------------------------- defaults that do not trap
def test_a_run_of_millions_of_arrivals_streams_its_tables_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rule on scenarios (2,000/s for 10 min implies 1.2M arrivals: parquet, or none with replications; a
    looped trace counts its rows times its repeats), then the CLI on a 60 s run with the bound lowered to 10
    arrivals (a real run of over 1M arrivals takes a minute): streamed, said, and no report offered."""
    import simserve.cli.defaults as defaults
    from simserve.scenario import load_scenario

    big = load_scenario(QUICK, {"workload.arrivals.rate": "2000/s", "horizon": "10min"})
    assert defaults.STREAM_ABOVE < 2000 * 600
    assert defaults.default_tables(big, 1, replay=False)[0] == "parquet"
    assert defaults.default_tables(big, 3, replay=False)[0] == "none"
    assert defaults.default_tables(big, 1, replay=True) == ("csv", None)
    assert defaults.default_tables(load_scenario(QUICK), 1, replay=False) == ("csv", None)
    looped = "scenarios/trace-replay.yaml"  # 1,740 arrivals over its 80 min
    assert defaults.default_tables(load_scenario(looped), 1, replay=False) == ("csv", None)
    assert defaults.default_tables(load_scenario(looped, {"horizon": "400d"}), 1, replay=False)[0] == "parquet"

    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY.replace("10min", "60s"))
    monkeypatch.setattr(defaults, "STREAM_ABOVE", 10)
    assert main(["run", str(scenario), "--out", str(tmp_path / "r"), "--no-plots"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "about 30 arrivals: the jobs and workers tables are streamed to parquet" in out
    assert (tmp_path / "r" / "jobs.parquet").is_file() and not (tmp_path / "r" / "jobs.csv").exists()
    assert "next: simserve report" not in out  # the report would read millions of rows back
    assert "# the cheapest setup that meets a latency target; each candidate is a run this size" in out
    assert main(["run", str(scenario), "--out", str(tmp_path / "c"), "--no-plots", "--tables", "csv", "-q"]) == 0
    assert (tmp_path / "c" / "jobs.csv").is_file()  # asked otherwise


def test_shipped_scenarios_validate_without_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    paths = sorted(str(p) for p in Path("scenarios").glob("*.yaml"))
    assert main(["validate", *paths]) == 0
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------- named pipes and devices
COMMANDS = {
    "validate": lambda p, out: ["validate", p],
    "run": lambda p, out: ["run", p, "--out", out],
    "plan": lambda p, out: ["plan", p, "--out", out],
    "live": lambda p, out: ["live", p, "--runtime", "simulated", "--out", out],
    "serve": lambda p, out: ["serve", p, "--handler", "examples/handlers/echo.py", "--out", out],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_named_pipe_as_scenario_is_one_line_at_once(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], alarm: None
) -> None:
    fifo = tmp_path / "s.yaml"
    os.mkfifo(fifo)
    assert main(COMMANDS[command](str(fifo), str(tmp_path / "out"))) == 2
    assert _one_error(capsys) == f"error: {fifo}: expected a file, got a named pipe"


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_device_as_scenario_is_one_line(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(COMMANDS[command]("/dev/zero", str(tmp_path / "out"))) == 2
    assert _one_error(capsys) == "error: /dev/zero: expected a file, got a character device"


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_named_pipe_or_device_as_trace_is_one_line(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], alarm: None
) -> None:
    trace = tmp_path / "t.csv"
    if kind == "fifo":
        os.mkfifo(trace)
    else:
        trace.symlink_to("/dev/zero")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(TINY.replace("{type: poisson, rate: 0.5/s}", "{type: trace, path: t.csv}"))
    for argv in (["validate", str(scenario)], ["run", str(scenario), "--out", str(tmp_path / "o")]):
        assert main(argv) == 2
        what = "a named pipe" if kind == "fifo" else "a character device"
        assert f"workload.arrivals.path: expected a file, got {what}: {trace}" in _one_error(capsys)


# ----------------------------------------------------------------------------- the live view's last frame
class _Executor:
    """Stands in for ``LiveExecutor`` where the live view meets it: ``run``, ``status``, ``request_stop``."""

    def __init__(self) -> None:
        self.now = 0.0

    async def run(self) -> str:
        import asyncio

        for _ in range(3):
            await asyncio.sleep(0.1)
            self.now += 2.0
        return "the run"

    def request_stop(self) -> None:
        pass

    def status(self) -> dict[str, object]:
        return {
            "now_s": self.now,
            "end_s": 6.0,
            "workers": {"running": 1},
            "in_queue": 0,
            "in_progress": 0,
            "arrived": 1234,
            "completed": 1234,
            "latency_p50_s": 0.05,
            "latency_p95_s": 0.14,
            "cost_usd": 0.0059,
            "faults": 0,
            "retries": 0,
        }


def test_the_live_views_last_frame_stands_apart(capsys: pytest.CaptureFixture[str]) -> None:
    """The last frame says the run ended and a blank line follows it, before the summary (here, in a pipe)."""
    import asyncio

    from simserve.cli.live import _drive

    run, code = asyncio.run(_drive(_Executor(), quiet=False))  # type: ignore[arg-type]
    print("SUMMARY")
    out = capsys.readouterr().out
    assert run == "the run" and code == 0
    last = out[out.rindex("simserve live ·") :]
    assert last.splitlines()[0].strip() == "simserve live · ended at t=6.0s"
    assert "1,234 arrived" in last and "$0.0059" in last
    assert re.search(r"\$0\.0059\s*\n\s*\nSUMMARY", last), repr(last)


def test_plan_ends_with_the_run_of_its_recommendation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY)
    out = tmp_path / "p"
    argv = ["plan", str(scenario), "--out", str(out), "-j", "1", "-r", "2", "--max-replications", "2"]
    assert main([*argv, "--slo", "failed<=50%", "--vary", "endpoint.active_workers=0..1"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert (
        last == f"next: simserve run {out / 'recommended.yaml'}  # the recommended setup: monthly bill, latency, plots"
    )
    assert main(["validate", str(out / "recommended.yaml")]) == 0


def test_compare_prints_numbers_in_the_same_style(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A figure between 10,000 and 100,000 reads 12,346, not 1.235e+04; an error reads +15,655.15%."""
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY.replace("10min", "60s"))
    for name in ("a", "b"):
        assert main(["run", str(scenario), "--out", str(tmp_path / name), "-q", "--no-plots"]) == 0
    doc = json.loads((tmp_path / "b" / "summary.json").read_text())
    a_total = json.loads((tmp_path / "a" / "summary.json").read_text())["cost_usd"]["total"]
    doc["cost_usd"]["total"] = 12345.6
    (tmp_path / "b" / "summary.json").write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    row = next(ln for ln in capsys.readouterr().out.splitlines() if "cost_usd.total" in ln)
    assert "12,346" in row and "e+0" not in row, row
    assert f"{100 * (12345.6 - a_total) / a_total:+,.2f}%" in row, row
