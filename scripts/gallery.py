"""The docs' scenario library (docs/scenarios.md): headline figures and one plot per example scenario.

A developer tool, not part of the package. Owns ``gallery_markdown`` (simulate each
``scenarios/*.yaml`` at its own settings, write one PNG per scenario under ``docs/img/`` and
return the markdown) and ``update_readme``, which replaces only the text between
``<!-- scenarios:start -->`` and ``<!-- scenarios:end -->``. Regenerate with
``python -m scripts.gallery`` (or ``python scripts/gallery.py``) from the repository root.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

START, END = "<!-- scenarios:start -->", "<!-- scenarios:end -->"

#: which plot tells each scenario's story best (default: the queue / workers / arrivals chart)
PLOT_FOR: dict[str, str] = {
    "quickstart": "latency_cdf",
    "trace-replay": "worker_timeline",
    "flex-vs-active": "cost_by_state",
    "lambda-style": "worker_timeline",
    "rolling-update": "worker_timeline",
    "crash-loop": "worker_timeline",
    "busy-market": "worker_timeline",
    "llm-azure-conv": "ttft_tpot",
}


def header_comment(path: Path) -> tuple[str, str]:
    """The ``# Covers:`` and ``# Scenario:`` texts of a scenario file (joined continuation lines)."""
    parts: dict[str, list[str]] = {"covers": [], "scenario": []}
    key = None
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        text = line.lstrip("#").strip()
        m = re.match(r"(Covers|Scenario):\s*(.*)", text)
        if m:
            key = m.group(1).lower()
            text = m.group(2)
        if key:
            parts[key].append(text)
    return " ".join(parts["covers"]).strip(), " ".join(parts["scenario"]).strip()


def gallery_markdown(scenario_dir: Path, img_dir: Path, repo_root: Path) -> str:
    """Simulate every scenario in ``scenario_dir``, write its plot into ``img_dir``, return markdown."""
    from simserve.api import simulate
    from simserve.report import PLOTS, ttft_tpot
    from simserve.scenario import load_scenario
    from simserve.units import HOURS_PER_MONTH

    img_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        "## Scenario library",
        "",
        "Each file in `scenarios/` is documentation, a test input and a CLI example. Figures below are",
        "one run at the file's own settings (`simserve run scenarios/NAME.yaml`); regenerate this",
        "section with `python -m scripts.gallery`.",
        "",
        "| scenario | p95 latency | cold-start requests | cost/hour |",
        "|---|---|---|---|",
    ]
    sections = []
    for path in sorted(scenario_dir.glob("*.yaml")):
        sc = load_scenario(path)
        if sc.horizon > GALLERY_MAX_HORIZON_S:  # a month-long file: its first days stand for it here
            sc = load_scenario(path, {"horizon": GALLERY_MAX_HORIZON_S})
        r = simulate(sc)
        s = r.summary
        p95 = s["latency_s"]["p95"]
        figures = (
            f"{p95:,.1f} s" if p95 is not None else "-",
            f"{100 * s['cold_start']['fraction']:.1f}%",
            f"${s['cost_usd']['per_hour']:,.2f}",
        )
        lines.append(f"| [{path.stem}](#{path.stem}) | " + " | ".join(figures) + " |")
        plot = PLOT_FOR.get(path.stem, "queue_timeline")
        img = img_dir / f"{path.stem}.png"
        {**PLOTS, "ttft_tpot": ttft_tpot}[plot](r).savefig(img, dpi=70)
        covers, scenario = header_comment(path)
        sections += [
            f"### {path.stem}",
            "",
            f"`scenarios/{path.name}`: {covers}" if covers else f"`scenarios/{path.name}`",
            "",
        ]
        if scenario:
            sections += [scenario[:1].upper() + scenario[1:], ""]
        sections += [
            f"p95 {figures[0]} · {figures[1]} of requests waited on a cold start · {figures[2]}/hour "
            f"(${s['cost_usd']['per_hour'] * HOURS_PER_MONTH:,.0f}/month at this traffic) · "
            f"{s['requests']['arrived']:,} requests in {s['horizon_s'] / 3600:g} h",
            "",
            f"![{path.stem}: {plot.replace('_', ' ')}]({img.relative_to(repo_root).as_posix()})",
            "",
        ]
    return "\n".join([*lines, "", *sections])


#: scenarios longer than this are shown over their first days (the whole run: `simserve run FILE --tables none`)
GALLERY_MAX_HORIZON_S = 2 * 86400.0


def update_readme(readme: Path, markdown: str) -> None:
    """Replace the text between the scenario markers of ``readme`` with ``markdown``."""
    text = readme.read_text()
    if START not in text or END not in text:
        raise ValueError(f"{readme}: markers {START} / {END} not found")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{markdown.rstrip()}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - a maintenance script
    root = Path(argv[0] if argv else ".").resolve()
    md = gallery_markdown(root / "scenarios", root / "docs" / "img", root / "docs")
    update_readme(root / "docs" / "scenarios.md", md)
    print(f"updated {root / 'docs' / 'scenarios.md'}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
