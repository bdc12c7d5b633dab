"""The compiled fast path and the pure-Python modules it is compiled from give the same tables.

``setup.py`` compiles ``sim/hotloop.py``, ``sim/timeheap.py`` and ``endpoint/workers.py`` with Cython where
it can (types in the ``.pxd`` files beside them); without a compiler the same modules run interpreted. Each
side runs in its own process here, the pure one from a copy of the package without the compiled files, on
scenarios that take the fast path (scalers, flex and active workers, queues, faults and retries, a rolling
update), and every table and the summary must match byte for byte. The hot loop's own property test
(``test_hotloop.py``) checks whichever of the two is installed against the core's methods.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import simserve
from simserve.endpoint import workers
from simserve.sim import hotloop, timeheap

REPO = Path(__file__).resolve().parents[2]
PKG = Path(simserve.__file__).resolve().parent
MODULES = (hotloop, timeheap, workers)
SCENARIOS = (
    ("quickstart.yaml", {"horizon": "20m"}),
    ("lambda-style.yaml", {"horizon": "30m"}),
    ("flex-vs-active.yaml", {"horizon": "20m"}),
    ("crash-loop.yaml", {"horizon": "20m"}),
    ("rolling-update.yaml", {"horizon": "20m"}),
    ("imagegen-bursty.yaml", {"horizon": "20m"}),
)
RUN = """
import json, sys
from pathlib import Path
import simserve
from simserve.sim import hotloop
out, repo, want = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
assert hotloop.__file__.endswith(".py") == (want == "pure"), hotloop.__file__
for i, (name, over) in enumerate(json.loads(sys.argv[4])):
    for seed in (1, 2):
        r = simserve.simulate(str(repo / "scenarios" / name), seed=seed, overrides=over)
        stem = out / f"{i}-{seed}"
        r.jobs.to_csv(f"{stem}-jobs.csv", index=False)
        r.workers.to_csv(f"{stem}-workers.csv", index=False)
        r.actions.to_csv(f"{stem}-actions.csv", index=False)
        r.minutes.to_csv(f"{stem}-minutes.csv", index=False)
        Path(f"{stem}-summary.json").write_text(json.dumps(r.summary, sort_keys=True, default=str))
"""


def is_compiled(module: object) -> bool:
    return not str(getattr(module, "__file__", "")).endswith(".py")


def test_a_machine_with_a_c_compiler_runs_the_compiled_modules() -> None:
    """On a machine that can compile (CI's included) the install compiled both modules, and they are
    no older than the sources they were compiled from (an editable install recompiles at `pip install -e .`)."""
    if os.environ.get("SIMSERVE_PURE") or shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.skip("no C compiler, or SIMSERVE_PURE set: the pure-Python modules run")
    for module in MODULES:
        assert is_compiled(module), f"{module.__name__} runs interpreted: run `pip install -e .` to compile it"
        source = Path(str(module.__file__)).with_name(module.__name__.rpartition(".")[2] + ".py")
        built = Path(str(module.__file__)).stat().st_mtime
        for src in (source, source.with_suffix(".pxd")):
            assert src.stat().st_mtime <= built, f"{src} changed after it was compiled: run `pip install -e .`"


def test_pure_and_compiled_modules_give_the_same_tables(tmp_path: Path) -> None:
    if not all(is_compiled(m) for m in MODULES):
        pytest.skip("the modules are not compiled here: only the pure-Python ones run")
    import json

    pure_root = tmp_path / "pure-package"
    shutil.copytree(PKG, pure_root / "simserve", ignore=shutil.ignore_patterns("*.so", "*.c", "__pycache__"))
    outs = {}
    for side, root in (("pure", pure_root), ("compiled", PKG.parent)):
        out = tmp_path / f"{side}-tables"
        out.mkdir()
        subprocess.run(
            [sys.executable, "-c", RUN, str(out), str(REPO), side, json.dumps(SCENARIOS)],
            env={**os.environ, "PYTHONPATH": str(root)},
            cwd=tmp_path,
            check=True,
            timeout=240,
        )
        outs[side] = out
    names = sorted(p.name for p in outs["pure"].iterdir())
    assert names == sorted(p.name for p in outs["compiled"].iterdir())
    assert len(names) == 5 * 2 * len(SCENARIOS)
    for name in names:
        assert (outs["pure"] / name).read_bytes() == (outs["compiled"] / name).read_bytes(), name


def test_the_compiled_worker_declares_every_field_of_the_pure_one() -> None:
    """``workers.pxd`` types the fields of ``Worker.__slots__``, all of them and nothing else."""
    import ast
    import re

    source = (PKG / "endpoint" / "workers.py").read_text(encoding="utf-8")
    cls = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ClassDef) and n.name == "Worker")
    slots = next(
        ast.literal_eval(n.value)
        for n in cls.body
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__slots__" for t in n.targets)
    )
    declared = re.findall(r"^\s+cdef public [\w\[\]:]+ (\w+)$", (PKG / "endpoint" / "workers.pxd").read_text(), re.M)
    assert declared == list(slots)


def test_a_worker_pickles_whole_in_either_build() -> None:
    """A worker with pending flips (a typed buffer when compiled, which Cython does not pickle by itself)
    comes back from pickle with every field, its flips and ``since`` included."""
    import pickle

    w = workers.Worker(3, "flex", 7, 1.5)
    for t in (2.0, 2.5, 4.0, 8.0, 9.0, 9.5, 11.0, 12.0, 13.0):  # past the buffer's first capacity
        w.add_flip(t)
    w.idle_since, w.bound = 4.0, [1, 2]
    back = pickle.loads(pickle.dumps(w))  # noqa: S301 - our own bytes, made on the line before
    for name in workers.Worker.__slots__:
        got, want = getattr(back, name), getattr(w, name)
        if name == "flips":
            got, want = list(got)[: w.nflips], list(want)[: w.nflips]
        assert got == want, name
    assert back.since == 13.0 and back.nflips == 10
    back.add_flip(14.0)  # its own buffer
    assert w.nflips == 10 and back.since == 14.0
