"""The live view's bill and the journal read the recorder's intervals only after its pending busy/warm flips
are written (``Recorder.settle``): a flip is a row not yet in ``rec.iv``. The live executor does not make
flips today (only the simulator's fast path does); this keeps the two readers right if it ever does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import simserve
from simserve.live.journal import EVENTS_FILE, JOURNAL_DIR, Journal
from simserve.live.view import LiveStats
from simserve.sim.driver import SimDriver
from simserve.sim.hotloop import run_hot

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def midway() -> SimDriver:
    """A run stopped halfway through its hot loop, so its workers hold flips not yet written as rows."""
    sc = simserve.load_scenario(str(ROOT / "scenarios" / "quickstart.yaml"), {"horizon": "20m"})
    d = SimDriver(sc, 1)
    d.core.start(0.0)
    d.env.carry(0.0)
    run_hot(d.env, d.core, d.core.arr, sc.horizon / 2)
    assert any(w.nflips > 1 for w in d.core.workers), "no flip pending: the test would prove nothing"
    return d


def test_the_live_bill_includes_pending_flips(midway: SimDriver) -> None:
    rec = midway.rec
    rows_before = len(rec.iv) // 6
    stats = LiveStats(midway.sc, rec)
    billed = stats.cost_usd([])
    assert len(rec.iv) // 6 > rows_before  # the flips became rows
    assert stats._rows_billed == len(rec.iv) // 6  # and every one was billed
    assert billed > 0
    # the same bill as a view that starts after the rows are written
    assert LiveStats(midway.sc, rec).cost_usd([]) == pytest.approx(billed, rel=1e-12)


def test_the_journal_writes_pending_flips(midway: SimDriver, tmp_path: Path) -> None:
    rec = midway.rec
    pending = sum(w.nflips - 1 for w in midway.core.workers)  # at most one row each (none of no length)
    rows_before = len(rec.iv) // 6
    journal = Journal(tmp_path, {"scenario": "quickstart"})
    journal.flush(600.0, rec, 0, None)
    journal.close()
    line = json.loads((tmp_path / JOURNAL_DIR / EVENTS_FILE).read_text().splitlines()[-1])
    written = len(line["iv"]) // 6
    assert rows_before < written <= rows_before + pending
    assert written == len(rec.iv) // 6  # every row, the flips' included
