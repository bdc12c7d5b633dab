"""The ``simserve`` command line: a typer app whose commands live one per module.

Owns the app, the error policy (bad input -> one line on stderr and exit 2, never a
traceback: scenario and usage errors, bad run directories and output paths, a file that cannot
be read or written; Ctrl-C -> exit 130 after the command has saved what it had) and the registration
of each command module. Commands are thin: load, call the library, render with rich.
"""

from __future__ import annotations

import importlib
import sys

import typer

from simserve.records import JobsInFlightError
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
_COMMAND_MODULES = ("run", "report", "plan", "live", "serve", "compare", "images", "recover")
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
            if rc == 0 and _names_only_groups(sys.argv[1:] if argv is None else argv):
                return 2  # click < 8.2 shows a group's help for no command with exit 0; no command is a usage error
            return rc
    except (ScenarioError, UsageError, JobsInFlightError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:  # a socket, a subprocess: not bad input
            raise
        print(f"error: {_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except Exception as exc:  # click's usage errors and aborts, from click or typer's vendored copy
        if _is_outputs_error(exc):  # a bad run directory or output path
            print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
            return 2
        clicks, aborts = _click_classes()
        if isinstance(exc, aborts):
            print("interrupted", file=sys.stderr)
            return 130
        if isinstance(exc, clicks):
            return _usage(exc)
        raise
    return 0


def _names_only_groups(args: list[str]) -> bool:
    """Whether ``args`` are only command-group names (``[]``, ``images``): no command was given."""
    command: object = typer.main.get_command(app)
    for arg in args:
        command = getattr(command, "commands", {}).get(arg)
        if command is None:
            return False
    return hasattr(command, "commands")


def _is_outputs_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a ``simserve.results.outputs.OutputsError`` (without importing pandas to ask)."""
    outputs = sys.modules.get("simserve.results.outputs")
    return outputs is not None and isinstance(exc, outputs.OutputsError)


def _os_error(exc: OSError) -> str:
    """One line for a file-system error: the file(s), then what went wrong."""
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    if not names:  # raised with a message of its own, e.g. FileNotFoundError("handler file not found: x")
        return " ".join(str(exc).split())
    return " ".join(f"{' -> '.join(names)}: {exc.strerror or type(exc).__name__}".split())


def _click_classes() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """``(ClickException classes, Abort classes)`` of click and of the copy typer >= 0.20 vendors."""
    import importlib

    clicks: list[type[BaseException]] = []
    aborts: list[type[BaseException]] = []
    for errors, abort in (("click.exceptions", "click.exceptions"), ("typer._click.exceptions", "typer.exceptions")):
        try:
            clicks.append(importlib.import_module(errors).ClickException)
            aborts.append(importlib.import_module(abort).Abort)
        except (ImportError, AttributeError):
            continue
    return tuple(clicks), tuple(aborts)


def _usage(exc: BaseException) -> int:
    """A command-line usage error: one line on stderr and exit 2 (the help when no command was given)."""
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
        print(ctx.get_help(), file=sys.stderr)
        return 2
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)  # type: ignore[union-attr]
    path = getattr(ctx, "command_path", None) if ctx is not None else None
    where = f"{path}: " if path else ""
    print(f"error: {where}{' '.join(message.split())}", file=sys.stderr)
    code = getattr(exc, "exit_code", 2)
    return 2 if code in (None, 1) else int(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
