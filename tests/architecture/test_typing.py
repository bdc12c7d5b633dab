"""The pure layers type-check under ``mypy --strict`` (STYLE.md 3.4)."""

from __future__ import annotations

import pytest

STRICT = [
    "simserve.policy.*",
    "simserve.endpoint.*",
    "simserve.billing",
    "simserve.scenario",
    "simserve.rng",
    "simserve.units",
    "simserve.catalog",
    "simserve.traceformats",
    "simserve.llm_catalog",
]


def test_pure_layers_are_strictly_typed_by_the_one_mypy_run() -> None:
    """``scripts/test.sh`` runs ``mypy simserve`` once; pyproject.toml turns on every flag of ``mypy --strict``
    (as this mypy defines it) for the pure layers there, so they are checked strictly in that run."""
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml")
    main = pytest.importorskip("mypy.main")
    _, _, assignments = main.define_options()
    config = tomllib.loads(Path("pyproject.toml").read_text())["tool"]["mypy"]
    strict = next(o for o in config["overrides"] if set(STRICT) <= set(o["module"]))
    for flag, value in assignments:
        if flag == "warn_redundant_casts":  # global only
            assert config.get(flag) is value
        elif flag == "implicit_reexport":
            assert strict.get("no_implicit_reexport") is (not value)
        else:
            assert strict.get(flag) is value, f"{flag} = {value} missing for the strict modules"
    assert "mypy simserve" in Path("scripts/test.sh").read_text()


def test_policy_layer_imports_no_clock_or_engine() -> None:
    """The policy layer and the endpoint core never import simpy, asyncio or the clock."""
    import ast
    from pathlib import Path

    banned = {"simpy", "asyncio", "time", "random", "datetime"}
    for path in list(Path("simserve/policy").glob("*.py")) + list(Path("simserve/endpoint").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert name.split(".")[0] not in banned, f"{path} imports {name}"


def test_only_the_kernel_touches_simpy_internals() -> None:
    """SimPy's private names (``_queue``, ``_eid``, ``_now``) appear in ``sim/kernel.py`` only."""
    import re
    from pathlib import Path

    private = re.compile(r"\._(queue|eid|now)\b")
    offenders = [
        str(p)
        for p in Path("simserve").rglob("*.py")
        if p.as_posix() != "simserve/sim/kernel.py" and private.search(p.read_text())
    ]
    assert offenders == []


def test_no_import_cycles() -> None:
    """Module-level imports inside the package form no cycle (TYPE_CHECKING imports are ignored)."""
    import ast
    from pathlib import Path

    graph: dict[str, set[str]] = {}
    for path in Path("simserve").rglob("*.py"):
        mod = ".".join(path.with_suffix("").parts).removesuffix(".__init__")
        deps: set[str] = set()
        for node in ast.parse(path.read_text()).body:  # top level only: imports inside functions are deferred
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("simserve"):
                subs = {f"{node.module}.{a.name}" for a in node.names}  # `from simserve import catalog`
                known = {
                    s for s in subs if Path(*s.split(".")).with_suffix(".py").exists() or Path(*s.split(".")).is_dir()
                }
                deps.update(known or {node.module})
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("simserve"))
        graph[mod] = deps

    def resolve(name: str) -> str | None:
        return name if name in graph else None

    state: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for d in graph.get(m, ()):
            r = resolve(d)
            if r is None:
                continue
            if state.get(r) == 1:
                raise AssertionError(" -> ".join([*stack, m, r]))
            if r not in state:
                visit(r, [*stack, m])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
