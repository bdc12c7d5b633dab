"""`simserve run --report` / `simserve report DIR`: a self-contained page, checked in headless Chromium."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from simserve.cli import main
from simserve.report import PLOTS
from tests.chromium import MISSING, chromium, colour_share, screenshot

IMG = re.compile(r"<img alt='([a-z_\-]+)' src='data:image/png;base64,([A-Za-z0-9+/=]+)'>")


def test_run_report_is_self_contained(quick_run_dir: Path):
    html = (quick_run_dir / "report.html").read_text()
    images = dict(IMG.findall(html))
    assert set(PLOTS) | {"break-even"} == set(images)
    for data in images.values():
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    # no external resources: the only src/href attributes are data: URIs
    assert not re.search(r"(src|href)=['\"](?!data:)", html)
    assert "<h2>Scenario</h2>" in html and "quickstart" in html and "queue_delay" in html
    assert "latency_s.p95" in html and "cost_usd.per_hour" in html
    assert "<th>active_workers</th>" in html
    for stem in PLOTS:
        assert (quick_run_dir / f"{stem}.png").is_file()


def test_report_command_shows_intervals(tmp_path: Path):
    out = tmp_path / "reps"
    root = Path(__file__).resolve().parents[2]
    assert (
        main(
            [
                "run",
                str(root / "scenarios" / "quickstart.yaml"),
                "--out",
                str(out),
                "-q",
                "--no-plots",
                "-r",
                "3",
                "--set",
                "horizon=10min",
            ]
        )
        == 0
    )
    assert main(["report", str(out), "--no-break-even", "--out", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text()
    assert "<th>95% interval</th>" in html and "3 replications" in html
    assert "Break-even" not in html
    row = re.search(r"<td>latency_s\.p95</td><td class='n'>([^<]+)</td><td class='n'>\[([^,]+), ([^\]]+)\]", html)
    assert row, "p95 row with its interval"
    value, lo, hi = (float(x.replace(",", "")) for x in row.groups())
    assert lo <= value <= hi


def test_report_command_rejects_non_run_dir(tmp_path: Path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a run directory" in err[0]


@pytest.mark.skipif(chromium() is None, reason=MISSING)
def test_report_screenshot_in_headless_chromium(quick_run_dir: Path, tmp_path: Path):
    from matplotlib.image import imread

    shot = tmp_path / "shot.png"
    screenshot((quick_run_dir / "report.html").as_uri(), shot, tmp_path / "profile", (1100, 2600))
    assert shot.is_file(), "chromium wrote no screenshot"
    img = imread(shot)[..., :3]  # floats in [0, 1]
    assert img.shape[:2] == (2600, 1100)
    gray = img.mean(axis=2)
    assert (gray < 0.97).mean() > 0.05, "page is mostly blank"
    assert gray.std() > 0.1

    # the plots' own colours are on screen: busy-green bars and the CDF's p95 red
    def share(rgb: tuple[int, int, int]) -> float:
        return colour_share(img, rgb)

    assert share((0x2C, 0xA0, 0x2C)) > 0.002, "no running (busy) green from the cost / timeline plots"
    assert share((0xFF, 0x7F, 0x0E)) > 0.0002, "no initializing orange"
