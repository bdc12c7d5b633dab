"""``simserve serve`` started for a benchmark: the process and its endpoint's base URL, read from the lines it
prints when it is up (shared by bench_serve.py and serve_openai_load.py; run them from the checkout)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def launch(cmd: list[str], cwd: Path) -> tuple[subprocess.Popen[str], str]:
    """Start ``cmd`` (a ``simserve serve`` command line) and wait for its ``endpoint`` and ``dashboard``
    lines; the process and the endpoint's base URL (``http://127.0.0.1:PORT/v2/local``)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd)
    assert proc.stdout is not None
    base = ""
    for line in proc.stdout:
        if line.startswith("endpoint "):
            base = line.split()[1]
        if line.startswith("dashboard "):
            break
    if not base:
        raise SystemExit("simserve serve did not start:\n" + (proc.stdout.read() or ""))
    return proc, base
