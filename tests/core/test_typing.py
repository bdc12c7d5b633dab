"""The pure layers type-check under ``mypy --strict`` (STYLE.md 3.4)."""

from __future__ import annotations

import pytest

STRICT = ["simserve/policy", "simserve/endpoint.py", "simserve/billing.py", "simserve/scenario.py",
          "simserve/rng.py", "simserve/units.py", "simserve/catalog.py"]


def test_pure_layers_are_strictly_typed() -> None:
    api = pytest.importorskip("mypy.api")
    out, err, status = api.run(["--strict", "--follow-imports=silent", "--no-incremental", *STRICT])
    assert status == 0, out + err


def test_policy_layer_imports_no_clock_or_engine() -> None:
    """The policy layer never imports simpy, asyncio or the clock."""
    import ast
    from pathlib import Path

    banned = {"simpy", "asyncio", "time", "random", "datetime"}
    for path in list(Path("simserve/policy").glob("*.py")) + [Path("simserve/endpoint.py")]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert name.split(".")[0] not in banned, f"{path} imports {name}"
