"""report.html shows the run's warnings in a box near the top; a run without warnings has no box."""

from __future__ import annotations

import pytest

import simserve
import simserve.report
from simserve.report.html import render_report

QUICK = "scenarios/quickstart.yaml"


def test_report_shows_the_warnings_box(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simserve.report, "PLOTS", {})  # the page's text is under test, not its figures
    capped = {"horizon": "5min", "endpoint.max_workers": 60, "endpoint.account_balance_usd": 150}
    page = render_report(simserve.simulate(QUICK, overrides=capped))
    box = page.index("<div class='warnings'")
    assert box < page.index("<div class='cards'>") < page.index("<h2>")  # above the figures
    assert (
        "endpoint.max_workers: 60 asked, 10 granted by account_balance_usd=$150 "
        "(the platform&#x27;s balance table; $900+ grants 60)</li>" in page
    )
    plain = render_report(simserve.simulate(QUICK, overrides={"horizon": "5min"}))
    assert "class='warnings'" not in plain
