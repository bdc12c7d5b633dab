"""The package's architecture, checked from the source: no import circles, no import from a lower layer
to a higher one, and the pure layers free of simulation and wall-clock machinery.

Every ``import`` and ``from ... import`` of a simserve module counts, including those under
``if TYPE_CHECKING:`` and inside functions: a circle of type-only imports is still a circle for a
reader. Layers are listed bottom-up (DESIGN.md, "Layers"); a module may import its own layer and those
below it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "simserve"

#: bottom-up; each entry is a set of top-level names under simserve (modules or packages)
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(names.split())
    for names in (
        "version units numfmt limits inputs rng safe_yaml catalog llm_catalog dists planspec interrupts parallel"
        " memhint",
        "records billing",
        "traceformats",
        "scenario",
        "workload checks",
        "policy",
        "endpoint",
        "sim",
        "results",
        "api",
        "live",
        "serve",
        "calibrate report plan",
        "compare",
        "cli __init__ __main__",
    )
)
#: pure decision layers: no event loop, no simulation kernel, no clock (DESIGN.md)
PURE = ("policy", "endpoint")
NOT_IN_PURE = ("simpy", "asyncio", "time", "datetime", "threading", "simserve.sim", "simserve.live")


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def imports_of(name: str) -> Iterator[str]:
    """Every module ``name`` imports (simserve submodules resolved to the module, not its package)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join([*base, *([node.module] if node.module else [])])
            else:
                mod = node.module or ""
            for a in node.names:
                yield f"{mod}.{a.name}" if f"{mod}.{a.name}" in MODULES else mod


def graph() -> dict[str, set[str]]:
    return {m: {i for i in imports_of(m) if i in MODULES and i != m} for m in MODULES}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(g):
        if root in index:
            continue
        work = [(root, iter(sorted(g[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(g[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def layer_of(name: str) -> int:
    top = name.split(".")[1] if "." in name else "__init__"
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"{name}: top-level name {top!r} is in no layer of LAYERS; add it where it belongs")


def test_cycle_finder_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles() -> None:
    assert cycles(graph()) == []


def test_every_module_has_a_layer() -> None:
    for name in MODULES:
        layer_of(name)


def test_no_import_from_a_lower_layer_to_a_higher_one() -> None:
    upward = sorted(
        f"{m} (layer {layer_of(m)}) imports {i} (layer {layer_of(i)})"
        for m, deps in graph().items()
        for i in deps
        if layer_of(i) > layer_of(m)
    )
    assert upward == []


@pytest.mark.parametrize("package", PURE)
def test_pure_layers_import_no_loop_kernel_or_clock(package: str) -> None:
    bad = sorted(
        f"{m} imports {i}"
        for m in MODULES
        if m.startswith(f"simserve.{package}")
        for i in imports_of(m)
        if any(i == n or i.startswith(n + ".") for n in NOT_IN_PURE)
    )
    assert bad == []


def test_every_module_says_what_it_owns() -> None:
    missing = sorted(
        m for m, p in MODULES.items() if ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) is None
    )
    assert missing == []
