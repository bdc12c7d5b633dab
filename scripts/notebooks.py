"""The notebooks with their outputs stored: run them top to bottom and keep what they showed.

A developer tool, not part of the package. Owns ``execute`` (a notebook run by nbclient on a real Python
kernel, in ``notebooks/``, without timing metadata) and ``text_outputs`` (what a notebook printed and showed
as text, cell by cell: the part of its outputs that must not change between runs, since every simulation in
them is seeded; pictures are left out, their bytes move with matplotlib's version).
``python -m scripts.notebooks`` re-executes every notebook and writes it back with its outputs, so a
newcomer opens them with the figures already there; ``tests/report/test_report_notebooks.py`` re-executes
them and checks that the stored text outputs are what a run gives now.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def execute(path: Path, timeout_s: int = 240) -> Any:
    """The notebook at ``path`` after a run top to bottom (its working directory: the notebook's own)."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=timeout_s,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    return nb


def text_outputs(nb: Any) -> list[list[str]]:
    """Each code cell's outputs as text: streams, plain-text results and errors (not pictures)."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        texts = []
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "stream":
                texts.append(f"{out.get('name')}: {out.get('text', '')}")
            elif kind == "error":
                texts.append(f"error: {out.get('ename')}: {out.get('evalue')}")
            elif kind in ("execute_result", "display_data"):
                data = out.get("data", {})
                if "image/png" not in data and "text/plain" in data:
                    texts.append(f"{kind}: {data['text/plain']}")
        cells.append(texts)
    return cells


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - a maintenance script
    import nbformat

    names = argv or sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    for name in names:
        path = NOTEBOOKS / name
        nb = execute(path)
        nbformat.write(nb, path)
        print(f"wrote {path} with its outputs")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
