"""Checks ``simserve live`` makes before any worker starts: the optional packages the run needs.

Owns ``missing_extra``: a Runpod-SDK handler (one that calls ``runpod.serverless.start`` or
imports ``runpod``) needs the ``runpod`` package importable by the interpreter that runs the
workers (checked by importing it there, with the workers' environment and working directory,
so a broken install counts as missing too); ``--runtime docker|podman`` needs the ``docker``
Python SDK in this process (the runtime talks to the engine from here). Each problem comes back
as one line naming the package and how to install it (``pip install 'simserve[live]'``, the
extra in ``pyproject.toml``), for the command line to turn into exit 2. No printing, no policy.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

#: the pyproject extra that carries the live executor's optional packages
LIVE_EXTRA = "live"
#: a check that takes longer than this is given up (the run goes on; a real failure shows at start)
IMPORT_CHECK_TIMEOUT_S = 120.0

_IMPORTS_RUNPOD = re.compile(r"^\s*(import\s+runpod\b|from\s+runpod\b)", re.MULTILINE)


def install_hint(package: str) -> str:
    """How to install ``package``: the simserve extra first, the bare package second."""
    return f"pip install 'simserve[{LIVE_EXTRA}]' (or pip install {package})"


def needs_runpod(handler: Path, protocol: str) -> bool:
    """Whether the handler file needs the ``runpod`` package: the runpod protocol, or it imports it."""
    if protocol == "runpod":
        return True
    try:
        text = handler.read_text(errors="replace")
    except OSError:
        return False
    return bool(_IMPORTS_RUNPOD.search(text))


def import_error(
    module: str,
    python: str = sys.executable,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout_s: float = IMPORT_CHECK_TIMEOUT_S,
) -> str:
    """'' when ``python`` can import ``module``, else the error's last line (``ModuleNotFoundError: ...``)."""
    try:
        done = subprocess.run(
            [python, "-c", f"import {module}"],
            env=dict(os.environ if env is None else env),
            cwd=str(cwd) if cwd is not None else None,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return ""  # slow, not missing: the workers will tell
    except OSError as exc:
        return f"cannot run {python}: {exc}"
    if done.returncode == 0:
        return ""
    lines = [ln.strip() for ln in done.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit code {done.returncode}"


def sdk_error(module: str) -> str:
    """'' when ``module`` imports in this process, else the error as one line."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


def missing_extra(handler: Path, protocol: str, runtime: str, env: Mapping[str, str] | None = None) -> str:
    """The first optional package the run cannot do without, as one line ('' when all are there).

    ``protocol`` is the resolved one (``native`` or ``runpod``); ``runtime`` the ``--runtime`` name.
    """
    if runtime in ("docker", "podman"):
        err = sdk_error("docker")
        if err:
            return (
                f"--runtime {runtime} needs the docker Python SDK, which cannot be imported ({err}): "
                f"{install_hint('docker')}"
            )
    if needs_runpod(handler, protocol):
        err = import_error("runpod", env=env, cwd=handler.resolve().parent)
        if err:
            return (
                f"{handler} is a Runpod SDK handler but the runpod package cannot be imported by the "
                f"workers' interpreter {sys.executable} ({err}): {install_hint('runpod')}"
            )
    return ""
