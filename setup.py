"""Build the simulator's compiled fast path where it can: ``sim/hotloop.py`` and ``endpoint/workers.py``,
compiled by Cython from the same source (types in the ``.pxd`` files beside them).

The pure-Python modules are the reference and stay importable as they are: without Cython or a C compiler,
or with ``SIMSERVE_PURE=1`` at install time, nothing is compiled and simserve runs the same code
interpreted (the tables are the same byte for byte: ``tests/sim/test_compiled.py``). A failed compile is a
warning, never a failed install. Everything else is in ``pyproject.toml``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

COMPILED = ["simserve/endpoint/workers.py", "simserve/sim/timeheap.py", "simserve/sim/hotloop.py"]


class OptionalBuildExt(build_ext):
    """``build_ext`` whose failure (no compiler, no headers) leaves the pure-Python modules in use; the
    modules compile in parallel, one per core."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any failure to compile means: run interpreted
            print(f"simserve: not compiled ({exc}); the pure-Python modules run instead", file=sys.stderr)

    def build_extension(self, ext: Any) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            print(f"simserve: {ext.name} not compiled ({exc}); its pure-Python module runs instead", file=sys.stderr)


def extensions() -> list[Any]:
    # an editable install compiles into the tree, where Python imports a module's .so before its .py: any
    # left from an earlier install go first, so a pure or failed build leaves the pure modules in use
    here = Path(__file__).resolve().parent
    for module in COMPILED:
        for built in here.glob(module.removesuffix(".py") + ".*.so"):
            built.unlink()
    if os.environ.get("SIMSERVE_PURE"):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("simserve: Cython not found; the pure-Python modules run", file=sys.stderr)
        return []
    try:
        return list(
            cythonize(
                COMPILED,
                compiler_directives={"language_level": 3, "boundscheck": False, "annotation_typing": False},
                quiet=True,
            )
        )
    except Exception as exc:  # noqa: BLE001 - a module Cython cannot translate: run them all interpreted
        print(f"simserve: not compiled (Cython: {exc}); the pure-Python modules run", file=sys.stderr)
        return []


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
