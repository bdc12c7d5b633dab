"""Command-line usage errors: exit 2 and one line on stderr, never a traceback (whatever typer vendors)."""

from __future__ import annotations

import pytest

from simserve.cli import main

Q = "scenarios/quickstart.yaml"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["bogus"], "No such command 'bogus'"),
        (["--nope"], "No such option: --nope"),
        (["run"], "Missing argument 'scenario'"),
        (["run", Q, "--seed", "abc"], "'--seed'"),
        (["run", Q, "--seed", "-1"], "'--seed'"),
        (["run", Q, "--replications", "0"], "'--replications'"),
        (["live", Q, "--speed", "0"], "'--speed'"),
        (["plan", Q, "--seed", "x"], "'--seed'"),
    ],
)
def test_usage_error_is_one_line_and_exit_2(args: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and says in err
    assert len(err.splitlines()) == 1
    assert "Traceback" not in err


def test_no_command_shows_the_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    cap = capsys.readouterr()
    shown = cap.out + cap.err  # typer's rich help goes to its own console
    assert "Usage" in shown and "run" in shown and "Traceback" not in shown
