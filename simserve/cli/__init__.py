"""The ``simserve`` command line: a typer app whose commands live one per module.

Owns the app, the error policy (bad input -> one line on stderr and exit 2, never a
traceback: scenario and usage errors, bad run directories and output paths, a file that cannot
be read or written; Ctrl-C -> exit 130 after the command has saved what it had), ``--version``, the
"did you mean" of an unknown command where typer does not give it, help rows without a type for
on/off flags (``_Command``, ``_Group``), and the registration of each command module. Commands are
thin: load, call the library, render with rich (numbers in ``simserve.numfmt``'s one style).
"""

from __future__ import annotations

import difflib
import importlib
import sys
from typing import Any

import typer

from simserve.records import JobsInFlightError
from simserve.scenario import ScenarioError
from simserve.version import __version__


class _Group(typer.core.TyperGroup):
    """The app's group: flags show no ``<bool>`` type in help (``_flags_untyped``)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_untyped(super().get_params(ctx))


class _Command(typer.core.TyperCommand):
    """Every command's class: flags show no ``<bool>`` type in help (``_flags_untyped``)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_untyped(super().get_params(ctx))


def _flags_untyped(params: list[Any]) -> list[Any]:
    """An on/off flag takes no value: no type in its help row (typer >= 0.2x's rich help shows ``<bool>``)."""
    for param in params:
        if getattr(param, "is_flag", False) and not getattr(param, "count", False) and param.metavar is None:
            param.metavar = ""
    return params


app = typer.Typer(
    name="simserve",
    help="Simulate and measure GPU serverless endpoints (Runpod Serverless semantics).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_Group,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"simserve {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_show_version, help="print the version and exit"
    ),
) -> None:
    """Simulate and measure GPU serverless endpoints (Runpod Serverless semantics)."""


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


def _untyped_flags_everywhere(typer_app: typer.Typer) -> None:
    """Give every registered command (and sub-app) the classes that hide ``<bool>`` (``_Command``)."""
    for info in typer_app.registered_commands:
        if info.cls in (None, typer.core.TyperCommand):
            info.cls = _Command
    for group in typer_app.registered_groups:
        if group.cls in (None, typer.core.TyperGroup) or isinstance(group.cls, typer.models.DefaultPlaceholder):
            group.cls = _Group
        if group.typer_instance is not None:
            _untyped_flags_everywhere(group.typer_instance)


_untyped_flags_everywhere(app)


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
    message += _suggest_command(message, ctx)
    path = getattr(ctx, "command_path", None) if ctx is not None else None
    where = f"{path}: " if path else ""
    print(f"error: {where}{' '.join(message.split())}", file=sys.stderr)
    code = getattr(exc, "exit_code", 2)
    return 2 if code in (None, 1) else int(code)


def _suggest_command(message: str, ctx: Any) -> str:
    """`` Did you mean 'run'?`` for an unknown command when typer did not say it already (typer < 0.2x)."""
    if not message.startswith("No such command") or "did you mean" in message.lower() or ctx is None:
        return ""
    bad = message.split("'")[1] if message.count("'") >= 2 else ""
    names = list(getattr(ctx.command, "commands", {}))
    close = difflib.get_close_matches(bad, names, n=2, cutoff=0.6)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
