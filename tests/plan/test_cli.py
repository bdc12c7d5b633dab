"""``simserve plan`` on the command line: a small plan end to end, and bad input -> exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from simserve.cli import main


@pytest.fixture
def tiny_yaml(tiny: dict, tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny, sort_keys=False))
    return path


def test_plan_command_writes_everything(tiny_yaml: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "plan"
    code = main(
        [
            "plan",
            str(tiny_yaml),
            "--slo",
            "latency_p95<=7s",
            "--vary",
            "endpoint.active_workers=0..2",
            "--vary",
            "endpoint.max_workers=2,4",
            "--out",
            str(out),
            "--processes",
            "1",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "recommended" in printed and "runs used" in printed
    doc = json.loads((out / "plan.json").read_text())
    assert doc["recommended"]["overrides"] == {"endpoint.active_workers": 2, "endpoint.max_workers": 4}
    assert doc["runs_used"] <= doc["full_grid_runs"] * 2 and doc["spec"]["slo"] == ["latency_p95<=7s"]
    assert {"plan.csv", "plan.json", "recommended.yaml", "pareto.png"} <= {p.name for p in out.iterdir()}
    assert main(["validate", str(out / "recommended.yaml")]) == 0


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--slo", "latency_p95<8x"], "--slo 'latency_p95<8x': expected a duration"),
        (["--slo", "p95 under 8s"], "--slo 'p95 under 8s': expected NAME<=VALUE"),
        (["--slo", "latency_p42<=8s"], "unknown figure 'latency_p42'"),
        (["--vary", "endpoint.max_workers"], "--vary 'endpoint.max_workers': expected dotted.key=VALUES"),
        (["--vary", "endpoint.max_workers=5..3"], "empty range"),
        (["--vary", "endpoint.max_wrkers=3,5"], "--vary endpoint.max_wrkers: not a scenario field"),
        (["--replications", "1"], "--replications 1: expected 2 or more"),
        (["--search", "random"], "--search 'random': expected smart or grid"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tiny_yaml: Path, tmp_path: Path, capsys, args: list[str], fragment: str
) -> None:
    code = main(["plan", str(tiny_yaml), "--out", str(tmp_path / "x"), "--processes", "1", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert fragment in err
    assert err.strip().count("\n") == 0 and "Traceback" not in err


def test_nothing_to_search_is_a_usage_error(tiny: dict, tmp_path: Path, capsys) -> None:
    del tiny["plan"]
    path = tmp_path / "noplan.yaml"
    path.write_text(yaml.safe_dump(tiny))
    assert main(["plan", str(path), "--slo", "latency_p95<=8s", "--out", str(tmp_path / "x")]) == 2
    assert "nothing to search" in capsys.readouterr().err
