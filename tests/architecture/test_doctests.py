"""The ``>>>`` examples in the package's docstrings run, and give what they show.

Every module whose source holds an example is found from the files (a new one is picked up without
editing this test) and run with ``doctest``; a module with examples that ran none would be a test
that cannot fail, so at least one example must run per module.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "simserve"
WITH_EXAMPLES = sorted(
    ".".join(p.relative_to(PKG.parent).with_suffix("").parts)
    for p in PKG.rglob("*.py")
    if ">>> " in p.read_text(encoding="utf-8")
)


def test_examples_are_found() -> None:
    assert "simserve.units" in WITH_EXAMPLES


@pytest.mark.parametrize("module", WITH_EXAMPLES)
def test_docstring_examples(module: str) -> None:
    mod = importlib.import_module(module.removesuffix(".__init__"))
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0, f"{module} has '>>> ' in its source but no example ran"
    assert result.failed == 0
