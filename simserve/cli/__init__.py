"""The ``simserve`` command line: a typer app whose commands live one per module.

Owns the app, the error policy (bad input -> one line on stderr and exit 2, never a
traceback; Ctrl-C -> exit 130 after the command has saved what it had) and the registration
of each command module. Commands are thin: load, call the library, render with rich.
"""

from __future__ import annotations

import importlib
import sys

import typer

from simserve.scenario import ScenarioError

app = typer.Typer(
    name="simserve",
    help="Simulate and measure GPU serverless endpoints (Runpod Serverless semantics).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class UsageError(ValueError):
    """Bad command-line input other than a scenario file (exit code 2)."""


# each module registers its commands on ``app`` when imported
_COMMAND_MODULES = ("run", "report", "plan", "live", "compare", "images")
for _name in _COMMAND_MODULES:
    try:
        importlib.import_module(f"simserve.cli.{_name}")
    except ModuleNotFoundError as _exc:  # a command module not written yet
        if _exc.name != f"simserve.cli.{_name}":
            raise


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app with simserve's exit-code policy."""
    try:
        rc = app(args=argv, standalone_mode=False)
        if isinstance(rc, int):  # typer.Exit(n) comes back as a return value without standalone mode
            if rc == 130:  # typer turns Ctrl-C into Exit(130) silently
                print("interrupted", file=sys.stderr)
            return rc
    except (ScenarioError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except Exception as exc:  # click usage errors and aborts
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return exc.exit_code
        if isinstance(exc, click.exceptions.Abort):
            print("interrupted", file=sys.stderr)
            return 130
        raise
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
