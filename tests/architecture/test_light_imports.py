"""Processes that must start fast import no heavy library.

The reaper (``python -m simserve.live.reaper``) starts with every live and serve run and the run's
normal end waits for it to exit: importing pandas and scipy through ``simserve/__init__`` cost it
~1.5 s of CPU on an idle 2-core machine and 3 s or more under load. A fresh interpreter per check,
so nothing the test session imported counts.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("numpy", "pandas", "scipy", "pyarrow", "matplotlib", "simpy", "pydantic")


@pytest.mark.parametrize("module", ["simserve", "simserve.live.reaper", "simserve.live.procs"])
def test_light_entry_points_import_no_heavy_library(module: str) -> None:
    code = f"import sys, {module}; print(' '.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == ""


def test_the_public_names_still_resolve() -> None:
    code = (
        "import simserve; from simserve import simulate, load_scenario, RunResult, Scenario, ScenarioError;"
        " print(simulate.__module__, load_scenario.__module__, RunResult.__name__, simserve.__version__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.split()[:3] == ["simserve.api", "simserve.scenario.loading", "RunResult"]


def test_one_run_imports_no_scipy() -> None:
    """One run needs no confidence interval, fit or optimiser: scipy.stats alone took ~1 s of
    ``simserve run scenarios/quickstart.yaml`` (3.3 s -> 2.3 s without it)."""
    code = (
        "import sys, simserve; simserve.simulate('scenarios/quickstart.yaml', overrides={'horizon': 60});"
        " print(sorted(m for m in sys.modules if m == 'scipy' or m.startswith('scipy.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "[]"
