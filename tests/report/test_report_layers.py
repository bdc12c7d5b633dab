"""Layering: reports draw data and never simulate; the scenario schema sits below the planner."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "simserve"


def imported_modules(path: Path) -> set[str]:
    """Every module a source file imports (top level or inside functions), absolute names."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _under(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == r or name.startswith(r + ".") for r in roots)


SIMULATING = (
    "simserve.api",
    "simserve.sim",
    "simserve.live",
    "simserve.results.replicate",
    "simserve.parallel",
    "simserve.plan",
    "simserve.simulate",
)


@pytest.mark.parametrize("path", sorted((PKG / "report").glob("*.py")), ids=lambda p: p.name)
def test_report_modules_do_not_simulate(path: Path):
    bad = sorted(n for n in imported_modules(path) if _under(n, SIMULATING))
    assert not bad, f"{path.name} imports {bad}"
